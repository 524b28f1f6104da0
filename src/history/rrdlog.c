/* rrdlog: samples the store every step into per-point RRD files, batched to spare the flash. */
#include "rrdlog.h"

#include "core/log.h"
#include "core/service.h"
#include "core/ticker.h"
#include "core/util.h"
#include "energy.h"
#include "series.h"

#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <rrd.h>
#include <rrd_client.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* 10 s for 2 days; 1 min for 8 days; 30 min for 13 months; 1 h for 2 years; 1 day for 10
 * years. Rows merging several steps carry MIN and MAX beside AVERAGE. About 1.4 MB a point. */
const struct rrdlog_rra rrdlog_rras[] = {
    {.steps = 1,    .rows = 2 * 8640, .minmax = false},
    {.steps = 6,    .rows = 8 * 1440, .minmax = true },
    {.steps = 180,  .rows = 396 * 48, .minmax = true },
    {.steps = 360,  .rows = 732 * 24, .minmax = true },
    {.steps = 8640, .rows = 3660,     .minmax = true },
};
const size_t rrdlog_nrras = UTIL_ARRAY_SIZE(rrdlog_rras);

static const struct drv_key rrdlog_keys[] = {
    {"enabled",   DRV_KEY_BOOL,     "yes", NULL,      "log history to RRD files under state_dir/rrd/"      },
    {"include",   DRV_KEY_STRING,   "*",   NULL,      "point keys to log: space-separated fnmatch patterns"},
    {"exclude",   DRV_KEY_STRING,   "",    NULL,      "point keys never logged (fnmatch patterns)"         },
    {"cache",     DRV_KEY_DURATION, "15m", "10s..1d",
     "without rrdcached: samples kept in memory this long"                                                 },
    {"rrdcached", DRV_KEY_STRING,   "",    NULL,      "unix:/run/rrdcached.sock to write through rrdcached"},
    {NULL,        0,                NULL,  NULL,      NULL                                                 },
};

static int rrdlog_conf_check(const struct conf_section *s, struct conf_error *e)
{
    /* cache: its range in the key table starts at one step (RRDLOG_STEP_S) */
    const struct conf_kv *kv = conf_get_kv(s, "rrdcached");
    if (kv && kv->value[0] && strncmp(kv->value, "unix:/", 6) != 0)
        return conf_error_at(e, s, kv, "rrdcached = %s: expected unix:/path/to/rrdcached.sock",
                             kv->value);
    return 0;
}

const struct conf_section_type conf_section_rrd = {
    .type = "rrd", .keys = rrdlog_keys, .check = rrdlog_conf_check};

/* ---- one file ------------------------------------------------------------------------------ */

static void rrdlog_seterr(char *err, size_t errlen, const char *what)
{
    const char *m = rrd_get_error();
    if (util_snprintf(err, errlen, "%s: %s", what, m && m[0] ? m : "unknown librrd error") != 0)
        err[errlen - 1] = '\0';
    rrd_clear_error();
}

int rrdlog_key_path(const char *dir, const char *key, char *out, size_t n)
{
    size_t len = util_strlcpy(out, dir, n);
    if (len + 1 >= n)
        return -ENAMETOOLONG;
    out[len++] = '/';
    for (const unsigned char *k = (const unsigned char *)key; *k; k++) {
        char enc[4] = {(char)*k, 0, 0, 0};
        if (*k == '/')
            enc[0] = '.';
        else if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
                   (*k >= '0' && *k <= '9') || *k == '_' || *k == '-'))
            (void)util_snprintf(enc, sizeof(enc), "%%%02X", *k);
        size_t el = strlen(enc);
        if (len + el >= n)
            return -ENAMETOOLONG;
        memcpy(out + len, enc, el);
        len += el;
    }
    if (len + 5 >= n)
        return -ENAMETOOLONG;
    memcpy(out + len, ".rrd", 5);
    return 0;
}

