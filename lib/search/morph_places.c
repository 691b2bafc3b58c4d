/* Where the morphism operators may act (morph.h): deeper after any ReLU; wider on a conv whose
   layout group (morph_wider_group) holds only convs and whose new channels stay
   function-preserving; a skip between two ReLUs whose sizes fit (an integer ratio), and for a
   concat only to a target that may take new channels. Found in time near-linear in the nodes,
   where a scan of the whole graph for every candidate took minutes on a 10,000-node chain:
   - whether new channels at some nodes stay function-preserving is asked only of the nodes
     they reach, laid out in index order (reach_check), not of the whole graph;
   - a concat target's answer depends only on the target and the number of channels added, and
     a node whose one reader is channelwise hands new channels on to it unchanged, so that its
     answer is its reader's: answers are kept per node and shared along such chains;
   - a skip target's sources are counted by size (the ReLUs before it, grouped by height,
     width and channels), not one by one, and only the place drawn is looked for among them;
   - wider's layout groups are made once, for every conv together.
   The places and their order are those of trying each operator at each node and each pair of
   nodes (tests/unit/test_morph_places.c checks exactly that). */
#include "search/morph.h"

#include <stdlib.h>
#include <string.h>

#include "search/morph_layout.h"

#define OOM() nash_err(err, NASH_ERR_OOM, "out of memory")

typedef struct PlaceFinder {
	const Graph *g;
	MorphOp op;
	long long *steps;
	int *count;          /* [n] places whose node (a skip's target) is node i */
	int *first, *cons;   /* consumers: cons[first[i] .. first[i+1]) read node i */
	Layout *lay;         /* [n] c_new = c and no map, but for a query's nodes during it */
	int *extra;          /* [n] a query's channels added per node, 0 between queries */
	int *heap, n_heap;   /* [n] nodes a query lays out, smallest index first */
	int *seen, n_seen;   /* [n] nodes queued by the query, to be reset after it */
	unsigned char *queued; /* [n] */
	int *memo_e;         /* [n] a concat's channels added for which memo_ok holds (0: none) */
	signed char *memo_ok;
	int *chain;          /* [n] scratch of concat_ok */
} PlaceFinder;

static void finder_free(PlaceFinder *f)
{
	if (!f)
		return;
	if (f->lay)
		morph_layouts_free(f->lay, f->g->n_nodes);
	free(f->count);
	free(f->first);
	free(f->cons);
	free(f->extra);
	free(f->heap);
	free(f->seen);
	free(f->queued);
	free(f->memo_e);
	free(f->memo_ok);
	free(f->chain);
	free(f);
}

static PlaceFinder *finder_new(const Graph *g, MorphOp op, long long *steps)
{
	int n = g->n_nodes, edges = 0;
	PlaceFinder *f = calloc(1, sizeof *f);
	if (!f)
		return NULL;
	f->g = g;
	f->op = op;
	f->steps = steps;
	for (int i = 0; i < n; i++)
		edges += g->nodes[i].n_inputs;
	size_t m = (size_t)n + 1;
	f->count = calloc(m, sizeof *f->count);
	f->first = calloc(m + 1, sizeof *f->first);
	f->cons = malloc(((size_t)edges + 1) * sizeof *f->cons);
	f->lay = calloc(m, sizeof *f->lay);
	f->extra = calloc(m, sizeof *f->extra);
	f->heap = malloc(m * sizeof *f->heap);
	f->seen = malloc(m * sizeof *f->seen);
	f->queued = calloc(m, 1);
	f->memo_e = calloc(m, sizeof *f->memo_e);
	f->memo_ok = calloc(m, 1);
	f->chain = malloc(m * sizeof *f->chain);
	if (!f->count || !f->first || !f->cons || !f->lay || !f->extra || !f->heap || !f->seen || !f->queued ||
	    !f->memo_e || !f->memo_ok || !f->chain) {
		finder_free(f);
		return NULL;
	}
	/* consumers, by counting: first[i + 1] readers of node i, then their places */
	for (int i = 0; i < n; i++)
		for (int k = 0; k < g->nodes[i].n_inputs; k++)
			f->first[g->nodes[i].inputs[k] + 1]++;
	for (int i = 0; i < n; i++)
		f->first[i + 1] += f->first[i];
	int *at = f->chain; /* scratch: where node i's next reader goes */
	for (int i = 0; i < n; i++)
		at[i] = f->first[i];
	for (int i = 0; i < n; i++)
		for (int k = 0; k < g->nodes[i].n_inputs; k++)
			f->cons[at[g->nodes[i].inputs[k]]++] = i;
	for (int i = 0; i < n; i++)
		f->lay[i].c_new = g->nodes[i].c;
	*steps += n;
	return f;
}

