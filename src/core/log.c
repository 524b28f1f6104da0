/* log: leveled logging to stderr or syslog, and per-owner flood throttling. */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Set before threads start (STYLE §6.5); log_set_level changes it on a reload (SIGHUP) while the
 * other threads read it, hence atomic. */
static _Atomic int log_level = LOG_INFO;
static bool log_syslog;

/* The in-memory ring of recent lines: the one other mutable global here, behind its own lock. */
static struct {
    pthread_mutex_t lock;
    struct log_line lines[LOG_RING_LINES];
    size_t next, count;
} log_ring = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* log is the bottom layer: it reads the clocks itself and uses nothing of util. */
static int64_t log_clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void log_ring_add(int prio, const char *line)
{
    struct log_line l = {.wall_ms = log_clock_ms(CLOCK_REALTIME), .prio = prio};
    size_t n = strnlen(line, sizeof(l.text) - 1); /* a long line is cut, as the ring keeps it */
    memcpy(l.text, line, n);
    l.text[n] = '\0';
    pthread_mutex_lock(&log_ring.lock);
    log_ring.lines[log_ring.next] = l;
    log_ring.next = (log_ring.next + 1) % LOG_RING_LINES;
    if (log_ring.count < LOG_RING_LINES)
        log_ring.count++;
    pthread_mutex_unlock(&log_ring.lock);
}

size_t log_recent(struct log_line *out, size_t max)
{
    pthread_mutex_lock(&log_ring.lock);
    size_t n = log_ring.count < max ? log_ring.count : max;
    size_t start = (log_ring.next + LOG_RING_LINES - n) % LOG_RING_LINES;
    for (size_t i = 0; i < n; i++)
        out[i] = log_ring.lines[(start + i) % LOG_RING_LINES];
    pthread_mutex_unlock(&log_ring.lock);
    return n;
}

static const struct {
    const char *name;
    int level;
} log_levels[] = {
    {"error",   LOG_ERR    },
    {"warning", LOG_WARNING},
    {"notice",  LOG_NOTICE },
    {"info",    LOG_INFO   },
    {"debug",   LOG_DEBUG  },
};

void log_init(const char *ident, int level, bool to_syslog)
{
    log_level = level;
    log_syslog = to_syslog;
    if (to_syslog)
        openlog(ident, LOG_PID, LOG_DAEMON);
}

void log_set_level(int level)
{
    log_level = level;
}

int log_get_level(void)
{
    return log_level;
}

int log_level_parse(const char *s)
{
    for (size_t i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++)
        if (strcasecmp(s, log_levels[i].name) == 0)
            return log_levels[i].level;
    return -EINVAL;
}

const char *log_level_name(int prio)
{
    for (size_t i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++)
        if (log_levels[i].level == prio)
            return log_levels[i].name;
    return prio < LOG_ERR ? "error" : "debug";
}

static void log_vmsg(int prio, const char *fmt, va_list ap)
{
    if (prio > log_level)
        return;
    char line[1024];
    vsnprintf(line, sizeof(line), fmt, ap);
    log_ring_add(prio, line);
    if (log_syslog) {
        syslog(prio, "%s", line);
        return;
    }
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
    /* One fprintf per line so that lines from threads do not interleave. */
    fprintf(stderr, "%s.%03ld %s: %s\n", stamp, ts.tv_nsec / 1000000L, log_level_name(prio), line);
}

void log_msg(int prio, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(prio, fmt, ap);
    va_end(ap);
}

void log_throttle_init(struct log_throttle *t, int64_t interval_ms)
{
    memset(t, 0, sizeof(*t));
    t->interval_ms = interval_ms;
}

bool log_complain(struct log_throttle *t, int prio, const char *fmt, ...)
{
    int64_t now = log_clock_ms(CLOCK_MONOTONIC);
    if (t->failing && now < t->next_ms) {
        t->suppressed++;
        return false;
    }
    char line[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (t->suppressed > 0)
        log_msg(prio, "%s (%u similar messages suppressed)", line, t->suppressed);
    else
        log_msg(prio, "%s", line);
    t->failing = true;
    t->suppressed = 0;
    t->next_ms = now + t->interval_ms;
    return true;
}

void log_release(struct log_throttle *t, const char *fmt, ...)
{
    if (!t->failing)
        return;
    char line[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    log_msg(LOG_NOTICE, "%s", line);
    t->failing = false;
    t->suppressed = 0;
    t->next_ms = 0;
}
