/* Errors: the library never exits or prints; it fills a NashErr and returns -1.
   Tools turn it into "program: message" on stderr and an exit status. */
#ifndef NASH_ERR_H
#define NASH_ERR_H

enum {
	NASH_OK = 0,
	NASH_ERR_RUNTIME = 1,  /* bad input file, I/O failure, invalid model: exit 1 */
	NASH_ERR_USAGE = 2,    /* bad command line: exit 2 */
	NASH_ERR_OOM = 3,      /* out of (device) memory: exit 3, so a search can mark a child failed */
	NASH_ERR_DIVERGED = 4, /* training produced NaN/Inf: exit 4 */
	NASH_ERR_NO_FIT = 5,   /* no morphism fits the network (nash-morph): exit 5, also a child's own failure */
};

typedef struct NashErr {
	int code;       /* one of the NASH_ERR_* above; NASH_OK when clear */
	char msg[1024]; /* "FILE: what is wrong" with no program name and no trailing newline */
} NashErr;

/* Sets *e (if non-NULL) and returns -1, so callers can `return nash_err(e, ...)`. */
int nash_err(NashErr *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prefixes an existing message with "PREFIX: " (e.g. a file name); returns -1. */
int nash_err_prefix(NashErr *e, const char *prefix);
void nash_err_clear(NashErr *e);

#endif
