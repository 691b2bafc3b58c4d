/* Drawing and applying morphisms: a parent model in, a child model out (docs/MORPHISMS.md). */
#include "search/morph.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void morph_opts_default(MorphOpts *o)
{
	memset(o, 0, sizeof *o);
	o->n = 5;
	o->seed = 1;
}

int morph_parse_ops(MorphOpts *o, const char *list, NashErr *err)
{
	const char *p = list;
	do {
		size_t len = strcspn(p, ",");
		unsigned mask = 0;
		if (len == 4 && !strncmp(p, "skip", 4))
			mask = MORPH_MASK_SKIP;
		for (int op = 0; op < MORPH_OP_COUNT; op++) {
			const char *name = morph_op_name((MorphOp)op);
			if (len == strlen(name) && !strncmp(p, name, len))
				mask = MORPH_MASK(op);
		}
		if (len == 0)
			return nash_err(err, NASH_ERR_USAGE, "--op: empty operator name in '%s'", list);
		if (!mask)
			return nash_err(err, NASH_ERR_USAGE,
					"--op: '%.*s' is not an operator (deeper, wider, skip, skip-add, skip-concat)",
					(int)(len > 64 ? 64 : len), p);
		if (o->n_choices == MORPH_MAX_CHOICES)
			return nash_err(err, NASH_ERR_USAGE, "--op: at most %d operators", MORPH_MAX_CHOICES);
		o->choices[o->n_choices++] = mask;
		p += len;
	} while (*p++ == ',');
	return 0;
}

void morph_describe(const Graph *g, const Morphism *mm, char *buf, size_t n)
{
	char a[32] = "?", b[32] = "?";
	if (mm->node >= 0 && mm->node < g->n_nodes)
		node_name(g, mm->node, a, sizeof a);
	if (!strcmp(mm->op, "deeper")) {
		snprintf(buf, n, "deeper after %s (k=%d, %d channels)", a, mm->kernel,
			 mm->node >= 0 && mm->node < g->n_nodes ? g->nodes[mm->node].c : 0);
	} else if (!strcmp(mm->op, "wider")) {
		int *members = malloc((size_t)g->n_nodes * sizeof *members + 1), k = 0; /* [n_nodes] */
		int cnt = members ? morph_wider_group(g, mm->node, members) : -1, c = 0;
		if (mm->node >= 0 && mm->node < g->n_nodes)
			c = g->nodes[mm->node].c;
		size_t used = (size_t)snprintf(buf, n, "wider %s x%d (%d -> %d channels", a, mm->factor, c,
					       c * mm->factor);
		for (int i = 0; i < cnt && used < n; i++) {
			if (members[i] == mm->node)
				continue;
			node_name(g, members[i], b, sizeof b);
			used += (size_t)snprintf(buf + used, n - used, "%s%s", k++ ? ", " : "; with its add group: ", b);
		}
		if (used < n)
			snprintf(buf + used, n - used, ")");
		free(members);
	} else if (mm->source >= 0 && mm->source < g->n_nodes && mm->target >= 0 && mm->target < g->n_nodes) {
		const Node *s = &g->nodes[mm->source], *t = &g->nodes[mm->target];
		node_name(g, mm->source, a, sizeof a);
		node_name(g, mm->target, b, sizeof b);
		size_t used = (size_t)snprintf(buf, n, "%s from %s to %s (", mm->op, a, b);
		if (used < n && t->h > 0 && s->h > t->h)
			used += (size_t)snprintf(buf + used, n - used, "max-pool %d, ", s->h / t->h);
		if (used < n && !strcmp(mm->op, "skip-add") && s->c != t->c)
			snprintf(buf + used, n - used, "1x1 projection %d -> %d channels)", s->c, t->c);
		else if (used < n && !strcmp(mm->op, "skip-add"))
			snprintf(buf + used, n - used, "lambda 1)");
		else if (used < n)
			snprintf(buf + used, n - used, "+%d channels)", s->c);
	} else {
		snprintf(buf, n, "%s", mm->op);
	}
}

