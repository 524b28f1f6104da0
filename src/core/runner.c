/* runner: driver threads. The runner, never the driver, owns retries: back-off 1, 2, 4 … 60 s after
 * a failure (capped lower for cheap local ports), stale marking, throttled logs and recovery. */
#include "runner.h"

#include "driver.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RUNNER_BACKOFF_MIN_MS 1000
#define RUNNER_BACKOFF_MAX_MS 60000
#define RUNNER_STACK_SIZE (256 * 1024)
#define RUNNER_LOG_INTERVAL_MS (10 * 60 * 1000)

struct drv_instance {
    const struct driver *drv;
    struct store *store;
    int dev;
    struct conf_device conf; /* deep copy: survives a reload that frees the old conf */
    char *state_dir;         /* copy, NULL when there is none */
    void *priv;
    atomic_bool stop;
    bool link_ok;
    int64_t backoff_max_ms;
    char status[160];
    struct log_throttle throttle;
    pthread_mutex_t wait_lock;
    pthread_cond_t wait_cond;
    /* Commands run on the driver thread between polls (the driver's priv is only ever touched
     * by its own thread), one at a time. Each is numbered, and its caller waits for the result
     * of its own number: a command that timed out while the driver was running it still
     * finishes later, and that late result must not be taken for the next command's (issue 14).
     * Guarded by wait_lock; done_cond wakes the callers. 0 = none. */
    pthread_cond_t done_cond;
    uint64_t cmd_last_seq;    /* the last number given out */
    uint64_t cmd_owner_seq;   /* its caller still waits (the result slot is its own) */
    uint64_t cmd_queued_seq;  /* waiting for the driver thread, with cmd_name and cmd_arg */
    uint64_t cmd_running_seq; /* taken by the driver thread, not finished yet */
    uint64_t cmd_done_seq;    /* the last one finished, with cmd_result */
    char cmd_name[32];
    char cmd_arg[128];
    int cmd_result;
};

struct runner {
    struct drv_instance di;
    pthread_t thread;
};

void *drv_priv(struct drv_instance *di)
{
    return di->priv;
}

const char *drv_name(const struct drv_instance *di)
{
    return di->conf.name;
}

static const struct drv_key *drv_key_find(const struct drv_instance *di, const char *key)
{
    for (const struct drv_key *k = di->drv->keys; k && k->name; k++)
        if (strcmp(k->name, key) == 0)
            return k;
    return NULL;
}

const char *drv_conf(const struct drv_instance *di, const char *key)
{
    const char *v = conf_device_value(&di->conf, key);
    if (v)
        return v;
    const struct drv_key *k = drv_key_find(di, key);
    return k && k->def ? k->def : "";
}

bool drv_conf_bool(const struct drv_instance *di, const char *key)
{
    bool b = false;
    util_parse_bool(drv_conf(di, key), &b);
    return b;
}

int64_t drv_conf_ms(const struct drv_instance *di, const char *key)
{
    int64_t ms = 0;
    util_parse_duration_ms(drv_conf(di, key), &ms);
    return ms;
}

long drv_conf_long(const struct drv_instance *di, const char *key)
{
    long l = 0;
    util_parse_long(drv_conf(di, key), 10, -2147483647L, 2147483647L, &l);
    return l;
}

bool drv_stopping(const struct drv_instance *di)
{
    return atomic_load(&di->stop);
}

