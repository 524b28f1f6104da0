/* ticker: a thread that calls a function at a fixed period (monotonic clock) until stopped. */
#ifndef SITEWATCH_TICKER_H
#define SITEWATCH_TICKER_H

#include <stdint.h>

struct ticker;

/* Calls fn(arg) every period_ms, the first time after one period. NULL (and a log line) when the
 * thread cannot be created. */
struct ticker *ticker_start(const char *name, int64_t period_ms, void (*fn)(void *arg), void *arg);
/* Stops the thread (waits for a running call to finish) and frees the ticker; NULL is a no-op. */
void ticker_stop(struct ticker *t);

#endif