int rrdlog_file_create(const char *path, time_t start, int heartbeat_s, char *err, size_t errlen)
{
    char ds[64];
    char rra[3 * 8][48];
    const char *argv[1 + 3 * 8];
    int argc = 0;
    (void)util_snprintf(ds, sizeof(ds), "DS:%s:GAUGE:%d:U:U", RRDLOG_DS, heartbeat_s);
    argv[argc++] = ds;
    static const char *const cfs[] = {"AVERAGE", "MIN", "MAX"};
    size_t nr = 0;
    for (size_t i = 0; i < rrdlog_nrras; i++) {
        for (size_t c = 0; c < (rrdlog_rras[i].minmax ? 3u : 1u); c++) {
            (void)util_snprintf(rra[nr], sizeof(rra[nr]), "RRA:%s:0.5:%d:%ld", cfs[c],
                                rrdlog_rras[i].steps, rrdlog_rras[i].rows);
            argv[argc++] = rra[nr++];
        }
    }
    rrd_clear_error();
    if (rrd_create_r2(path, RRDLOG_STEP_S, start, 1, NULL, NULL, argc, argv) != 0) {
        rrdlog_seterr(err, errlen, path);
        struct stat st;
        return stat(path, &st) == 0 ? -EEXIST : -EIO;
    }
    return 0;
}

static const rrd_info_t *rrdlog_info_find(const rrd_info_t *i, const char *key)
{
    for (; i; i = i->next)
        if (strcmp(i->key, key) == 0)
            return i;
    return NULL;
}

int rrdlog_file_check(const char *path, const char *daemon, time_t *last, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        int e = errno;
        (void)util_snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    rrd_clear_error();
    if (daemon && rrdc_flush_if_daemon(daemon, path) != 0)
        rrd_clear_error(); /* a file rrdcached never saw: nothing to flush */
    rrd_info_t *info = rrd_info_r(path);
    if (!info) {
        const char *m = rrd_get_error();
        (void)util_snprintf(err, errlen, "%s is not a readable RRD file (%s)", path,
                            m && m[0] ? m : "librrd gave no reason");
        rrd_clear_error();
        return -EPROTO;
    }
    const rrd_info_t *step = rrdlog_info_find(info, "step");
    const rrd_info_t *type = rrdlog_info_find(info, "ds[" RRDLOG_DS "].type");
    const rrd_info_t *lu = rrdlog_info_find(info, "last_update");
    int r = 0;
    if (!step || step->type != RD_I_CNT || step->value.u_cnt != RRDLOG_STEP_S || !type ||
        type->type != RD_I_STR || strcmp(type->value.u_str, "GAUGE") != 0 || !lu ||
        lu->type != RD_I_CNT) {
        (void)util_snprintf(err, errlen,
                            "%s is an RRD file but not one of sitewatch (expected step %d s and "
                            "one GAUGE data source '%s')",
                            path, RRDLOG_STEP_S, RRDLOG_DS);
        r = -EPROTO;
    } else if (last) {
        *last = (time_t)lu->value.u_cnt;
    }
    rrd_info_free(info);
    return r;
}

int rrdlog_file_update(const char *path, const char *daemon, size_t n, const time_t *ts,
                       const double *v, char *err, size_t errlen)
{
    if (n == 0)
        return 0;
    char *buf = xmalloc(n * 40);
    const char **argv = xmalloc(n * sizeof(*argv));
    for (size_t i = 0; i < n; i++) {
        char *b = buf + i * 40;
        if (isnan(v[i]))
            (void)util_snprintf(b, 40, "%lld:U", (long long)ts[i]);
        else
            (void)util_snprintf(b, 40, "%lld:%.10g", (long long)ts[i], v[i]);
        argv[i] = b;
    }
    rrd_clear_error();
    int r;
    if (daemon) {
        r = rrdc_is_connected(daemon) ? 0 : rrdc_connect(daemon);
        /* The client builds one command line in a fixed 4 kB buffer: send in chunks. */
        for (size_t i = 0; r == 0 && i < n; i += 64)
            r = rrdc_update(path, (int)(n - i < 64 ? n - i : 64), argv + i);
        if (r != 0)
            rrdc_disconnect(); /* reconnect on the next write */
    } else {
        r = rrd_update_r(path, RRDLOG_DS, (int)n, argv);
    }
    if (r != 0)
        rrdlog_seterr(err, errlen, path);
    free(argv);
    free(buf);
    return r != 0 ? -EIO : 0;
}

/* ---- a batch of one point's samples ------------------------------------------------------- */

void rrdlog_batch_add(struct rrdlog_batch *b, time_t ts, double v)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 16;
        b->ts = xrealloc(b->ts, b->cap * sizeof(*b->ts));
        b->v = xrealloc(b->v, b->cap * sizeof(*b->v));
    }
    b->ts[b->n] = ts;
    b->v[b->n] = v;
    b->n++;
}

