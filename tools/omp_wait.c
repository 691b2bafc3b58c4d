/* tools/omp_wait.h. */
#include <stdlib.h>
#include <unistd.h>

#include "omp_wait.h"

void omp_wait_passive_default(char **argv)
{
	if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT"))
		return;
	if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0)
		return;
	execv("/proc/self/exe", argv);
	unsetenv("OMP_WAIT_POLICY"); /* not re-executed: this process keeps libgomp's default */
}