/* Applies op at a place drawn from rng, to g. Records what it did in *mm. */
static int apply_at(Graph *g, MorphOp op, const MorphPlace *p, Rng *rng, Morphism *mm, NashErr *err)
{
	snprintf(mm->op, sizeof mm->op, "%s", morph_op_name(op));
	mm->node = p->node;
	mm->kernel = mm->factor = mm->source = mm->target = -1;
	switch (op) {
	case MORPH_DEEPER:
		mm->kernel = rng_below(rng, 2) ? 5 : 3;
		return morph_deeper(g, p->node, mm->kernel, err);
	case MORPH_WIDER:
		mm->factor = rng_below(rng, 2) ? 4 : 2;
		return morph_wider(g, p->node, mm->factor, rng, err);
	default:
		mm->source = p->source;
		mm->target = p->target;
		return morph_skip(g, op, p->source, p->target, rng, err);
	}
}

/* "no valid place for skip-add or skip-concat" */
static int no_place(unsigned mask, NashErr *err)
{
	char buf[128] = "";
	size_t used = 0;
	for (int op = 0, k = 0; op < MORPH_OP_COUNT; op++)
		if (mask & MORPH_MASK(op))
			used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s", k++ ? " or " : "",
						 morph_op_name((MorphOp)op));
	return nash_err(err, NASH_ERR_NO_FIT, "no valid place for %s", buf);
}

static unsigned pick_bit(unsigned mask, Rng *rng)
{
	int n = 0;
	for (int op = 0; op < MORPH_OP_COUNT; op++)
		n += (mask & MORPH_MASK(op)) != 0;
	int k = (int)rng_below(rng, (uint32_t)n);
	for (int op = 0;; op++)
		if ((mask & MORPH_MASK(op)) && k-- == 0)
			return (unsigned)op;
}

/* "no morphism keeps the network within --max-params P (100 draws; it has N parameters)": the
   limit that rejected every draw, or both when each did or neither did (some draws failed one
   only, some the other only). */
static int no_fit(const MorphOpts *o, const Graph *g, int by_params, int by_macs, NashErr *err)
{
	char lim[96] = "", has[128] = "";
	int all_params = by_params == MORPH_MAX_TRIES, all_macs = by_macs == MORPH_MAX_TRIES;
	if (all_params == all_macs) {
		snprintf(lim, sizeof lim, "params %zu and --max-macs %llu", o->max_params,
			 (unsigned long long)o->max_macs);
		snprintf(has, sizeof has, "has %zu parameters and costs %llu multiply-adds per image",
			 graph_param_count(g), (unsigned long long)graph_macs(g));
	} else if (all_macs) {
		snprintf(lim, sizeof lim, "macs %llu", (unsigned long long)o->max_macs);
		snprintf(has, sizeof has, "costs %llu multiply-adds per image", (unsigned long long)graph_macs(g));
	} else {
		snprintf(lim, sizeof lim, "params %zu", o->max_params);
		snprintf(has, sizeof has, "has %zu parameters", graph_param_count(g));
	}
	return nash_err(err, NASH_ERR_NO_FIT, MORPH_NO_FIT_BUDGET "%s (%d draws; it %s)", lim, MORPH_MAX_TRIES, has);
}

/* One morphism on m->g: draws an operator (choices entry, then an operator in it), a place
   and its parameters; operators without a place are dropped from the draw, results above
   max_params or max_macs are rejected and redrawn. */