void rrdlog_batch_free(struct rrdlog_batch *b)
{
    free(b->ts);
    free(b->v);
    *b = (struct rrdlog_batch){0};
}

/* Drops the samples not newer than b->last. */
static void rrdlog_batch_trim(struct rrdlog_batch *b)
{
    size_t skip = 0;
    while (skip < b->n && b->ts[skip] <= b->last)
        skip++;
    memmove(b->ts, b->ts + skip, (b->n - skip) * sizeof(*b->ts));
    memmove(b->v, b->v + skip, (b->n - skip) * sizeof(*b->v));
    b->n -= skip;
}

int rrdlog_batch_write(struct rrdlog_batch *b, const char *path, const char *daemon, char *err,
                       size_t errlen)
{
    rrdlog_batch_trim(b); /* the file is ahead (clock stepped back, or a restart within a step) */
    if (b->n == 0)
        return 0;
    int e = rrdlog_file_update(path, daemon, b->n, b->ts, b->v, err, errlen);
    if (e == 0) {
        b->last = b->ts[b->n - 1];
        b->n = 0;
        return 0;
    }
    /* librrd refuses the whole update for one sample not after the file's last update ("illegal
     * attempt to update using time ..."): read where the file is, keep what is newer. */
    time_t last;
    char cerr[PATH_MAX + 128];
    if (rrdlog_file_check(path, daemon, &last, cerr, sizeof(cerr)) != 0 || last < b->ts[0])
        return e; /* not a question of time order */
    b->last = last;
    rrdlog_batch_trim(b);
    return -ETIME;
}

/* ---- the service --------------------------------------------------------------------------- */

struct rrdlog_pt {
    char key[STORE_KEY_MAX];
    char *path;   /* exact size: a PATH_MAX array per point cost 4 kB each of resident memory */
    bool checked; /* file found valid or created */
    bool broken;  /* corrupt or foreign file: left untouched, point not logged */
    bool order_logged;     /* a refusal because of time order was logged (once per file) */
    struct rrdlog_batch b; /* samples not written yet; b.last = last timestamp in the file */
};

struct rrdlog {
    struct store *store;
    char dir[PATH_MAX];
    char *daemon; /* rrdcached address or NULL */
    char **include, **exclude;
    size_t ninclude, nexclude;
    int64_t cache_ms;
    int64_t last_flush_ms;
    pthread_mutex_t lock;    /* librrd calls that are not reentrant, the rrdcached client */
    pthread_mutex_t pt_lock; /* pts and their sample buffers */
    struct rrdlog_pt *pts;
    size_t npts, cappts;
    struct point *snap;
    size_t snapcap;
    struct log_throttle complain;
    struct ticker *ticker;
    struct energy *energy;
    struct series *series;
};

const char *rrdlog_dir(const struct rrdlog *r)
{
    return r->dir;
}

const char *rrdlog_daemon(const struct rrdlog *r)
{
    return r->daemon;
}

pthread_mutex_t *rrdlog_lock(struct rrdlog *r)
{
    return &r->lock;
}

static bool rrdlog_match(char *const *pats, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (fnmatch(pats[i], key, 0) == 0)
            return true;
    return false;
}

static char **rrdlog_split(const char *s, size_t *n)
{
    char **out = NULL;
    *n = 0;
    while (s && *s) {
        while (*s == ' ' || *s == '\t' || *s == ',')
            s++;
        size_t len = strcspn(s, " \t,");
        if (len == 0)
            break;
        out = xrealloc(out, (*n + 1) * sizeof(*out));
        out[*n] = xmalloc(len + 1);
        memcpy(out[*n], s, len);
        out[*n][len] = '\0';
        (*n)++;
        s += len;
    }
    return out;
}