/* The min-heap of a query's nodes. */
static void push(PlaceFinder *f, int x)
{
	if (f->queued[x])
		return;
	f->queued[x] = 1;
	f->seen[f->n_seen++] = x;
	int k = f->n_heap++;
	for (; k > 0 && f->heap[(k - 1) / 2] > x; k = (k - 1) / 2)
		f->heap[k] = f->heap[(k - 1) / 2];
	f->heap[k] = x;
}

static int pop(PlaceFinder *f)
{
	int top = f->heap[0], x = f->heap[--f->n_heap], k = 0;
	for (;;) {
		int c = 2 * k + 1;
		if (c >= f->n_heap)
			break;
		if (c + 1 < f->n_heap && f->heap[c + 1] < f->heap[c])
			c++;
		if (f->heap[c] >= x)
			break;
		f->heap[k] = f->heap[c];
		k = c;
	}
	if (f->n_heap > 0)
		f->heap[k] = x;
	return top;
}

/* Whether e channels appended to each of seeds[n_seeds] can be made function-preserving: what
   morph_ops.c's check_channels answers by laying out every node, asked only of the nodes the
   change reaches. They are laid out in index order, every input before its reader (both inputs
   of an add among them), and a node gets a new layout only from an input that has one. 0 yes,
   1 no, -1 with err. */
static int reach_check(PlaceFinder *f, const int *seeds, int n_seeds, int e, NashErr *err)
{
	const Graph *g = f->g;
	for (int k = 0; k < n_seeds; k++) {
		f->extra[seeds[k]] = e;
		push(f, seeds[k]);
	}
	int rc = 0;
	while (rc == 0 && f->n_heap > 0) {
		int i = pop(f);
		(*f->steps)++;
		rc = morph_layout_of(g, i, f->extra[i], f->lay, err);
		for (int k = f->first[i]; rc == 0 && f->lay[i].map && k < f->first[i + 1]; k++) {
			OpKind op = g->nodes[f->cons[k]].op;
			if (morph_is_channelwise(op) || op == OP_ADD || op == OP_CONCAT || op == OP_FLATTEN)
				push(f, f->cons[k]); /* a conv or dense reader starts a fresh layout */
		}
	}
	for (int k = 0; k < f->n_seen; k++) {
		int x = f->seen[k];
		free(f->lay[x].map);
		f->lay[x].map = NULL;
		f->lay[x].c_new = g->nodes[x].c;
		f->queued[x] = 0;
		f->extra[x] = 0;
	}
	f->n_seen = f->n_heap = 0;
	return rc;
}

/* Node x's one reader when it is channelwise (it hands x's new channels on as they are), or -1. */
static int sole_channelwise_reader(const PlaceFinder *f, int x)
{
	if (f->first[x + 1] - f->first[x] != 1)
		return -1;
	int u = f->cons[f->first[x]];
	return morph_is_channelwise(f->g->nodes[u].op) ? u : -1;
}

/* Whether e channels appended to target j (a skip-concat's) stay function-preserving: 1 yes,
   0 no, -1 with err. The answer is kept per node, and shared along a chain of sole channelwise
   readers, whose answer is the chain's last node's. */
