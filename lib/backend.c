/* Backend selection by name (the tools' --device). */
#include <string.h>

#include "backend.h"

#ifndef NASH_HAVE_CUDA
/* Built without CUDA: there is no CUDA backend. A CUDA build defines NASH_HAVE_CUDA and
   provides the real one. */
const Backend *nash_backend_cuda(void) { return NULL; }
#endif

/* "cuda" in a build without CUDA is a usage error (exit 2), like any other device this nash
   cannot run: the command line asks for something impossible, retrying will not help.
   "auto" takes CUDA whenever the build has it; a CUDA backend without a visible GPU reports
   that itself (its init fails). NULL means "auto". */
const Backend *backend_find(const char *name, NashErr *err)
{
	if (!name || !strcmp(name, "auto")) {
		const Backend *cuda = nash_backend_cuda();
		return cuda ? cuda : &nash_backend_cpu;
	}
	if (!strcmp(name, "cpu"))
		return &nash_backend_cpu;
	if (!strcmp(name, "ref"))
		return &nash_backend_ref;
	if (!strcmp(name, "cuda")) {
		const Backend *cuda = nash_backend_cuda();
		if (!cuda)
#ifdef NASH_HAVE_CUDA
			nash_err(err, NASH_ERR_RUNTIME,
				 "--device cuda: no CUDA GPU is visible (check the driver and CUDA_VISIBLE_DEVICES)");
#else
			nash_err(err, NASH_ERR_USAGE, "--device cuda: this nash was built without CUDA");
#endif
		return cuda;
	}
	nash_err(err, NASH_ERR_USAGE, "--device %s: unknown device (choose auto, cpu, cuda or ref)", name);
	return NULL;
}
