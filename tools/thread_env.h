/* The tools' thread pools (tools only, not libnash: it reads and sets the environment). */
#ifndef NASH_THREAD_ENV_H
#define NASH_THREAD_ENV_H

/* Makes two settings this program's defaults, for the thread pools of the libraries it loads:
   - OMP_WAIT_POLICY=passive: OpenMP threads that wait for work sleep instead of spinning
     (unless OMP_WAIT_POLICY or GOMP_SPINCOUNT is set);
   - OPENBLAS_NUM_THREADS=1: OpenBLAS starts no threads of its own (unless set). nash calls
     OpenBLAS from its own OpenMP threads, one GEMM each, with OpenBLAS set to one thread
     (lib/backend/blas); the pool OpenBLAS otherwise starts when it is loaded is never used,
     and its thread spins (sched_yield) after it starts: measured, a tenth of a second of CPU
     per training process.
   Both libraries read their variables once, when they are loaded (before main), so when either
   is missing this sets it and re-executes the program with the same arguments; it returns when
   the user set both, and when the re-execution fails (the program then runs on with the
   libraries' defaults). Call it first in main, before anything is read or written.

   Why sleeping OpenMP threads: threads that spin between parallel regions take the cores from
   any other process; two trainings sharing a 2-core machine (make -j2 search) each ran at a
   quarter to a third of their speed with spinning threads (docs/SEARCH.md). Sleeping costs a
   single training on idle cores little, because its parallel regions are long
   (convolutions). */
void thread_env_default(char **argv);

#endif