static int concat_ok(PlaceFinder *f, int j, int e, NashErr *err)
{
	int x = j, len = 0, u;
	while (f->memo_e[x] != e && (u = sole_channelwise_reader(f, x)) >= 0) {
		f->chain[len++] = x;
		x = u;
		(*f->steps)++;
	}
	if (f->memo_e[x] != e) {
		int rc = reach_check(f, &x, 1, e, err);
		if (rc < 0)
			return -1;
		f->memo_e[x] = e;
		f->memo_ok[x] = rc == 0;
	}
	for (int k = 0; k < len; k++) {
		f->memo_e[f->chain[k]] = e;
		f->memo_ok[f->chain[k]] = f->memo_ok[x];
	}
	return f->memo_ok[x];
}

/* The ReLUs seen so far, by size: rep is one of them. */
typedef struct Size {
	int rep, n;
} Size;

/* Skip places: per target ReLU j, the earlier ReLUs whose size fits (and, for a concat, whose
   channel count the target may take), counted by size. */
static int find_skips(PlaceFinder *f, NashErr *err)
{
	const Graph *g = f->g;
	Size *sizes = NULL;
	int n_sizes = 0, cap = 0;
	for (int j = 1; j < g->n_nodes; j++) {
		const Node *t = &g->nodes[j];
		if (t->op != OP_RELU)
			continue;
		for (int s = 0; s < n_sizes; s++) {
			const Node *src = &g->nodes[sizes[s].rep];
			if (!morph_skip_ratio(src, t))
				continue;
			int ok = f->op == MORPH_SKIP_ADD ? 1 : concat_ok(f, j, src->c, err);
			if (ok < 0) {
				free(sizes);
				return -1;
			}
			f->count[j] += ok ? sizes[s].n : 0;
		}
		*f->steps += n_sizes + 1;
		int s = 0;
		while (s < n_sizes && (g->nodes[sizes[s].rep].h != t->h || g->nodes[sizes[s].rep].w != t->w ||
				       g->nodes[sizes[s].rep].c != t->c))
			s++;
		if (s == n_sizes) {
			if (n_sizes == cap) {
				Size *q = realloc(sizes, (size_t)(cap = cap ? 2 * cap : 16) * sizeof *q);
				if (!q) {
					free(sizes);
					return OOM();
				}
				sizes = q;
			}
			sizes[n_sizes++] = (Size){j, 0};
		}
		sizes[s].n++;
	}
	free(sizes);
	return 0;
}

/* Wider places: the layout groups of every node at once (morph_wider_group's union-find), each
   group checked once with all its convs widened (factor 2). */
static int find_wider(PlaceFinder *f, NashErr *err)
{
	const Graph *g = f->g;
	int n = g->n_nodes, rc = 0;
	int *parent = malloc((size_t)n * sizeof *parent + 1), *next = malloc((size_t)n * sizeof *next + 1);
	int *head = malloc((size_t)n * sizeof *head + 1), *seeds = malloc((size_t)n * sizeof *seeds + 1);
	signed char *state = calloc((size_t)n + 1, 1); /* per root: 1 a non-conv member, 2 valid, 3 invalid */
	if (!parent || !next || !head || !seeds || !state) {
		rc = OOM();
		goto done;
	}
	morph_layout_groups(parent, g);
	for (int i = 0; i < n; i++)
		head[i] = -1;
	for (int i = n - 1; i >= 0; i--) { /* each group's convs, in index order */
		int r = parent[i] = morph_find_root(parent, i);
		OpKind op = g->nodes[i].op;
		if (morph_is_channelwise(op) || op == OP_ADD)
			continue;
		if (op != OP_CONV) {
			state[r] = 1;
			continue;
		}
		next[i] = head[r];
		head[r] = i;
	}
	*f->steps += 2 * (long long)n;
	for (int r = 0; r < n && rc == 0; r++) {
		if (head[r] < 0 || state[r])
			continue;
		int n_seeds = 0;
		for (int c = head[r]; c >= 0; c = next[c])
			seeds[n_seeds++] = c;
		rc = reach_check(f, seeds, n_seeds, g->nodes[head[r]].c, err);
		if (rc >= 0) {
			state[r] = rc == 0 ? 2 : 3;
			rc = 0;
		}
	}
	for (int i = 0; i < n && rc == 0; i++)
		f->count[i] = g->nodes[i].op == OP_CONV && state[parent[i]] == 2;
done:
	free(parent);
	free(next);
	free(head);
	free(seeds);
	free(state);
	return rc;
}

