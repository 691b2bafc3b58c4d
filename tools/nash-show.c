/* nash-show: describes models: a summary, a TSV row per model for scripts, or a Graphviz drawing. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "search/ensemble.h"
#include "search/select.h"

static const char *prog = "nash-show";

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [OPTION]... MODEL...\n"
		"Describe model files (or the members of ensemble files): dataset, graph, parameters,\n"
		"accuracies, training and lineage.\n"
		"\n"
		"      --tsv        one tab-separated row per model, with a header (for scripts)\n"
		"      --dot        the graph of one model in Graphviz's dot language (render it with\n"
		"                   'dot -Tsvg'); conv-BN-ReLU chains are drawn as one block\n"
		"      --full       with --dot: one box per node\n"
		"  -h, --help       show this help\n"
		"  -V, --version    show the version\n"
		"\n"
		"TSV columns: model id parent_id dataset val_accuracy test_accuracy params epochs seconds\n"
		"total_seconds failed n_lineage lineage weights_hash summary failure host device job images\n"
		"total_images macs\n"
		"('-' when empty; host, device and job: where the last training run ran; seconds and\n"
		"images: the training time and the images trained on (epochs x images per epoch) of\n"
		"the last run, total_seconds and total_images: of every run; macs: the multiply-adds\n"
		"of one image's forward pass, convolutions and dense layers).\n"
		"Exit status: 0 success, 1 error, 2 usage.\n",
		prog);
}

static const char *or_dash(const char *s) { return s && s[0] ? s : "-"; }

static void fmt_acc(char *buf, size_t n, float v)
{
	if (isfinite(v))
		snprintf(buf, n, "%.4f", v);
	else
		snprintf(buf, n, "-");
}

static void clean(char *s)
{
	for (; *s; s++)
		if (*s == '\t' || *s == '\n' || *s == '\r')
			*s = ' ';
}

/* Where the model's last training run ran: host, hardware, job; "" each when unknown. */
static void last_place(const Model *m, char *host, char *hardware, char *job, size_t n)
{
	const RunSettings *r = m->n_runs > 0 ? &m->runs[m->n_runs - 1] : NULL;
	snprintf(host, n, "%s", r ? r->host : "");
	snprintf(hardware, n, "%s", r ? r->hardware : "");
	snprintf(job, n, "%s", r ? r->job : "");
	clean(host);
	clean(hardware);
	clean(job);
}

static void print_tsv_row(const Model *m, const ModelInfo *mi)
{
	char va[32], ta[32], failure[256], host[128], hardware[128], job[128];
	last_place(m, host, hardware, job, sizeof host);
	fmt_acc(va, sizeof va, mi->val_accuracy);
	fmt_acc(ta, sizeof ta, mi->test_accuracy);
	snprintf(failure, sizeof failure, "%s", mi->failure);
	clean(failure);
	printf("%s\t%s\t%s\t%s\t%s\t%s\t%zu\t%d\t%.1f\t%.1f\t%d\t%d\t%s\t%016llx\t%s\t%s", mi->path, or_dash(mi->id),
	       or_dash(mi->parent_id), mi->dataset, va, ta, mi->params, mi->epochs, (double)mi->seconds,
	       (double)mi->total_seconds, mi->failed, mi->n_lineage, or_dash(mi->lineage),
	       (unsigned long long)mi->weights_hash, or_dash(mi->summary), mi->failed ? or_dash(failure) : "-");
	printf("\t%s\t%s\t%s\t%.0f\t%.0f\t%llu\n", or_dash(host), or_dash(hardware), or_dash(job), mi->images,
	       mi->total_images, (unsigned long long)mi->macs);
}

static int is_reinit(const Morphism *mm) { return strncmp(mm->op, MODEL_LINEAGE_REINIT, sizeof mm->op) == 0; }

static void print_morphism(const Morphism *mm)
{
	if (is_reinit(mm)) { /* nash-init --like: the architecture so far, with fresh weights */
		printf("    %-12s every weight initialised afresh, seed %llu\n", MODEL_LINEAGE_REINIT,
		       (unsigned long long)mm->seed);
		return;
	}
	printf("    %-12.16s node %d", mm->op, mm->node);
	if (mm->kernel >= 0)
		printf(", kernel %d", mm->kernel);
	if (mm->factor >= 0)
		printf(", factor %d", mm->factor);
	if (mm->source >= 0 || mm->target >= 0)
		printf(", from %d to %d", mm->source, mm->target);
	printf("\n");
}

