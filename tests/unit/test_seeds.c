/* The seed networks (nash-init --arch): what each builds, node by node and in parameters; the
   paper's exactly as before there was a choice (seed_network, its ids); the arch in the id of
   the others; too many pools refused; a seed network reinitialised with its seed is itself. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "model/init.h"
#include "model/model.h"

static const int W32[] = {32, 64, 128}, W16[] = {16, 32, 64};

static int build(Model *m, SeedArch arch, int c, int h, const int *widths, int n, uint64_t seed)
{
	NashErr err = {0};
	int rc = seed_network_arch(m, arch, "fashion-mnist", c, h, h, 10, widths, n, seed, &err);
	if (rc)
		printf("# seed_network_arch: %s\n", err.msg);
	return rc;
}

/* The graph's one-line summary is what nash-show lists. */
static int summary_is(const Graph *g, const char *want)
{
	char s[512];
	graph_summary(g, s, sizeof s);
	if (strcmp(s, want) == 0)
		return 1;
	printf("#   got  %s\n#   want %s\n", s, want);
	return 0;
}

TEST(names)
{
	CHECK(strcmp(seed_arch_name(SEED_ARCH_PAPER), "paper") == 0);
	CHECK(strcmp(seed_arch_name(SEED_ARCH_GROUPS), "groups") == 0);
	for (int a = 0; a < SEED_ARCH_COUNT; a++)
		CHECK(seed_arch_from_name(seed_arch_name((SeedArch)a)) == a);
	int w[3];
	CHECK(seed_arch_default_widths(SEED_ARCH_PAPER, w) == 3 && w[0] == 32 && w[1] == 64 && w[2] == 128);
	CHECK(seed_arch_default_widths(SEED_ARCH_GROUPS, w) == 3 && w[0] == 16 && w[1] == 32 && w[2] == 64);
	CHECK(seed_arch_from_name("Paper") == -1 && seed_arch_from_name("") == -1 &&
	      seed_arch_from_name("group") == -1);
}

/* Conv-MaxPool-Conv-MaxPool-Conv-FC; parameters: convs 9 c_in c_out, BN 2 c, dense. */
TEST(the_paper_seed)
{
	Model m;
	CHECK(build(&m, SEED_ARCH_PAPER, 1, 28, W32, 3, 1) == 0);
	CHECK(summary_is(&m.g, "conv32k3-bn-relu-pool-conv64k3-bn-relu-pool-conv128k3-bn-relu-flatten-dense10"));
	CHECK(m.g.n_nodes == 14 && m.g.nodes[12].c == 128 * 7 * 7);
	CHECK(graph_param_count(&m.g) == 155626);
	model_free(&m);
	CHECK(build(&m, SEED_ARCH_PAPER, 1, 28, W16, 3, 1) == 0 && graph_param_count(&m.g) == 54778);
	model_free(&m);
	CHECK(build(&m, SEED_ARCH_PAPER, 3, 32, W32, 3, 1) == 0 && graph_param_count(&m.g) == 175402);
	model_free(&m);
	CHECK(build(&m, SEED_ARCH_PAPER, 3, 32, W16, 3, 1) == 0 && graph_param_count(&m.g) == 64666);
	model_free(&m);
}

/* Per width conv-pool-BN-ReLU-conv-BN-ReLU, then flatten and the classifier. */
TEST(the_groups_seed)
{
	Model m;
	CHECK(build(&m, SEED_ARCH_GROUPS, 1, 28, W32, 3, 1) == 0);
	CHECK(summary_is(&m.g, "conv32k3-pool-bn-relu-conv32k3-bn-relu-conv64k3-pool-bn-relu-conv64k3-bn-relu-"
			       "conv128k3-pool-bn-relu-conv128k3-bn-relu-flatten-dense10"));
	CHECK(m.g.n_nodes == 24);
	CHECK(m.g.nodes[21].op == OP_RELU && m.g.nodes[21].h == 3 && m.g.nodes[22].op == OP_FLATTEN &&
	      m.g.nodes[22].c == 128 * 3 * 3); /* 28/8 */
	for (int i = 0; i < m.g.n_nodes; i++)
		CHECK(m.g.nodes[i].op != OP_CONV || (m.g.nodes[i].kernel == 3 && !m.g.nodes[i].has_bias));
	CHECK(graph_param_count(&m.g) == 298410);
	model_free(&m);
	CHECK(build(&m, SEED_ARCH_GROUPS, 1, 28, W16, 3, 1) == 0 && graph_param_count(&m.g) == 77786);
	model_free(&m);
	CHECK(build(&m, SEED_ARCH_GROUPS, 3, 32, W32, 3, 1) == 0 && graph_param_count(&m.g) == 307946);
	model_free(&m);
	CHECK(build(&m, SEED_ARCH_GROUPS, 3, 32, W16, 3, 1) == 0 && graph_param_count(&m.g) == 82554);
	model_free(&m);
}