int morph_find_places(const Graph *g, MorphOp op, MorphPlaces *p, NashErr *err)
{
	memset(p, 0, sizeof *p);
	p->op = op;
	PlaceFinder *f = finder_new(g, op, &p->steps);
	if (!f)
		return OOM();
	int rc = 0;
	if (op == MORPH_DEEPER)
		for (int j = 1; j < g->n_nodes; j++)
			f->count[j] = g->nodes[j].op == OP_RELU;
	else if (op == MORPH_WIDER)
		rc = find_wider(f, err);
	else
		rc = find_skips(f, err);
	if (rc) {
		finder_free(f);
		return -1;
	}
	for (int j = 0; j < g->n_nodes; j++)
		p->n += f->count[j];
	p->f = f;
	return 0;
}

void morph_places_free(MorphPlaces *p)
{
	finder_free(p->f);
	memset(p, 0, sizeof *p);
}

/* Whether ReLU i is a source of target j's places: its size fits, and (concat) j may take its
   channels. The answers for the channel counts met are kept in known[] (j's sources have few). */
typedef struct Known {
	int e[16], ok[16], n;
} Known;

static int is_source(PlaceFinder *f, int i, int j, Known *known, NashErr *err)
{
	const Node *s = &f->g->nodes[i];
	if (s->op != OP_RELU || !morph_skip_ratio(s, &f->g->nodes[j]))
		return 0;
	if (f->op == MORPH_SKIP_ADD)
		return 1;
	for (int k = 0; k < known->n; k++)
		if (known->e[k] == s->c)
			return known->ok[k];
	int ok = concat_ok(f, j, s->c, err);
	if (ok >= 0 && known->n < 16) {
		known->e[known->n] = s->c;
		known->ok[known->n++] = ok;
	}
	return ok;
}

int morph_place_at(MorphPlaces *p, int k, MorphPlace *out, NashErr *err)
{
	PlaceFinder *f = p->f;
	int j = 1;
	for (; j < f->g->n_nodes && k >= f->count[j]; j++)
		k -= f->count[j];
	*f->steps += j;
	*out = (MorphPlace){j, -1, -1};
	if (p->op == MORPH_DEEPER || p->op == MORPH_WIDER)
		return 0;
	Known known = {.n = 0};
	for (int i = 1; i < j; i++) {
		int ok = is_source(f, i, j, &known, err);
		if (ok < 0)
			return -1;
		if (ok && k-- == 0) {
			*out = (MorphPlace){j, i, j};
			break;
		}
	}
	*f->steps += j;
	return 0;
}

int morph_places(const Graph *g, MorphOp op, MorphPlace **out, NashErr *err)
{
	MorphPlaces p;
	*out = NULL;
	if (morph_find_places(g, op, &p, err))
		return -1;
	MorphPlace *list = p.n ? malloc((size_t)p.n * sizeof *list) : NULL;
	int n = 0, rc = p.n && !list ? OOM() : 0;
	int skip = op == MORPH_SKIP_ADD || op == MORPH_SKIP_CONCAT;
	for (int j = 1; rc == 0 && j < g->n_nodes; j++) {
		if (!p.f->count[j])
			continue;
		Known known = {.n = 0};
		for (int i = skip ? 1 : j; rc == 0 && i <= j - skip; i++) {
			int ok = skip ? is_source(p.f, i, j, &known, err) : 1;
			if (ok < 0)
				rc = -1;
			else if (ok && n < p.n)
				list[n++] = skip ? (MorphPlace){j, i, j} : (MorphPlace){j, -1, -1};
		}
	}
	morph_places_free(&p);
	if (rc) {
		free(list);
		return -1;
	}
	*out = list;
	return n;
}