/* One line per training run: its epochs and seed, where it ran when the file says, and the
   parts of its recipe that are not the defaults. */
static void print_runs(const Model *m)
{
	for (int i = 0; i < m->n_runs; i++) {
		const RunSettings *r = &m->runs[i];
		printf("    run %-4d  %d epoch%s, seed %llu, %s", i + 1, r->epochs, r->epochs == 1 ? "" : "s",
		       (unsigned long long)r->seed, or_dash(r->engine));
		if (r->host[0] || r->hardware[0])
			printf(" on %s (%s)", or_dash(r->host), or_dash(r->hardware));
		if (r->job[0])
			printf(", job %s", r->job);
		if (r->label_smoothing > 0)
			printf(", label smoothing %g", (double)r->label_smoothing);
		if (r->ema > 0)
			printf(", EMA %g", (double)r->ema);
		if (strncmp(r->tta, "none", sizeof r->tta))
			printf(", TTA %.16s", r->tta);
		printf("\n");
	}
}

/* " (TTA flip)" for an accuracy measured with test-time augmentation, else "". */
static const char *tta_note(char *buf, size_t n, float acc, Tta tta)
{
	if (isfinite(acc) && tta != TTA_NONE)
		snprintf(buf, n, " (TTA %s)", tta_name(tta));
	else
		buf[0] = '\0';
	return buf;
}

/* The class names after their labels, "0 cat, 1 dog", wrapped: the label tells where a name
   with a comma ends. */
static void print_classes(const Model *m)
{
	if (!m->class_names) {
		printf("  classes     not recorded (a model made before nash-init recorded them)\n");
		return;
	}
	int col = 14;
	printf("  classes    ");
	for (int k = 0; k < m->g.n_classes; k++) {
		char item[NASH_NAME_SHOWN + 16];
		snprintf(item, sizeof item, "%d %s%s", k, nash_name(m->class_names + (size_t)k * NASH_CLASS_NAME_MAX).s,
			 k + 1 < m->g.n_classes ? "," : "");
		int w = (int)strlen(item) + 1;
		if (col > 14 && col + w > 100) {
			printf("\n             ");
			col = 14;
		}
		printf(" %s", item);
		col += w;
	}
	printf("\n");
}

static void print_summary(const Model *m, const ModelInfo *mi)
{
	const Graph *g = &m->g;
	char va[32], ta[32], vt[32], tt[32];
	fmt_acc(va, sizeof va, m->val_accuracy);
	fmt_acc(ta, sizeof ta, m->test_accuracy);
	tta_note(vt, sizeof vt, m->val_accuracy, m->val_tta);
	tta_note(tt, sizeof tt, m->test_accuracy, m->test_tta);
	printf("%s\n", mi->path);
	printf("  dataset     %s (%dx%dx%d, %d classes), %d validation images held out\n", m->dataset, g->in_c, g->in_h,
	       g->in_w, g->n_classes, m->val_size);
	print_classes(m);
	printf("  id          %s (parent %s)\n", or_dash(m->id), or_dash(m->parent_id));
	printf("  graph       %d nodes, %zu parameters, %llu multiply-adds per image\n", g->n_nodes, mi->params,
	       (unsigned long long)mi->macs);
	printf("              %s\n", mi->summary);
	/* A last run on training + validation images leaves no held-out validation figure. */
	int val_trained = m->n_runs > 0 && run_trained_on_val(&m->runs[m->n_runs - 1]);
	printf("  accuracy    val %s%s%s, test %s%s\n", va, val_trained ? " (trained on)" : "", vt, ta, tt);
	printf("  training    %d run%s, %d epoch%s, %.1f s\n", m->n_runs, m->n_runs == 1 ? "" : "s", m->n_records,
	       m->n_records == 1 ? "" : "s", (double)mi->total_seconds);
	print_runs(m);
	int reinits = 0;
	for (int i = 0; i < m->n_lineage; i++)
		reinits += is_reinit(&m->lineage[i]);
	int morphs = m->n_lineage - reinits;
	printf("  lineage     %d morphism%s since the seed network", morphs, morphs == 1 ? "" : "s");
	if (reinits)
		printf(reinits == 1 ? ", then reinitialised once" : ", reinitialised %d times", reinits);
	printf("\n");
	for (int i = 0; i < m->n_lineage; i++)
		print_morphism(&m->lineage[i]);
	if (m->failed)
		printf("  failed      %s\n", or_dash(m->failure));
	if (m->ckpt_epochs_done > 0)
		printf("  checkpoint  after epoch %d of the last run\n", m->ckpt_epochs_done);
}

