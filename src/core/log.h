/* log: one logging entry point with levels, stderr or syslog, and flood throttling. */
#ifndef SITEWATCH_LOG_H
#define SITEWATCH_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <syslog.h>

/* Sets the threshold (LOG_ERR .. LOG_DEBUG) and the sink. Call before threads start. */
void log_init(const char *ident, int level, bool to_syslog);
void log_set_level(int level);
int log_get_level(void);

/* Parses "error", "warning", "notice", "info", "debug" into a LOG_* level; -EINVAL otherwise. */
int log_level_parse(const char *s);

void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The recent-lines ring (for the console's diagnostics): every line logged is also kept in memory,
 * the last LOG_RING_LINES of them. */
#define LOG_RING_LINES 200
struct log_line {
    int64_t wall_ms;
    int prio;
    char text[240];
};
/* Copies up to max of the most recent lines, oldest first, into out; returns how many. */
size_t log_recent(struct log_line *out, size_t max);
/* The name of a LOG_* level ("error" ... "debug"). */
const char *log_level_name(int prio);

/* Flood control in the manner of collectd's c_complain: the first failure is logged, repeats are
 * logged at most once per interval with a count of the suppressed ones, and log_release logs the
 * recovery once. Each owner keeps its own struct (no statics). */
struct log_throttle {
    int64_t next_ms;
    int64_t interval_ms;
    unsigned suppressed;
    bool failing;
};

void log_throttle_init(struct log_throttle *t, int64_t interval_ms);
/* Logs msg at prio if the throttle allows; returns true when it was logged. */
bool log_complain(struct log_throttle *t, int prio, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Logs msg at LOG_NOTICE if the throttle was failing, and resets it. */
void log_release(struct log_throttle *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