static int morph_step(Model *m, const MorphOpts *o, const unsigned *choices, int n_choices, Rng *rng,
		      NashErr *err)
{
	unsigned nowhere = 0, all = 0;
	int rejected = 0, by_params = 0, by_macs = 0;
	for (int e = 0; e < n_choices; e++)
		all |= choices[e];
	while (rejected < MORPH_MAX_TRIES) {
		int live[MORPH_MAX_CHOICES], n_live = 0;
		for (int e = 0; e < n_choices; e++)
			if (choices[e] & ~nowhere)
				live[n_live++] = e;
		if (n_live == 0)
			return no_place(all, err);
		MorphOp op = (MorphOp)pick_bit(choices[live[rng_below(rng, (uint32_t)n_live)]] & ~nowhere, rng);
		/* the places counted, and only the one drawn looked for: a list of a skip's places
		   would be as long as the nodes squared */
		MorphPlaces places;
		if (morph_find_places(&m->g, op, &places, err))
			return -1;
		if (places.n == 0) {
			morph_places_free(&places);
			nowhere |= MORPH_MASK(op);
			continue;
		}
		MorphPlace p;
		int rc = morph_place_at(&places, (int)rng_below(rng, (uint32_t)places.n), &p, err);
		morph_places_free(&places);
		if (rc)
			return -1;
		Graph cand;
		Morphism mm;
		memset(&mm, 0, sizeof mm); /* the op string is written zero-padded */
		if (graph_clone(&cand, &m->g, err))
			return -1;
		mm.seed = o->seed;
		if (apply_at(&cand, op, &p, rng, &mm, err)) {
			graph_free(&cand);
			return -1;
		}
		int too_big = o->max_params && graph_param_count(&cand) > o->max_params;
		int too_costly = o->max_macs && graph_macs(&cand) > o->max_macs;
		if (too_big || too_costly) {
			graph_free(&cand);
			rejected++;
			by_params += too_big;
			by_macs += too_costly;
			continue;
		}
		if (model_add_morphism(m, &mm, err)) {
			graph_free(&cand);
			return -1;
		}
		if (o->report) {
			char desc[512];
			morph_describe(&m->g, &mm, desc, sizeof desc);
			o->report(&mm, desc, o->report_arg);
		}
		graph_free(&m->g);
		m->g = cand;
		return 0;
	}
	return no_fit(o, &m->g, by_params, by_macs, err);
}

static uint64_t hash_int(uint64_t h, int v)
{
	int32_t x = v;
	return nash_hash(h, &x, sizeof x);
}

int morph_apply(Model *child, const Model *parent, const MorphOpts *o, NashErr *err)
{
	static const unsigned defaults[] = {MORPH_MASK(MORPH_DEEPER), MORPH_MASK(MORPH_WIDER), MORPH_MASK_SKIP};
	const unsigned *choices = o->n_choices ? o->choices : defaults;
	int n_choices = o->n_choices ? o->n_choices : 3;
	model_init(child);
	if (model_clone(child, parent, err))
		return -1;
	/* The child is untrained and starts a fresh optimizer; its history stays. */
	child->val_accuracy = child->test_accuracy = NAN;
	child->failed = 0;
	memset(child->failure, 0, sizeof child->failure);
	model_drop_optimizer(child);
	if (graph_infer(&child->g, err))
		goto fail;
	uint64_t h = nash_hash(NASH_HASH_INIT, parent->id, strnlen(parent->id, sizeof parent->id));
	Rng rng;
	rng_seed3(&rng, o->seed, h, 0);
	int first = child->n_lineage;
	for (int k = 0; k < o->n; k++)
		if (morph_step(child, o, choices, n_choices, &rng, err))
			goto fail;
	/* The id: what made the child. Fields one by one, so struct padding never counts. */
	h = nash_hash(h, "nash-morph", 10);
	h = nash_hash(h, &o->seed, sizeof o->seed);
	for (int k = first; k < child->n_lineage; k++) {
		const Morphism *mm = &child->lineage[k];
		h = nash_hash(h, mm->op, strnlen(mm->op, sizeof mm->op));
		h = hash_int(hash_int(hash_int(h, mm->node), mm->kernel), mm->factor);
		h = hash_int(hash_int(h, mm->source), mm->target);
	}
	memcpy(child->parent_id, parent->id, sizeof child->parent_id);
	child->parent_id[NASH_ID_LEN - 1] = '\0';
	model_set_id(child, h);
	return 0;
fail:
	model_free(child);
	return -1;
}