/* Writes one point's pending samples, creating or validating its file first. pt_lock held. */
static void rrdlog_flush_pt(struct rrdlog *r, struct rrdlog_pt *pt)
{
    char err[PATH_MAX + 256];
    if (pt->b.n == 0 || pt->broken)
        return;
    pthread_mutex_lock(&r->lock);
    if (!pt->checked) {
        int e = rrdlog_file_check(pt->path, r->daemon, &pt->b.last, err, sizeof(err));
        if (e == -ENOENT) {
            e = rrdlog_file_create(pt->path, pt->b.ts[0] - 1, RRDLOG_HEARTBEAT_S, err, sizeof(err));
            pt->b.last = pt->b.ts[0] - 1;
        }
        if (e == 0) {
            pt->checked = true;
        } else {
            /* Never overwrite what we cannot read: it may be someone's history. */
            log_msg(LOG_ERR, "rrd: %s; point %s is not logged until it is moved away", err,
                    pt->key);
            pt->broken = true;
            pt->b.n = 0;
            pthread_mutex_unlock(&r->lock);
            return;
        }
    }
    int e = rrdlog_batch_write(&pt->b, pt->path, r->daemon, err, sizeof(err));
    if (e == -ETIME) {
        /* The file moved past some samples (a second writer, a clock step): those are dropped,
         * the newer ones are written now, or kept for the next flush. */
        if (!pt->order_logged)
            log_msg(LOG_WARNING,
                    "rrd: %s refused an update because of time order (%s); samples up to its last "
                    "update are dropped, the %zu newer kept (logged once per file)",
                    pt->key, err, pt->b.n);
        pt->order_logged = true;
        e = rrdlog_batch_write(&pt->b, pt->path, r->daemon, err, sizeof(err));
    }
    pthread_mutex_unlock(&r->lock);
    if (e == 0) {
        log_release(&r->complain, "rrd: updates work again");
    } else if (e != -ETIME) {
        log_complain(&r->complain, LOG_ERR, "rrd: update of %s failed: %s", pt->key, err);
        pt->checked = false; /* look at the file again next time */
        pt->b.n = 0;
    }
}

static void rrdlog_flush_locked(struct rrdlog *r)
{
    for (size_t i = 0; i < r->npts; i++)
        rrdlog_flush_pt(r, &r->pts[i]);
    r->last_flush_ms = util_mono_ms();
}

static void rrdlog_flush(struct rrdlog *r)
{
    pthread_mutex_lock(&r->pt_lock);
    rrdlog_flush_locked(r);
    pthread_mutex_unlock(&r->pt_lock);
}

void rrdlog_flush_key(struct rrdlog *r, const char *key)
{
    pthread_mutex_lock(&r->pt_lock);
    for (size_t i = 0; i < r->npts; i++)
        if (strcmp(r->pts[i].key, key) == 0)
            rrdlog_flush_pt(r, &r->pts[i]);
    pthread_mutex_unlock(&r->pt_lock);
}

static struct rrdlog_pt *rrdlog_pt_get(struct rrdlog *r, size_t idx, const char *key)
{
    if (idx < r->npts && strcmp(r->pts[idx].key, key) == 0)
        return &r->pts[idx];
    for (size_t i = 0; i < r->npts; i++)
        if (strcmp(r->pts[i].key, key) == 0)
            return &r->pts[i];
    if (r->npts == r->cappts) {
        r->cappts = r->cappts ? 2 * r->cappts : 64;
        r->pts = xrealloc(r->pts, r->cappts * sizeof(*r->pts));
    }
    struct rrdlog_pt *pt = &r->pts[r->npts++];
    memset(pt, 0, sizeof(*pt));
    util_strlcpy(pt->key, key, sizeof(pt->key));
    char path[PATH_MAX];
    if (rrdlog_key_path(r->dir, key, path, sizeof(path)) != 0) {
        log_msg(LOG_ERR, "rrd: file name of %s is too long; not logged", key);
        pt->broken = true;
        path[0] = '\0';
    }
    pt->path = xstrdup(path);
    return pt;
}

/* Every step: one sample per logged point, U when the point is not ok. */
static void rrdlog_tick(void *arg)
{
    struct rrdlog *r = arg;
    size_t n = store_snapshot(r->store, NULL, r->snap, r->snapcap);
    if (n > r->snapcap) {
        r->snapcap = n + 64;
        r->snap = xrealloc(r->snap, r->snapcap * sizeof(*r->snap));
        n = store_snapshot(r->store, NULL, r->snap, r->snapcap);
        if (n > r->snapcap)
            n = r->snapcap;
    }
    /* Timestamps on the step grid: each sample then fills exactly one primary row, so the 10 s
     * archive holds the values the devices sent (not a time-weighted blend of two samples). */
    time_t now = (time_t)(util_wall_ms() / 1000 / RRDLOG_STEP_S * RRDLOG_STEP_S);
    pthread_mutex_lock(&r->pt_lock);
    for (size_t i = 0; i < n; i++) {
        const struct point *p = &r->snap[i];
        if (!rrdlog_match(r->include, r->ninclude, p->key) ||
            rrdlog_match(r->exclude, r->nexclude, p->key))
            continue;
        struct rrdlog_pt *pt = rrdlog_pt_get(r, i, p->key);
        if (pt->broken)
            continue;
        if (pt->b.n > 0 && pt->b.ts[pt->b.n - 1] >= now)
            continue;
        rrdlog_batch_add(&pt->b, now,
                         p->state == POINT_OK ? p->value : NAN); /* stale, na, unset: U */
    }
    /* rrdcached batches (and journals) on its own: hand every sample over at once. */
    if (r->daemon || util_mono_ms() - r->last_flush_ms >= r->cache_ms)
        rrdlog_flush_locked(r);
    pthread_mutex_unlock(&r->pt_lock);
}

