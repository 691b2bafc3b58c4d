/* tools/thread_env.h. */
#include <stdlib.h>
#include <unistd.h>

#include "thread_env.h"

void thread_env_default(char **argv)
{
	int omp = !getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT");
	int blas = !getenv("OPENBLAS_NUM_THREADS");
	if (!omp && !blas)
		return;
	if ((!omp || setenv("OMP_WAIT_POLICY", "passive", 1) == 0) &&
	    (!blas || setenv("OPENBLAS_NUM_THREADS", "1", 1) == 0))
		execv("/proc/self/exe", argv);
	/* not re-executed: this process runs on with the libraries' defaults, as set when they
	   were loaded; what was set for the new program is taken back */
	if (omp)
		unsetenv("OMP_WAIT_POLICY");
	if (blas)
		unsetenv("OPENBLAS_NUM_THREADS");
}
