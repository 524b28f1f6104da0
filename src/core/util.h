/* util: allocation wrappers, clocks, strict number and duration parsing, atomic file writes. */
#ifndef SITEWATCH_UTIL_H
#define SITEWATCH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UTIL_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Abort with a log line when memory runs out; never return NULL. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

/* CLOCK_MONOTONIC and CLOCK_REALTIME in milliseconds. */
int64_t util_mono_ms(void);
int64_t util_wall_ms(void);
/* The CLOCK_MONOTONIC instant ms from now, for pthread_cond_timedwait on a condition variable
 * created with pthread_condattr_setclock(CLOCK_MONOTONIC). */
struct timespec;
void util_mono_deadline(struct timespec *ts, int64_t ms);
/* Sleeps ms milliseconds (restarting after signals). */
void util_sleep_ms(int64_t ms);

/* Copies src into dst of size n, always NUL-terminated; returns strlen(src) like strlcpy. */
size_t util_strlcpy(char *dst, const char *src, size_t n);
/* snprintf that reports truncation: 0 or -ENOSPC. */
int util_snprintf(char *dst, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Strict parsers: the whole string must be consumed and in range. 0 or -EINVAL / -ERANGE. */
int util_parse_long(const char *s, int base, long min, long max, long *out);
int util_parse_double(const char *s, double min, double max, double *out);
/* Exact decimal scaling of a wire integer: raw × 10^exp10, done as one correctly rounded IEEE
 * operation (raw / 10^-exp10 when exp10 < 0, raw × 10^exp10 otherwise), so that 13200 mV at
 * exp10 = -3 is the double nearest to 13.2, as strtod("13.200") gives; multiplying by 0.001
 * would give 13.200000000000001. Exact for |raw| < 2^53 and |exp10| <= 22 (the powers of ten a
 * double holds exactly); beyond that it is within an ulp or two. */
double util_scale_decimal(int64_t raw, int exp10);
/* Writes v in the shortest of %.15g, %.16g and %.17g that strtod reads back as the same double
 * ("13.2", "25.284", never "25.283999999999999"); a NaN or an infinity as %g writes it. Returns
 * the length, or -ENOSPC when n is too small (25 bytes always suffice). */
int util_format_double(char *buf, size_t n, double v);
#define UTIL_DOUBLE_MAX 32 /* a buffer size that holds any util_format_double text */
/* "yes/no/true/false/on/off/1/0" → bool. */
int util_parse_bool(const char *s, bool *out);
/* Durations with a unit: "500ms", "5s", "2m", "1h", "1d"; a bare number is rejected. */
int util_parse_duration_ms(const char *s, int64_t *out_ms);
/* "host:port" or "[v6]:port" → host (copied into host[hostlen]) and port. */
int util_parse_hostport(const char *s, char *host, size_t hostlen, int *port);

/* Writes data to path atomically: tmp file + fsync + rename + fsync of the directory. */
int util_write_atomic(const char *path, const void *data, size_t len);
/* Reads a whole file (at most max bytes) into a new NUL-terminated buffer. 0 or -errno. */
int util_read_file(const char *path, size_t max, char **out, size_t *outlen);
/* mkdir -p. */
int util_mkdirs(const char *path, unsigned mode);

#endif
