/* Errors: the library never exits or prints; it fills a NashErr and returns -1.
   Tools turn it into "program: message" on stderr and an exit status. */
#ifndef NASH_ERR_H
#define NASH_ERR_H

#include <stddef.h>

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
/* Prefixes an existing message with "PREFIX: " (e.g. a file name, shown as nash_name shows it);
   returns -1. */
int nash_err_prefix(NashErr *e, const char *prefix);
void nash_err_clear(NashErr *e);

/* Names in messages. A path, a folder's or a file's name, a name read from a file: anyone may
   have chosen it, so it is shown escaped: each control character (C0, DEL, C1) and each byte
   that is not part of UTF-8 text becomes \n, \r, \t, \xHH or \uHHHH, so that no name can forge
   a line of its own or send the terminal an escape sequence. UTF-8 text without control
   characters ("chat noir/été.png") is shown as it is. nash_escape writes s so escaped to
   out[n], shortened in the middle with "..." when it does not fit, and returns out. */
char *nash_escape(char *out, size_t n, const char *s);
/* A name escaped for a "%s": nash_err(err, code, "%s: not an image", nash_name(path).s). At
   most NASH_NAME_SHOWN bytes, so a long path leaves room in a message for the reason after it. */
#define NASH_NAME_SHOWN 300
typedef struct NashName {
	char s[NASH_NAME_SHOWN + 1];
} NashName;
NashName nash_name(const char *s);
/* Whether nash_escape shows s as it is: UTF-8 text without control characters. */
int nash_text_ok(const char *s);

#endif
