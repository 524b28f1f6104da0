/* ticker: periodic calls on a thread of their own, stopped promptly through a condition variable.
 */
#include "ticker.h"

#include "log.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ticker {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop;
    int64_t period_ms;
    void (*fn)(void *arg);
    void *arg;
};

static void *ticker_main(void *arg)
{
    struct ticker *t = arg;
    int64_t next = util_mono_ms() + t->period_ms;
    pthread_mutex_lock(&t->lock);
    while (!t->stop) {
        int64_t wait = next - util_mono_ms();
        if (wait > 0) {
            struct timespec ts;
            util_mono_deadline(&ts, wait);
            pthread_cond_timedwait(&t->cond, &t->lock, &ts);
            continue;
        }
        pthread_mutex_unlock(&t->lock);
        t->fn(t->arg);
        pthread_mutex_lock(&t->lock);
        next += t->period_ms;
        int64_t now = util_mono_ms();
        if (next < now) /* fell behind (suspend, overload): skip, do not burst */
            next = now + t->period_ms;
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

struct ticker *ticker_start(const char *name, int64_t period_ms, void (*fn)(void *arg), void *arg)
{
    struct ticker *t = xcalloc(1, sizeof(*t));
    t->period_ms = period_ms > 0 ? period_ms : 1000;
    t->fn = fn;
    t->arg = arg;
    pthread_mutex_init(&t->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 512 * 1024);
    int e = pthread_create(&t->thread, &attr, ticker_main, t);
    pthread_attr_destroy(&attr);
    if (e != 0) {
        log_msg(LOG_ERR, "%s: cannot start thread: %s", name, strerror(e));
        pthread_cond_destroy(&t->cond);
        pthread_mutex_destroy(&t->lock);
        free(t);
        return NULL;
    }
    return t;
}

void ticker_stop(struct ticker *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->lock);
    t->stop = true;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->thread, NULL);
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->lock);
    free(t);
}