void drv_log(const struct drv_instance *di, int prio, const char *fmt, ...)
{
    char msg[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_msg(prio, "%s[%s]: %s", di->drv->name, di->conf.name, msg);
}

int drv_point(struct drv_instance *di, const char *path, const char *unit, int64_t ttl_ms)
{
    char key[STORE_KEY_MAX];
    if (util_snprintf(key, sizeof(key), "%s/%s", di->conf.name, path) != 0)
        return -ENAMETOOLONG;
    int id = store_point_define(di->store, di->dev, key, unit, ttl_ms);
    if (id < 0)
        drv_log(di, LOG_ERR, "cannot define point %s: %s", key, strerror(-id));
    return id;
}

void drv_set(struct drv_instance *di, int id, double value)
{
    if (id >= 0)
        store_set(di->store, id, value);
}

void drv_set_na(struct drv_instance *di, int id)
{
    if (id >= 0)
        store_set_na(di->store, id);
}

void drv_set_identity(struct drv_instance *di, uint32_t product_id, const char *product,
                      const char *serial, const char *firmware)
{
    store_device_set_identity(di->store, di->dev, product_id, product, serial, firmware);
}

void drv_set_service(struct drv_instance *di, const char *service)
{
    store_device_set_service(di->store, di->dev, service, di->conf.auto_instance);
}

void drv_set_connection(struct drv_instance *di, const char *where)
{
    store_device_set_connection(di->store, di->dev, where);
}

void drv_set_discovery(struct drv_instance *di, const char *text)
{
    store_device_set_discovery(di->store, di->dev, text);
}

static int drv_state_path(const struct drv_instance *di, const char *what, char *path, size_t len)
{
    if (!di->state_dir || !di->state_dir[0])
        return -ENOENT;
    return util_snprintf(path, len, "%s/%s-%s.%s", di->state_dir, di->drv->name, di->conf.name,
                         what) == 0
               ? 0
               : -ENAMETOOLONG;
}

int drv_state_read(const struct drv_instance *di, const char *what, char *buf, size_t len)
{
    char path[PATH_MAX];
    int r = drv_state_path(di, what, path, sizeof(path));
    char *text;
    size_t n;
    if (r == 0 && len > 0)
        r = util_read_file(path, len - 1, &text, &n);
    if (r != 0)
        return r;
    memcpy(buf, text, n + 1);
    free(text);
    return 0;
}

int drv_state_write(const struct drv_instance *di, const char *what, const char *text)
{
    char path[PATH_MAX];
    int r = drv_state_path(di, what, path, sizeof(path));
    return r == 0 ? util_write_atomic(path, text, strlen(text)) : r;
}

void drv_count(struct drv_instance *di, enum dev_counter c, uint64_t n)
{
    store_device_counter_add(di->store, di->dev, c, n);
}

void drv_status(struct drv_instance *di, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(di->status, sizeof(di->status), fmt, ap);
    va_end(ap);
}

void drv_link_ok(struct drv_instance *di)
{
    if (di->link_ok)
        return;
    di->link_ok = true;
    store_device_set_state(di->store, di->dev, DEV_CONN_OK, "ok");
    char msg[300];
    snprintf(msg, sizeof(msg), "%s[%s]: device is back", di->drv->name, di->conf.name);
    if (di->throttle.failing)
        log_release(&di->throttle, "%s", msg);
    else
        log_msg(LOG_INFO, "%s[%s]: receiving data", di->drv->name, di->conf.name);
}

void drv_set_backoff_max(struct drv_instance *di, int64_t ms)
{
    di->backoff_max_ms = ms < RUNNER_BACKOFF_MIN_MS ? RUNNER_BACKOFF_MIN_MS : ms;
}

/* Sleeps up to ms, returning early when the runner is stopped. */
static void runner_wait(struct drv_instance *di, int64_t ms)
{
    struct timespec ts;
    util_mono_deadline(&ts, ms);
    pthread_mutex_lock(&di->wait_lock);
    while (!atomic_load(&di->stop))
        if (pthread_cond_timedwait(&di->wait_cond, &di->wait_lock, &ts) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&di->wait_lock);
}

/* The link failed (open or poll): stale points, device state, one throttled log line. */
static void runner_failed(struct drv_instance *di, int err, int64_t retry_ms)
{
    store_device_stale(di->store, di->dev);
    if (!di->status[0])
        snprintf(di->status, sizeof(di->status), "%s", strerror(-err));
    store_device_set_state(di->store, di->dev, DEV_CONN_LOST, di->status);
    log_complain(&di->throttle, LOG_WARNING, "%s[%s]: %s; retrying every %lld s or sooner",
                 di->drv->name, di->conf.name, di->status, (long long)(retry_ms / 1000));
    di->link_ok = false;
}

/* Runs the queued command (when the device is open) or refuses it (when it is not). */
static void runner_run_command(struct drv_instance *di, bool open)
{
    pthread_mutex_lock(&di->wait_lock);
    uint64_t seq = di->cmd_queued_seq;
    if (seq != 0) {
        char name[sizeof(di->cmd_name)], arg[sizeof(di->cmd_arg)];
        memcpy(name, di->cmd_name, sizeof(name));
        memcpy(arg, di->cmd_arg, sizeof(arg));
        di->cmd_queued_seq = 0;
        di->cmd_running_seq = seq;
        pthread_mutex_unlock(&di->wait_lock);
        int r = open ? di->drv->command(di, name, arg) : -ENOTCONN;
        pthread_mutex_lock(&di->wait_lock);
        di->cmd_running_seq = 0;
        di->cmd_done_seq = seq;
        di->cmd_result = r;
        pthread_cond_broadcast(&di->done_cond);
    }
    pthread_mutex_unlock(&di->wait_lock);
}

static void *runner_main(void *arg)
{
    struct drv_instance *di = arg;
    int64_t backoff = RUNNER_BACKOFF_MIN_MS;
    bool first = true;
    while (!atomic_load(&di->stop)) {
        memset(di->priv, 0, di->drv->priv_size);
        di->status[0] = '\0';
        if (!first)
            store_device_counter_add(di->store, di->dev, DEV_CNT_RECONNECTS, 1);
        first = false;
        int r = di->drv->open(di);
        if (r == 0) {
            while (!atomic_load(&di->stop)) {
                r = di->drv->poll(di);
                if (r < 0)
                    break;
                runner_run_command(di, true);
                if (di->link_ok)
                    backoff = RUNNER_BACKOFF_MIN_MS;
            }
        }
        di->drv->close(di);
        if (atomic_load(&di->stop))
            break;
        int64_t cap = di->backoff_max_ms ? di->backoff_max_ms : RUNNER_BACKOFF_MAX_MS;
        if (backoff > cap)
            backoff = cap;
        runner_failed(di, r < 0 ? r : -EIO, backoff);
        runner_run_command(di, false);
        runner_wait(di, backoff);
        runner_run_command(di, false);
        backoff = backoff * 2 > RUNNER_BACKOFF_MAX_MS ? RUNNER_BACKOFF_MAX_MS : backoff * 2;
    }
    return NULL;
}

static void runner_copy_conf(struct conf_device *dst, const struct conf_device *src)
{
    *dst = *src;
    dst->name = xstrdup(src->name);
    dst->kv = xcalloc(src->nkv, sizeof(*dst->kv));
    for (size_t i = 0; i < src->nkv; i++) {
        dst->kv[i].key = xstrdup(src->kv[i].key);
        dst->kv[i].value = xstrdup(src->kv[i].value);
        dst->kv[i].line = src->kv[i].line;
    }
}

static void runner_free_conf(struct conf_device *c)
{
    for (size_t i = 0; i < c->nkv; i++) {
        free(c->kv[i].key);
        free(c->kv[i].value);
    }
    free(c->kv);
    free(c->name);
}

struct runner *runner_start(struct store *st, const struct conf_device *cd, const char *state_dir)
{
    int dev = store_device_add(st, cd->name, cd->drv->name);
    if (dev < 0) {
        log_msg(LOG_ERR, "device %s: too many devices", cd->name);
        return NULL;
    }
    struct runner *r = xcalloc(1, sizeof(*r));
    struct drv_instance *di = &r->di;
    di->drv = cd->drv;
    di->store = st;
    di->dev = dev;
    runner_copy_conf(&di->conf, cd);
    di->state_dir = state_dir ? xstrdup(state_dir) : NULL;
    di->priv = xcalloc(1, cd->drv->priv_size ? cd->drv->priv_size : 1);
    atomic_init(&di->stop, false);
    log_throttle_init(&di->throttle, RUNNER_LOG_INTERVAL_MS);
    pthread_mutex_init(&di->wait_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&di->wait_cond, &ca);
    pthread_cond_init(&di->done_cond, &ca);
    pthread_condattr_destroy(&ca);
    store_device_set_state(st, dev, DEV_CONN_INIT, "starting");

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    /* Drivers keep their buffers in priv; a small stack keeps 50 devices cheap. */
    pthread_attr_setstacksize(&attr, RUNNER_STACK_SIZE);
    int e = pthread_create(&r->thread, &attr, runner_main, di);
    pthread_attr_destroy(&attr);
    if (e != 0) {
        log_msg(LOG_ERR, "device %s: cannot start thread: %s", cd->name, strerror(e));
        runner_free_conf(&di->conf);
        free(di->state_dir);
        free(di->priv);
        free(r);
        return NULL;
    }
    return r;
}

void runner_stop(struct runner *r)
{
    if (!r)
        return;
    struct drv_instance *di = &r->di;
    pthread_mutex_lock(&di->wait_lock);
    atomic_store(&di->stop, true);
    pthread_cond_broadcast(&di->wait_cond);
    pthread_cond_broadcast(&di->done_cond);
    pthread_mutex_unlock(&di->wait_lock);
    pthread_join(r->thread, NULL);
    store_device_stale(di->store, di->dev);
    store_device_set_state(di->store, di->dev, DEV_CONN_STOPPED, "stopped");
    pthread_cond_destroy(&di->wait_cond);
    pthread_cond_destroy(&di->done_cond);
    pthread_mutex_destroy(&di->wait_lock);
    runner_free_conf(&di->conf);
    free(di->state_dir);
    free(di->priv);
    free(r);
}

int runner_command(struct runner *r, const char *name, const char *arg, int timeout_ms)
{
    struct drv_instance *di = &r->di;
    if (!di->drv->command)
        return -EOPNOTSUPP;
    if (strlen(name) >= sizeof(di->cmd_name) || strlen(arg) >= sizeof(di->cmd_arg))
        return -E2BIG;
    struct timespec ts;
    util_mono_deadline(&ts, timeout_ms);
    pthread_mutex_lock(&di->wait_lock);
    /* one command at a time per device: wait until the last one's caller has its result (the
     * slot would be overwritten before it looked) and the driver is done with it */
    while ((di->cmd_owner_seq || di->cmd_running_seq) && !atomic_load(&di->stop))
        if (pthread_cond_timedwait(&di->done_cond, &di->wait_lock, &ts) == ETIMEDOUT) {
            pthread_mutex_unlock(&di->wait_lock);
            return -EBUSY;
        }
    if (atomic_load(&di->stop)) {
        pthread_mutex_unlock(&di->wait_lock);
        return -ENOTCONN;
    }
    uint64_t seq = ++di->cmd_last_seq;
    util_strlcpy(di->cmd_name, name, sizeof(di->cmd_name));
    util_strlcpy(di->cmd_arg, arg, sizeof(di->cmd_arg));
    di->cmd_owner_seq = seq;
    di->cmd_queued_seq = seq;
    while (di->cmd_done_seq != seq && !atomic_load(&di->stop))
        if (pthread_cond_timedwait(&di->done_cond, &di->wait_lock, &ts) == ETIMEDOUT)
            break;
    int rc = -ETIMEDOUT;
    if (di->cmd_done_seq == seq)
        rc = di->cmd_result;
    else if (di->cmd_queued_seq == seq)
        di->cmd_queued_seq = 0; /* withdrawn before the driver took it: it never runs */
    /* else the driver is running it: it finishes, but nobody takes that result for another */
    di->cmd_owner_seq = 0;
    pthread_cond_broadcast(&di->done_cond);
    pthread_mutex_unlock(&di->wait_lock);
    return rc;
}

const struct conf_device *runner_conf(const struct runner *r)
{
    return &r->di.conf;
}
