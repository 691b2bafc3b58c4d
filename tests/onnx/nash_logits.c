/* The logits nash computes for the first N test images, and those images, as raw files for a
   comparison with another runtime (tests/bats/nash-export.bats). Only the library's public
   calls: load, instantiate the net, evaluate in inference mode, read the logits.
   Usage: nash_logits MODEL DATA N DEVICE IMAGES_OUT LOGITS_OUT [TTA LABELS_OUT]
   IMAGES_OUT: uint8 [N, C, H, W]; LOGITS_OUT: float32 little-endian [N, classes].
   With TTA (none, flip or flip-shift), LOGITS_OUT receives instead the probabilities of
   nash's evaluation with that test-time augmentation (evaluate, as nash-train --tta does it:
   the views' mean softmax), and LABELS_OUT the labels, uint8 [N]. */
#include <stdio.h>
#include <stdlib.h>

#include "base/atomic.h"
#include "data/data.h"
#include "engine/net.h"
#include "engine/train.h"
#include "model/model.h"

static void fail(const NashErr *err)
{
	fprintf(stderr, "nash_logits: %s\n", err->msg);
	exit(1);
}

int main(int argc, char **argv)
{
	if (argc != 7 && argc != 9) {
		fprintf(stderr, "usage: nash_logits MODEL DATA N DEVICE IMAGES_OUT LOGITS_OUT [TTA LABELS_OUT]\n");
		return 2;
	}
	int n = atoi(argv[3]), with_tta = argc == 9;
	Tta tta = TTA_NONE;
	if (with_tta && tta_parse(argv[7], &tta)) {
		fprintf(stderr, "nash_logits: TTA must be %s\n", TTA_NAMES);
		return 2;
	}
	NashErr err = {0};
	Model m;
	Dataset d;
	if (model_read(&m, argv[1], &err) || dataset_load(&d, argv[2], 1, &err))
		fail(&err);
	if (n < 1 || n > d.n_test) {
		fprintf(stderr, "nash_logits: N must be 1..%d\n", d.n_test);
		return 2;
	}
	/* the whole set at once for the logits; nash-train's batches for an evaluation */
	int batch = with_tta && n > 128 ? 128 : n;
	const Backend *be = backend_find(argv[4], &err);
	Net net;
	DeviceSet set;
	if (!be || net_create(&net, be, 0, &m.g, batch, m.mean, m.std, &err) ||
	    net_upload_set(&net, &set, d.test_x, d.test_y, n, &err))
		fail(&err);
	int K = m.g.n_classes;
	size_t img = (size_t)d.c * d.h * d.w;
	Sample *s = calloc((size_t)n, sizeof *s);
	float *out = malloc((size_t)n * K * sizeof *out); /* [n, K] */
	if (!s || !out)
		return 1;
	double loss, acc;
	if (with_tta) {
		if (evaluate(&net, &set, 0, n, tta, &loss, &acc, out, &err))
			fail(&err);
	} else {
		for (int i = 0; i < n; i++)
			s[i] = (Sample){.index = i};
		net_eval_batch(&net, &set, s, n);
		long count;
		if (net_take_stats(&net, &loss, &acc, &count, &err))
			fail(&err);
		net_read_logits(&net, out, n);
	}
	if (atomic_write(argv[5], d.test_x, (size_t)n * img, &err) ||
	    atomic_write(argv[6], out, (size_t)n * K * sizeof *out, &err) ||
	    (with_tta && atomic_write(argv[8], d.test_y, (size_t)n, &err)))
		fail(&err);
	printf("images=%d classes=%d shape=%dx%dx%d accuracy=%.4f", n, K, d.c, d.h, d.w, acc);
	printf(with_tta ? " tta=%s\n" : "\n", tta_name(tta));
	free(s);
	free(out);
	net_free_set(&net, &set);
	net_free(&net);
	dataset_free(&d);
	model_free(&m);
	return 0;
}