static void rrdlog_free(struct rrdlog *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->npts; i++) {
        rrdlog_batch_free(&r->pts[i].b);
        free(r->pts[i].path);
    }
    for (size_t i = 0; i < r->ninclude; i++)
        free(r->include[i]);
    for (size_t i = 0; i < r->nexclude; i++)
        free(r->exclude[i]);
    free(r->include);
    free(r->exclude);
    free(r->pts);
    free(r->snap);
    free(r->daemon);
    pthread_mutex_destroy(&r->lock);
    pthread_mutex_destroy(&r->pt_lock);
    free(r);
}

static void rrdlog_stop(void *inst)
{
    struct rrdlog *r = inst;
    if (!r)
        return;
    series_stop(r->series);
    ticker_stop(r->ticker);
    rrdlog_flush(r); /* a clean stop or a reload loses nothing */
    if (r->daemon) {
        pthread_mutex_lock(&r->lock);
        rrdc_disconnect();
        pthread_mutex_unlock(&r->lock);
    }
    energy_free(r->energy);
    rrdlog_free(r);
}

static int rrdlog_start(struct core *core, void **inst)
{
    static const struct conf_section empty = {.type = &conf_section_rrd};
    const struct conf_section *s = conf_section_nth(core->conf, "rrd", 0);
    if (!s)
        s = &empty;
    *inst = NULL;
    if (!conf_get_bool(s, "enabled"))
        return 0;
    struct rrdlog *r = xcalloc(1, sizeof(*r));
    r->store = core->store;
    pthread_mutex_init(&r->lock, NULL);
    pthread_mutex_init(&r->pt_lock, NULL);
    log_throttle_init(&r->complain, 600000);
    if (util_snprintf(r->dir, sizeof(r->dir), "%s/rrd", core->conf->state_dir) != 0) {
        log_msg(LOG_ERR, "rrd: state_dir %s is too long", core->conf->state_dir);
        rrdlog_free(r);
        return -ENAMETOOLONG;
    }
    int e = util_mkdirs(r->dir, 0755);
    if (e != 0) {
        log_msg(LOG_ERR, "rrd: cannot create %s: %s", r->dir, strerror(-e));
        rrdlog_free(r);
        return e;
    }
    const char *d = conf_get(s, "rrdcached");
    if (d && d[0])
        r->daemon = xstrdup(d);
    r->include = rrdlog_split(conf_get(s, "include"), &r->ninclude);
    r->exclude = rrdlog_split(conf_get(s, "exclude"), &r->nexclude);
    r->cache_ms = conf_get_ms(s, "cache");
    r->last_flush_ms = util_mono_ms();
    r->energy = energy_new(core->store, core->conf->state_dir, r->cache_ms);
    if (!r->energy) {
        rrdlog_free(r);
        return -EIO;
    }
    r->series = series_start(core->api, r, r->energy, core->store);
    r->ticker = ticker_start("rrdlog", RRDLOG_STEP_S * 1000, rrdlog_tick, r);
    if (!r->ticker) {
        series_stop(r->series);
        energy_free(r->energy);
        rrdlog_free(r);
        return -EAGAIN;
    }
    log_msg(LOG_INFO, "rrd: logging to %s every %d s (%s)", r->dir, RRDLOG_STEP_S,
            r->daemon ? r->daemon : "batched in memory");
    *inst = r;
    return 0;
}

const struct service service_rrdlog = {
    .name = "rrdlog", .start = rrdlog_start, .stop = rrdlog_stop};
