/* Every morphism on every seed network (nash-init --arch): each operator at each of its places
   keeps the function, and the property over >= 1000 random sequences per seed, on randomised
   seed networks and on randomised children of earlier sequences, as nash-morph draws them. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model/init.h"
#include "model/model.h"
#include "morph_check.h"
#include "search/morph.h"

static const int W48[] = {4, 8}, W448[] = {4, 4, 8};

/* The seeds the tests morph, per arch: one and three channels, two and three widths, an odd
   size on the way down (12 -> 6 -> 3: pooling floors, and 6/3 is a skip's integer ratio,
   3 over nothing smaller). */
typedef struct SeedShape {
	int c, h, w;
	const int *widths;
	int n_widths;
} SeedShape;
static const SeedShape shapes[] = {
	{1, 12, 12, W48, 2},
	{3, 8, 8, W48, 2},
	{1, 12, 12, W448, 3}, /* paper 12 -> 6 -> 3; groups 12 -> 6 -> 3 -> 1 */
};
enum { N_SHAPES = sizeof shapes / sizeof shapes[0] };

static void make_shape(Model *m, SeedArch arch, int k, uint64_t seed)
{
	const SeedShape *s = &shapes[k];
	make_seed(m, arch, s->c, s->h, s->w, s->widths, s->n_widths, seed);
}

/* Every operator has a place on every seed, and each keeps the function there. */
static void every_place_on_each_seed(SeedArch arch)
{
	for (int k = 0; k < N_SHAPES; k++) {
		Model m;
		Rng r;
		make_shape(&m, arch, k, 40 + (uint64_t)k);
		rng_seed(&r, 41 + (uint64_t)k);
		check_every_place(&m.g, NULL, &r, 42 + (uint64_t)k);
		model_free(&m);
	}
}

/* The property on arch's seeds: SEQS sequences of 1-5 morphisms drawn as nash-morph draws
   them, each from a fresh randomised seed network or from a randomised child of an earlier
   sequence. Every morphism is checked on its own (one morph_apply per step), and each
   sequence as a whole against its parent. */
static void property_random_sequences(SeedArch arch)
{
	enum { SEQS = 1000, POOL = 8 };
	Model pool[POOL];
	int n_pool = 0, morphs = 0, chained = 0, counts[MORPH_OP_COUNT] = {0}, bad = 0;
	NashErr err = {0};
	double seq_worst = 0;
	worst_rel = 0;
	for (int s = 0; s < SEQS; s++) {
		Model parent;
		Rng r;
		rng_seed3(&r, 2024 + (uint64_t)arch, (uint64_t)s, 1);
		int from_pool = n_pool > 0 && rng_below(&r, 2);
		if (from_pool) {
			CHECK(model_clone(&parent, &pool[rng_below(&r, (uint32_t)n_pool)], &err) == 0);
			randomise(&parent.g, &r); /* as if trained */
			chained++;
		} else {
			make_shape(&parent, arch, (int)rng_below(&r, N_SHAPES), (uint64_t)s);
		}
		int len = 1 + (int)rng_below(&r, 5);
		Model cur;
		CHECK(model_clone(&cur, &parent, &err) == 0);
		for (int k = 0; k < len; k++) {
			MorphOpts o;
			morph_opts_default(&o);
			o.n = 1;
			o.seed = (uint64_t)s * 8 + (uint64_t)k;
			o.max_params = 12000; /* keeps the nets small and exercises the rejection path */
			Model next;
			if (morph_apply(&next, &cur, &o, &err)) {
				/* only an over-limit parent may fail */
				CHECKF(strstr(err.msg, "--max-params") != NULL, "seq %d step %d: %s", s, k, err.msg);
				break;
			}
			const Morphism *mm = &next.lineage[next.n_lineage - 1];
			for (int op = 0; op < MORPH_OP_COUNT; op++)
				counts[op] += !strcmp(mm->op, morph_op_name((MorphOp)op));
			morphs++;
			if (!infers(&next.g))
				bad++;
			double d = logit_diff(&cur.g, &next.g, (uint64_t)s);
			if (!(d <= TOL)) {
				printf("#   seq %d step %d %s node %d k %d f %d %d->%d: rel diff %g\n", s, k, mm->op,
				       mm->node, mm->kernel, mm->factor, mm->source, mm->target, d);
				bad++;
			}
			model_free(&cur);
			cur = next;
		}
		double d = logit_diff(&parent.g, &cur.g, (uint64_t)s + 1);
		if (d > seq_worst)
			seq_worst = d;
		if (!(d <= TOL))
			bad++;
		if (n_pool < POOL) {
			pool[n_pool++] = cur;
		} else {
			int k = (int)rng_below(&r, POOL);
			model_free(&pool[k]);
			pool[k] = cur;
		}
		model_free(&parent);
	}
	CHECK(bad == 0);
	CHECK(morphs >= 2 * SEQS);
	for (int op = 0; op < MORPH_OP_COUNT; op++)
		CHECKF(counts[op] >= 200, "%s applied %d times", morph_op_name((MorphOp)op), counts[op]);
	CHECK(chained >= SEQS / 3);
	printf("# property on the %s seed: %d sequences (%d on morphed parents), %d morphisms: deeper %d, "
	       "wider %d, skip-add %d, skip-concat %d; worst relative logit difference %.3g (per sequence "
	       "%.3g, tolerance %g)\n",
	       seed_arch_name(arch), SEQS, chained, morphs, counts[0], counts[1], counts[2], counts[3], worst_rel,
	       seq_worst, TOL);
	for (int k = 0; k < n_pool; k++)
		model_free(&pool[k]);
}

int main(void)
{
	char label[64];
	for (int a = 0; a < SEED_ARCH_COUNT; a++) {
		snprintf(label, sizeof label, "every_place_on_the_%s_seed", seed_arch_name((SeedArch)a));
		RUN_AS(label, every_place_on_each_seed((SeedArch)a));
	}
	backends[0] = &nash_backend_onednn; /* the property test: the fast backends only */
	backends[1] = &nash_backend_blas;
	n_backends = 2;
	for (int a = 0; a < SEED_ARCH_COUNT; a++) {
		snprintf(label, sizeof label, "property_on_the_%s_seed", seed_arch_name((SeedArch)a));
		RUN_AS(label, property_random_sequences((SeedArch)a));
	}
	CHECK_DONE();
}