/* ---- Graphviz ---- */

/* A conv whose only consumer is a BN whose only consumer is a ReLU draws as one block. */
static void find_blocks(const Graph *g, int *block, int full)
{
	int *consumers = calloc((size_t)g->n_nodes, sizeof *consumers);
	for (int i = 0; i < g->n_nodes; i++)
		block[i] = i;
	if (!consumers || full) {
		free(consumers);
		return;
	}
	for (int i = 0; i < g->n_nodes; i++)
		for (int k = 0; k < g->nodes[i].n_inputs; k++)
			consumers[g->nodes[i].inputs[k]]++;
	for (int i = 0; i < g->n_nodes; i++) {
		const Node *n = &g->nodes[i];
		if (n->n_inputs != 1)
			continue;
		int in = n->inputs[0];
		if (consumers[in] != 1)
			continue;
		if (n->op == OP_BN && g->nodes[in].op == OP_CONV)
			block[i] = block[in];
		else if (n->op == OP_RELU && g->nodes[in].op == OP_BN && block[in] != in)
			block[i] = block[in];
	}
	free(consumers);
}

static void node_label(char *buf, size_t n, const Node *nd)
{
	switch (nd->op) {
	case OP_INPUT: snprintf(buf, n, "input"); break;
	case OP_CONV:
		snprintf(buf, n, "conv %dx%d, %d%s", nd->kernel, nd->kernel, nd->out_channels, nd->has_bias ? " +bias" : "");
		break;
	case OP_BN: snprintf(buf, n, "batch-norm"); break;
	case OP_RELU: snprintf(buf, n, "ReLU"); break;
	case OP_MAXPOOL: snprintf(buf, n, "max-pool %dx%d", nd->kernel, nd->kernel); break;
	case OP_ADD:
		if (nd->n_params > 0 && nd->params[0].data && nd->params[0].dims[0] > 0) {
			const Tensor *l = &nd->params[0];
			double lo = l->data[0], hi = lo, sum = 0;
			for (int c = 0; c < l->dims[0]; c++) {
				lo = fmin(lo, l->data[c]), hi = fmax(hi, l->data[c]);
				sum += l->data[c];
			}
			if (lo == hi)
				snprintf(buf, n, "add (lambda %.3f)", lo);
			else
				snprintf(buf, n, "add (lambda %.3f, %.3f..%.3f)", sum / l->dims[0], lo, hi);
		} else {
			snprintf(buf, n, "add");
		}
		break;
	case OP_CONCAT: snprintf(buf, n, "concat"); break;
	case OP_GAP: snprintf(buf, n, "global avg pool"); break;
	case OP_FLATTEN: snprintf(buf, n, "flatten"); break;
	case OP_DENSE: snprintf(buf, n, "dense %d%s", nd->out_channels, nd->has_bias ? " +bias" : ""); break;
	default: snprintf(buf, n, "%s", op_name(nd->op));
	}
}

static const char *node_colour(OpKind op)
{
	switch (op) {
	case OP_INPUT: return "white";
	case OP_CONV: case OP_BN: case OP_RELU: return "lightblue";
	case OP_MAXPOOL: case OP_GAP: case OP_FLATTEN: return "lightgrey";
	case OP_ADD: case OP_CONCAT: return "orange";
	case OP_DENSE: return "palegreen";
	default: return "white";
	}
}

