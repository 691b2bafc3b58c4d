/* Fuzz target for the dataset file reader (`h5:FILE`, docs/DATASETS.md; libFuzzer, `make fuzz
   FUZZ_TARGET=datasets`). The input is read as an in-memory file image by the reader without
   its crash isolation and limits (a crash or a spin must be seen here, not turned into an error
   in a child), test images included. tests/fuzz/README.md says how to run it and how what it
   finds joins the regression corpus. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "data/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	NashErr err = {0};
	Dataset d;
	if (dataset_parse_h5_mem(&d, data, size, "fuzz", 1, &err) == 0) {
		/* what the tools do next with an accepted file: the class names must be valid */
		if (class_names_check(d.class_names, d.n_classes, &err)) {
			fprintf(stderr, "fuzz_datasets: an accepted file's class names are refused: %s\n", err.msg);
			abort();
		}
		dataset_free(&d);
	}
	return 0;
}