/* seed_network is the paper's, weight for weight, under the id it always had: FNV-1a over
   "nash-init", the dataset, the widths and the seed. */
TEST(the_paper_seed_and_its_id_are_as_before)
{
	Model a, b;
	NashErr err = {0};
	CHECK(seed_network(&a, "fashion-mnist", 1, 28, 28, 10, W16, 3, 5, &err) == 0);
	CHECK(build(&b, SEED_ARCH_PAPER, 1, 28, W16, 3, 5) == 0);
	CHECK(strcmp(a.id, b.id) == 0 && a.g.n_nodes == b.g.n_nodes);
	for (int i = 0; i < a.g.n_nodes; i++)
		for (int p = 0; p < a.g.nodes[i].n_params; p++)
			CHECK(memcmp(a.g.nodes[i].params[p].data, b.g.nodes[i].params[p].data,
				     tensor_size(&a.g.nodes[i].params[p]) * sizeof(float)) == 0);
	uint64_t seed = 5, h = nash_hash(NASH_HASH_INIT, "nash-init", 9);
	h = nash_hash(h, "fashion-mnist", 13);
	h = nash_hash(h, W16, sizeof W16);
	h = nash_hash(h, &seed, sizeof seed);
	char want[17];
	snprintf(want, sizeof want, "%016llx", (unsigned long long)h);
	CHECKF(strcmp(a.id, want) == 0, "%s, not %s", a.id, want);
	model_free(&a);
	model_free(&b);
}

TEST(another_arch_has_another_id)
{
	Model p, g, g2;
	CHECK(build(&p, SEED_ARCH_PAPER, 1, 28, W16, 3, 5) == 0);
	CHECK(build(&g, SEED_ARCH_GROUPS, 1, 28, W16, 3, 5) == 0);
	CHECK(build(&g2, SEED_ARCH_GROUPS, 1, 28, W16, 3, 5) == 0);
	CHECK(strlen(g.id) == 16 && strcmp(p.id, g.id) != 0 && strcmp(g.id, g2.id) == 0);
	CHECK(g.parent_id[0] == '\0');
	model_free(&p);
	model_free(&g);
	model_free(&g2);
}

/* Every pool halves the images: the paper's pools between its blocks, groups in each. */
TEST(too_many_pools_are_refused)
{
	Model m;
	NashErr err = {0};
	CHECK(seed_network_arch(&m, SEED_ARCH_PAPER, "t", 1, 4, 4, 10, W16, 3, 1, &err) == 0); /* 4 -> 1 */
	model_free(&m);
	CHECK(seed_network_arch(&m, SEED_ARCH_GROUPS, "t", 1, 8, 8, 10, W16, 3, 1, &err) == 0); /* 8 -> 1 */
	model_free(&m);
	CHECK(seed_network_arch(&m, SEED_ARCH_GROUPS, "t", 1, 4, 4, 10, W16, 3, 1, &err) == -1);
	CHECKF(err.code == NASH_ERR_USAGE && strstr(err.msg, "3 blocks do not fit 4x4 images (3 pools"), "%s",
	       err.msg);
	model_free(&m);
	CHECK(seed_network_arch(&m, SEED_ARCH_GROUPS, "t", 1, 16, 16, 10, W16, 0, 1, &err) == -1);
	model_free(&m);
}

/* nash-init --like: the groups seed's initialiser is init_node in graph order, as the
   paper's, so reinitialising it with its own seed gives it back. */
TEST(the_groups_seed_reinitialised_with_its_seed_is_itself)
{
	Model s, r;
	NashErr err = {0};
	CHECK(build(&s, SEED_ARCH_GROUPS, 1, 16, W16, 3, 9) == 0);
	CHECKF(nash_init_like(&r, &s, 9, &err) == 0, "%s", err.msg);
	CHECK(r.g.n_nodes == s.g.n_nodes);
	for (int i = 0; i < s.g.n_nodes; i++)
		for (int p = 0; p < s.g.nodes[i].n_params; p++)
			CHECK(memcmp(s.g.nodes[i].params[p].data, r.g.nodes[i].params[p].data,
				     tensor_size(&s.g.nodes[i].params[p]) * sizeof(float)) == 0);
	model_free(&r);
	model_free(&s);
}

int main(void)
{
	RUN(names);
	RUN(the_paper_seed);
	RUN(the_groups_seed);
	RUN(the_paper_seed_and_its_id_are_as_before);
	RUN(another_arch_has_another_id);
	RUN(too_many_pools_are_refused);
	RUN(the_groups_seed_reinitialised_with_its_seed_is_itself);
	CHECK_DONE();
}