static void print_dot(const Model *m, const ModelInfo *mi, int full)
{
	const Graph *g = &m->g;
	int *block = malloc((size_t)g->n_nodes * sizeof *block), *next = malloc((size_t)g->n_nodes * sizeof *next);
	if (!block || !next)
		die(prog, "out of memory");
	find_blocks(g, block, full);
	/* a block's next node after j (its only consumer), so that a block is drawn from its own
	   nodes, not from a search of all later ones for each (quadratic in the nodes) */
	for (int i = 0; i < g->n_nodes; i++)
		next[i] = -1;
	for (int i = 0; i < g->n_nodes; i++)
		if (block[i] != i)
			next[g->nodes[i].inputs[0]] = i;
	char va[32];
	fmt_acc(va, sizeof va, m->val_accuracy);
	/* the title is a dot string: quotes and backslashes in the path are escaped */
	char title[1024];
	size_t t = 0;
	for (const char *p = mi->path; *p && t + 3 < sizeof title; p++) {
		if (*p == '"' || *p == '\\')
			title[t++] = '\\';
		title[t++] = *p;
	}
	title[t] = '\0';
	printf("digraph nash {\n");
	printf("\tgraph [rankdir=TB, fontname=\"Helvetica\", labelloc=t, label=\"%s\\n%zu parameters, val accuracy %s\"];\n",
	       title, mi->params, va);
	printf("\tnode [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=11];\n");
	/* one box per block, labelled with its nodes' ops and the block's output shape */
	for (int i = 0; i < g->n_nodes; i++) {
		if (block[i] != i)
			continue;
		char label[256] = "";
		int last = i;
		for (int j = i; j >= 0; j = next[j]) {
			char part[64];
			node_label(part, sizeof part, &g->nodes[j]);
			if (j == i)
				snprintf(label, sizeof label, "%s", part);
			else
				snprintf(label + strlen(label), sizeof label - strlen(label), " + %s",
					 g->nodes[j].op == OP_BN ? "BN" : part);
			last = j;
		}
		const Node *o = &g->nodes[last];
		printf("\tn%d [label=\"%s\\n%dx%dx%d\", fillcolor=%s];\n", i, label, o->c, o->h, o->w,
		       node_colour(g->nodes[i].op));
	}
	for (int i = 0; i < g->n_nodes; i++)
		for (int k = 0; k < g->nodes[i].n_inputs; k++) {
			int from = block[g->nodes[i].inputs[k]], to = block[i];
			if (from != to)
				printf("\tn%d -> n%d;\n", from, to);
		}
	printf("}\n");
	free(next);
	free(block);
}

int main(int argc, char **argv)
{
	int tsv = 0, dot = 0, full = 0;
	static const struct option opts[] = {
		{"tsv", no_argument, 0, 't'},  {"dot", no_argument, 0, 'd'},     {"full", no_argument, 0, 'f'},
		{"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'}, {0, 0, 0, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
		switch (c) {
		case 't': tsv = 1; break;
		case 'd': dot = 1; break;
		case 'f': full = 1; break;
		case 'h': usage(stdout); cli_close_stdout(prog); return 0;
		case 'V': cli_version(prog);
		default: usage(stderr); return 2;
		}
	}
	if (optind == argc)
		die_usage(prog, "missing MODEL");
	if (tsv && dot)
		die_usage(prog, "--tsv and --dot exclude each other");
	if (full && !dot)
		die_usage(prog, "--full needs --dot");
	int n_stdin = 0;
	for (int i = optind; i < argc; i++)
		n_stdin += strcmp(argv[i], "-") == 0;
	if (n_stdin > 1)
		die_usage(prog, "standard input (-) can be only one of the models");

	NashErr err = {0};
	Ensemble e;
	ensemble_init(&e);
	for (int i = optind; i < argc; i++)
		if (ensemble_read_append(&e, argv[i], &err))
			die_err(prog, &err);
	if (dot && e.n != 1)
		die_usage(prog, "--dot draws one model, not %d", e.n);
	if (tsv)
		printf("model\tid\tparent_id\tdataset\tval_accuracy\ttest_accuracy\tparams\tepochs\tseconds\t"
		       "total_seconds\tfailed\tn_lineage\tlineage\tweights_hash\tsummary\tfailure\thost\tdevice\tjob\timages\t"
		       "total_images\tmacs\n");
	for (int i = 0; i < e.n; i++) {
		ModelInfo mi;
		model_info(&mi, &e.members[i], e.sources[i]);
		if (tsv)
			print_tsv_row(&e.members[i], &mi);
		else if (dot)
			print_dot(&e.members[i], &mi, full);
		else
			print_summary(&e.members[i], &mi);
	}
	ensemble_free(&e);
	cli_close_stdout(prog);
	return 0;
}
