/* The tools' OpenMP wait policy (tools only, not libnash: it reads and sets the environment). */
#ifndef NASH_OMP_WAIT_H
#define NASH_OMP_WAIT_H

/* Makes OMP_WAIT_POLICY=passive the default of this program: threads that wait for work sleep
   instead of spinning. libgomp reads the variable once, when it is loaded (before main), so
   when neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT is set this sets it and re-executes the
   program with the same arguments; it returns when the user set either variable, and when
   the re-execution fails (the program then runs on under libgomp's spinning default).
   Call it first in main, before anything is read or written.

   Why: OpenMP threads that spin between parallel regions take the cores from any other
   process; two trainings sharing a 2-core machine (make -j2 search) each ran at a quarter to a
   third of their speed with spinning threads (docs/SEARCH.md). Sleeping costs a single
   training on idle cores little, because its parallel regions are long (convolutions). */
void omp_wait_passive_default(char **argv);

#endif
