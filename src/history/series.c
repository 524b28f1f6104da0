/* series: history queries over the RRD files (archive choice, merging, JSON/CSV), energy totals
 * and rrd_graph images, served under /api/v1/. */
#include "series.h"

#include "core/log.h"
#include "core/util.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <rrd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SERIES_MAX_KEYS 16
#define SERIES_MAX_POINTS 10000

struct series {
    struct api_ctx *api;
    struct rrdlog *log;
    struct energy *energy;
    struct store *store;
};

int series_parse_time(const char *s, time_t now, time_t *out)
{
    if (!s || !s[0])
        return -EINVAL;
    if (strcmp(s, "now") == 0) {
        *out = now;
        return 0;
    }
    long v;
    if (s[0] != '-') {
        if (util_parse_long(s, 10, 0, 4102444800L, &v) != 0)
            return -EINVAL;
        *out = (time_t)v;
        return 0;
    }
    static const struct {
        char unit;
        long seconds;
    } units[] = {
        {'s', 1          },
        {'m', 60         },
        {'h', 3600       },
        {'d', 86400      },
        {'w', 7 * 86400  },
        {'y', 365 * 86400},
    };
    size_t len = strlen(s);
    char num[24];
    if (len < 3 || len - 2 >= sizeof(num))
        return -EINVAL;
    memcpy(num, s + 1, len - 2);
    num[len - 2] = '\0';
    if (util_parse_long(num, 10, 0, 100L * 365 * 86400, &v) != 0)
        return -EINVAL;
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(units); i++) {
        if (units[i].unit == s[len - 1]) {
            *out = now - (time_t)(v * units[i].seconds);
            return 0;
        }
    }
    return -EINVAL;
}

void series_data_free(struct series_data *d)
{
    if (!d)
        return;
    free(d->avg);
    free(d->min);
    free(d->max);
    memset(d, 0, sizeof(*d));
}

/* One CF of the file at the given step. Returns the values (n of them) or NULL with err set. */
static double *series_fetch_cf(const char *path, const char *cf, time_t *start, time_t *end,
                               unsigned long *step, size_t *n, char *err, size_t errlen)
{
    unsigned long ds_cnt = 0;
    char **names = NULL;
    rrd_value_t *data = NULL;
    rrd_clear_error();
    if (rrd_fetch_r(path, cf, start, end, step, &ds_cnt, &names, &data) != 0) {
        const char *m = rrd_get_error();
        (void)util_snprintf(err, errlen, "%s: %s", path, m && m[0] ? m : "fetch failed");
        rrd_clear_error();
        return NULL;
    }
    for (unsigned long i = 0; i < ds_cnt; i++)
        free(names[i]);
    free(names);
    if (ds_cnt != 1 || *step == 0) {
        free(data);
        (void)util_snprintf(err, errlen, "%s: expected one data source", path);
        return NULL;
    }
    *n = (size_t)((*end - *start) / (time_t)*step);
    return data;
}

int series_fetch(const char *path, const char *daemon, time_t from, time_t to, size_t max_points,
                 struct series_data *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (to <= from || max_points == 0) {
        (void)util_snprintf(err, errlen, "empty time range");
        return -EINVAL;
    }
    time_t last;
    int r = rrdlog_file_check(path, daemon, &last, err, errlen);
    if (r != 0)
        return r;
    /* The archive that best fits: among those that still hold `from` (counted back from the
     * last update: rrdtool's own time, so files written in simulated time are read in their own
     * time), the coarsest whose rows are no longer than a returned point; the finest holding
     * `from` when even that is too coarse (short ranges); the coarsest when none holds it. */
    size_t a = rrdlog_nrras - 1;
    bool found = false;
    time_t want = (to - from) / (time_t)max_points;
    for (size_t i = 0; i < rrdlog_nrras; i++) {
        time_t rs = (time_t)rrdlog_rras[i].steps * RRDLOG_STEP_S;
        time_t oldest = last / rs * rs - (time_t)(rrdlog_rras[i].rows - 1) * rs;
        if (from < oldest)
            continue;
        if (!found || rs <= want)
            a = i;
        found = true;
    }
    unsigned long step = (unsigned long)rrdlog_rras[a].steps * RRDLOG_STEP_S;
    time_t start = from, end = to;
    size_t n = 0;
    double *avg = series_fetch_cf(path, "AVERAGE", &start, &end, &step, &n, err, errlen);
    if (!avg)
        return -EPROTO;
    double *mn = NULL, *mx = NULL;
    if (rrdlog_rras[a].minmax && step == (unsigned long)rrdlog_rras[a].steps * RRDLOG_STEP_S) {
        time_t s2 = from, e2 = to, s3 = from, e3 = to;
        unsigned long st2 = step, st3 = step;
        size_t n2 = 0, n3 = 0;
        mn = series_fetch_cf(path, "MIN", &s2, &e2, &st2, &n2, err, errlen);
        mx = series_fetch_cf(path, "MAX", &s3, &e3, &st3, &n3, err, errlen);
        if (!mn || !mx || st2 != step || st3 != step || s2 != start || s3 != start || n2 != n ||
            n3 != n) {
            free(mn), free(mx);
            mn = mx = NULL;
        }
    }
    /* Merge groups of k rows: mean of the known averages, extremes of the bands. */
    size_t k = (n + max_points - 1) / max_points;
    if (k == 0)
        k = 1;
    size_t m = (n + k - 1) / k;
    out->start = start;
    out->rra_step = step;
    out->step = step * k;
    out->n = m;
    out->avg = xcalloc(m ? m : 1, sizeof(double));
    bool band = mn || k > 1;
    if (band) {
        out->min = xcalloc(m ? m : 1, sizeof(double));
        out->max = xcalloc(m ? m : 1, sizeof(double));
    }
    for (size_t g = 0; g < m; g++) {
        double sum = 0, lo = NAN, hi = NAN;
        size_t cnt = 0;
        for (size_t i = g * k; i < n && i < (g + 1) * k; i++) {
            if (isnan(avg[i]))
                continue;
            sum += avg[i];
            cnt++;
            double l = mn && !isnan(mn[i]) ? mn[i] : avg[i];
            double h = mx && !isnan(mx[i]) ? mx[i] : avg[i];
            lo = isnan(lo) || l < lo ? l : lo;
            hi = isnan(hi) || h > hi ? h : hi;
        }
        out->avg[g] = cnt ? sum / (double)cnt : NAN;
        if (band) {
            out->min[g] = lo;
            out->max[g] = hi;
        }
    }
    free(avg);
    free(mn);
    free(mx);
    return 0;
}

/* ---- HTTP handlers --------------------------------------------------------------------------- */

struct series_query {
    char keys[SERIES_MAX_KEYS][STORE_KEY_MAX];
    size_t nkeys;
    time_t from, to;
    long points;
};

static int series_parse_query(const struct api_request *r, struct series_query *q, char *err,
                              size_t errlen)
{
    const char *keys = r->arg(r->req, "keys");
    const char *from = r->arg(r->req, "from");
    const char *to = r->arg(r->req, "to");
    const char *points = r->arg(r->req, "points");
    time_t now = (time_t)(util_wall_ms() / 1000);
    memset(q, 0, sizeof(*q));
    if (!keys || !keys[0])
        return util_snprintf(err, errlen, "keys=k1,k2 is required"), -EINVAL;
    for (const char *k = keys; *k;) {
        size_t len = strcspn(k, ",");
        if (len == 0 || len >= STORE_KEY_MAX || q->nkeys == SERIES_MAX_KEYS)
            return util_snprintf(err, errlen, "keys: 1 to %d keys of at most %d characters",
                                 SERIES_MAX_KEYS, STORE_KEY_MAX - 1),
                   -EINVAL;
        memcpy(q->keys[q->nkeys], k, len);
        q->keys[q->nkeys++][len] = '\0';
        k += len;
        if (*k == ',')
            k++;
    }
    if (series_parse_time(from ? from : "-24h", now, &q->from) != 0 ||
        series_parse_time(to ? to : "now", now, &q->to) != 0 || q->to <= q->from)
        return util_snprintf(err, errlen,
                             "from/to: now, a Unix time or -<n><s|m|h|d|w|y>, "
                             "from before to"),
               -EINVAL;
    q->points = 800;
    if (points && util_parse_long(points, 10, 1, SERIES_MAX_POINTS, &q->points) != 0)
        return util_snprintf(err, errlen, "points: 1 to %d", SERIES_MAX_POINTS), -EINVAL;
    return 0;
}

static json_t *series_num(double v)
{
    return isnan(v) ? json_null() : json_real(v);
}

/* The value of d at grid time t (the end of a grid interval), NaN when d has none. */
static double series_at(const struct series_data *d, const double *v, time_t t)
{
    if (!v || d->step == 0 || t <= d->start)
        return NAN;
    time_t off = t - d->start;
    if (off % (time_t)d->step != 0)
        return NAN;
    size_t i = (size_t)(off / (time_t)d->step) - 1;
    return i < d->n ? v[i] : NAN;
}

static void series_csv_add(char **buf, size_t *len, size_t *cap, const char *s)
{
    size_t l = strlen(s);
    if (*len + l + 1 > *cap) {
        *cap = (*len + l + 1) * 2;
        *buf = xrealloc(*buf, *cap);
    }
    memcpy(*buf + *len, s, l + 1);
    *len += l;
}

static void series_handle(void *ctx, const struct api_request *r, struct api_reply *out)
{
    struct series *s = ctx;
    struct series_query q;
    char err[PATH_MAX + 256];
    if (series_parse_query(r, &q, err, sizeof(err)) != 0)
        return api_reply_error(out, 400, err);
    const char *format = r->arg(r->req, "format");
    bool csv = format && strcmp(format, "csv") == 0;
    if (format && !csv && strcmp(format, "json") != 0)
        return api_reply_error(out, 400, "format: json or csv");
    struct series_data d[SERIES_MAX_KEYS];
    memset(d, 0, sizeof(d));
    int grid = -1;
    for (size_t i = 0; i < q.nkeys; i++) {
        char path[PATH_MAX];
        if (rrdlog_key_path(rrdlog_dir(s->log), q.keys[i], path, sizeof(path)) != 0)
            continue;
        rrdlog_flush_key(s->log, q.keys[i]);
        pthread_mutex_lock(rrdlog_lock(s->log));
        int e = series_fetch(path, rrdlog_daemon(s->log), q.from, q.to, (size_t)q.points, &d[i],
                             err, sizeof(err));
        pthread_mutex_unlock(rrdlog_lock(s->log));
        if (e == -ENOENT)
            continue; /* no history yet: nulls */
        if (e != 0) {
            for (size_t j = 0; j < q.nkeys; j++)
                series_data_free(&d[j]);
            char msg[sizeof(err) + STORE_KEY_MAX + 32];
            (void)util_snprintf(msg, sizeof(msg), "history of %s: %s", q.keys[i], err);
            return api_reply_error(out, e == -EINVAL ? 400 : 500, msg);
        }
        if (grid < 0)
            grid = (int)i;
    }
    const struct series_data *g = grid >= 0 ? &d[grid] : NULL;
    size_t n = g ? g->n : 0;
    if (csv) {
        char *buf = NULL, cell[64];
        size_t len = 0, cap = 0;
        series_csv_add(&buf, &len, &cap, "time,iso_time");
        for (size_t i = 0; i < q.nkeys; i++) {
            series_csv_add(&buf, &len, &cap, ",");
            series_csv_add(&buf, &len, &cap, q.keys[i]);
            if (d[i].min) {
                series_csv_add(&buf, &len, &cap, ",");
                series_csv_add(&buf, &len, &cap, q.keys[i]);
                series_csv_add(&buf, &len, &cap, ":min,");
                series_csv_add(&buf, &len, &cap, q.keys[i]);
                series_csv_add(&buf, &len, &cap, ":max");
            }
        }
        series_csv_add(&buf, &len, &cap, "\n");
        for (size_t j = 0; j < n; j++) {
            time_t t = g->start + (time_t)((j + 1) * g->step);
            struct tm tm;
            char iso[32] = "";
            if (gmtime_r(&t, &tm))
                strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
            (void)util_snprintf(cell, sizeof(cell), "%lld,%s", (long long)t, iso);
            series_csv_add(&buf, &len, &cap, cell);
            for (size_t i = 0; i < q.nkeys; i++) {
                const double *cols[3] = {d[i].avg, d[i].min, d[i].max};
                for (size_t c = 0; c < (d[i].min ? 3u : 1u); c++) {
                    double v = series_at(&d[i], cols[c], t);
                    cell[0] = ',';
                    cell[1] = '\0';
                    if (!isnan(v)) /* the shortest text that reads back, as in the JSON */
                        (void)util_format_double(cell + 1, sizeof(cell) - 1, v);
                    series_csv_add(&buf, &len, &cap, cell);
                }
            }
            series_csv_add(&buf, &len, &cap, "\n");
        }
        out->status = 200;
        out->type = "text/csv; charset=utf-8";
        out->body = buf;
        out->len = len;
        out->extra_header = "Content-Disposition: attachment; filename=\"series.csv\"";
    } else {
        json_t *ts = json_array(), *arr = json_array();
        for (size_t j = 0; j < n; j++)
            json_array_append_new(
                ts, json_integer((json_int_t)(g->start + (time_t)((j + 1) * g->step))));
        for (size_t i = 0; i < q.nkeys; i++) {
            struct point p;
            json_t *o = json_pack("{s:s}", "key", q.keys[i]);
            json_object_set_new(o, "unit",
                                json_string(store_get(s->store, q.keys[i], &p) == 0 ? p.unit : ""));
            const double *cols[3] = {d[i].avg, d[i].min, d[i].max};
            static const char *const names[3] = {"values", "min", "max"};
            for (size_t c = 0; c < 3; c++) {
                if (c > 0 && !d[i].min)
                    break;
                json_t *v = json_array();
                for (size_t j = 0; j < n; j++)
                    json_array_append_new(
                        v, series_num(
                               series_at(&d[i], cols[c], g->start + (time_t)((j + 1) * g->step))));
                json_object_set_new(o, names[c], v);
            }
            json_array_append_new(arr, o);
        }
        json_t *doc = json_pack("{s:I, s:I, s:I, s:I, s:I, s:o, s:o}", "from", (json_int_t)q.from,
                                "to", (json_int_t)q.to, "start", (json_int_t)(g ? g->start : 0),
                                "step", (json_int_t)(g ? g->step : 0), "rra_step",
                                (json_int_t)(g ? g->rra_step : 0), "timestamps", ts, "series", arr);
        api_reply_json(out, 200, doc);
    }
    for (size_t i = 0; i < q.nkeys; i++)
        series_data_free(&d[i]);
}

static void energy_handle(void *ctx, const struct api_request *r, struct api_reply *out)
{
    struct series *s = ctx;
    const char *period = r->arg(r->req, "period");
    const char *from = r->arg(r->req, "from");
    const char *to = r->arg(r->req, "to");
    if (!period)
        period = "day";
    const char *def_from = strcmp(period, "year") == 0    ? "-10y"
                           : strcmp(period, "month") == 0 ? "-1y"
                                                          : "-31d";
    time_t now = (time_t)(util_wall_ms() / 1000), f, t;
    if (series_parse_time(from ? from : def_from, now, &f) != 0 ||
        series_parse_time(to ? to : "now", now, &t) != 0 || t < f)
        return api_reply_error(out, 400,
                               "from/to: now, a Unix time or -<n><s|m|h|d|w|y>, from before to");
    json_t *doc;
    if (energy_query(s->energy, period, f, t, &doc) != 0)
        return api_reply_error(out, 400, "period: day, month or year");
    api_reply_json(out, 200, doc);
}

/* A clean style: white background, light grid, no 3-D shading, one colour per series with its
 * min/max band under it in the same colour, translucent. */
static const char *const series_colors[] = {"1f77b4", "d62728", "2ca02c", "ff7f0e",
                                            "9467bd", "8c564b", "e377c2", "17becf"};

static void graph_arg(char ***argv, int *argc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void graph_arg(char ***argv, int *argc, const char *fmt, ...)
{
    char buf[PATH_MAX + 128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        buf[0] = '\0';
    *argv = xrealloc(*argv, (size_t)(*argc + 2) * sizeof(**argv));
    (*argv)[(*argc)++] = xstrdup(buf);
    (*argv)[*argc] = NULL;
}

/* Copies s with anything unprintable dropped and, in graph elements (colon true), rrd_graph's
 * separator ':' escaped. */
static void graph_escape(char *out, size_t n, const char *s, bool colon)
{
    size_t o = 0;
    for (; *s && o + 3 < n; s++) {
        if ((unsigned char)*s < 0x20 || *s == '\\')
            continue;
        if (colon && *s == ':')
            out[o++] = '\\';
        out[o++] = *s;
    }
    out[o] = '\0';
}

static void graph_handle(void *ctx, const struct api_request *r, struct api_reply *out)
{
    struct series *s = ctx;
    struct series_query q;
    char err[PATH_MAX + 256];
    if (series_parse_query(r, &q, err, sizeof(err)) != 0)
        return api_reply_error(out, 400, err);
    bool svg = strcmp(r->path, "/api/v1/graph.svg") == 0;
    long w = 800, h = 240;
    const char *ws = r->arg(r->req, "width"), *hs = r->arg(r->req, "height");
    if ((ws && util_parse_long(ws, 10, 100, 3000, &w) != 0) ||
        (hs && util_parse_long(hs, 10, 50, 2000, &h) != 0))
        return api_reply_error(out, 400, "width 100..3000, height 50..2000");
    const char *title = r->arg(r->req, "title");
    char **argv = NULL;
    int argc = 0;
    graph_arg(&argv, &argc, "graph");
    graph_arg(&argv, &argc, "-");
    graph_arg(&argv, &argc, "--imgformat=%s", svg ? "SVG" : "PNG");
    graph_arg(&argv, &argc, "--start=%lld", (long long)q.from);
    graph_arg(&argv, &argc, "--end=%lld", (long long)q.to);
    graph_arg(&argv, &argc, "--width=%ld", w);
    graph_arg(&argv, &argc, "--height=%ld", h);
    static const char *const style[] = {
        "--slope-mode",          "--border=0",
        "--color=BACK#FFFFFF",   "--color=CANVAS#FFFFFF",
        "--color=SHADEA#FFFFFF", "--color=SHADEB#FFFFFF",
        "--color=GRID#E5E5E5",   "--color=MGRID#BBBBBB",
        "--color=FONT#333333",   "--color=AXIS#888888",
        "--color=FRAME#FFFFFF",  "--color=ARROW#888888",
        "--font=DEFAULT:8:",     "--disable-rrdtool-tag",
        "--font=TITLE:10:",      "--grid-dash=1:0",
    };
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(style); i++)
        graph_arg(&argv, &argc, "%s", style[i]);
    if (title && title[0]) {
        char t[128];
        graph_escape(t, sizeof(t), title, false);
        graph_arg(&argv, &argc, "--title=%s", t);
    }
    /* No --daemon: rrdlog_file_check below has flushed each file from rrdcached already, and
     * rrd_graph's own client would keep a second global connection open. */
    size_t drawn = 0;
    char unit[STORE_UNIT_MAX] = "";
    for (size_t i = 0; i < q.nkeys; i++) {
        char path[PATH_MAX], epath[2 * PATH_MAX], label[2 * STORE_KEY_MAX];
        if (rrdlog_key_path(rrdlog_dir(s->log), q.keys[i], path, sizeof(path)) != 0)
            continue;
        rrdlog_flush_key(s->log, q.keys[i]);
        pthread_mutex_lock(rrdlog_lock(s->log));
        int e = rrdlog_file_check(path, rrdlog_daemon(s->log), NULL, err, sizeof(err));
        pthread_mutex_unlock(rrdlog_lock(s->log));
        if (e == -ENOENT)
            continue;
        if (e != 0) {
            for (int j = 0; j < argc; j++)
                free(argv[j]);
            free(argv);
            return api_reply_error(out, 500, err);
        }
        struct point p;
        const char *u = store_get(s->store, q.keys[i], &p) == 0 ? p.unit : "";
        if (drawn == 0)
            util_strlcpy(unit, u, sizeof(unit));
        else if (strcmp(unit, u) != 0)
            unit[0] = '\0'; /* mixed units: no axis label rather than a wrong one */
        graph_escape(epath, sizeof(epath), path, true);
        graph_escape(label, sizeof(label), q.keys[i], true);
        const char *c = series_colors[drawn % UTIL_ARRAY_SIZE(series_colors)];
        graph_arg(&argv, &argc, "DEF:a%zu=%s:%s:AVERAGE", drawn, epath, RRDLOG_DS);
        graph_arg(&argv, &argc, "DEF:n%zu=%s:%s:MIN", drawn, epath, RRDLOG_DS);
        graph_arg(&argv, &argc, "DEF:x%zu=%s:%s:MAX", drawn, epath, RRDLOG_DS);
        graph_arg(&argv, &argc, "CDEF:r%zu=x%zu,n%zu,-", drawn, drawn, drawn);
        graph_arg(&argv, &argc, "LINE:n%zu", drawn);
        graph_arg(&argv, &argc, "AREA:r%zu#%s33::STACK", drawn, c);
        graph_arg(&argv, &argc, "LINE2:a%zu#%s:%-28s", drawn, c, label);
        graph_arg(&argv, &argc, "GPRINT:a%zu:LAST:last %%8.2lf%%s", drawn);
        graph_arg(&argv, &argc, "GPRINT:a%zu:MIN:min %%8.2lf%%s", drawn);
        graph_arg(&argv, &argc, "GPRINT:a%zu:MAX:max %%8.2lf%%s\\l", drawn);
        drawn++;
    }
    if (drawn == 0) {
        for (int j = 0; j < argc; j++)
            free(argv[j]);
        free(argv);
        return api_reply_error(out, 404, "no history for these keys yet");
    }
    if (unit[0])
        graph_arg(&argv, &argc, "--vertical-label=%s", unit);
    /* rrd_graph keeps global state (option parsing, fonts): one call at a time. */
    pthread_mutex_lock(rrdlog_lock(s->log));
    rrd_clear_error();
    rrd_info_t *info = rrd_graph_v(argc, argv);
    const rrd_info_t *img = NULL;
    for (const rrd_info_t *i = info; i; i = i->next)
        if (strcmp(i->key, "image") == 0 && i->type == RD_I_BLO)
            img = i;
    if (img)
        api_reply_data(out, 200, svg ? "image/svg+xml" : "image/png", img->value.u_blo.ptr,
                       img->value.u_blo.size);
    else {
        const char *m = rrd_get_error();
        (void)util_snprintf(err, sizeof(err), "graph: %s", m && m[0] ? m : "rrd_graph failed");
        api_reply_error(out, 500, err);
    }
    rrd_clear_error();
    pthread_mutex_unlock(rrdlog_lock(s->log));
    rrd_info_free(info);
    for (int j = 0; j < argc; j++)
        free(argv[j]);
    free(argv);
}

struct series *series_start(struct api_ctx *api, struct rrdlog *log, struct energy *energy,
                            struct store *store)
{
    struct series *s = xcalloc(1, sizeof(*s));
    *s = (struct series){.api = api, .log = log, .energy = energy, .store = store};
    if (!api)
        return s;
    if (api_route_add(api, "GET", "/api/v1/series", series_handle, s) != 0 ||
        api_route_add(api, "GET", "/api/v1/energy", energy_handle, s) != 0 ||
        api_route_add(api, "GET", "/api/v1/graph.png", graph_handle, s) != 0 ||
        api_route_add(api, "GET", "/api/v1/graph.svg", graph_handle, s) != 0)
        log_msg(LOG_ERR, "rrd: the API route table is full; history routes are missing");
    return s;
}

void series_stop(struct series *s)
{
    if (!s)
        return;
    if (s->api)
        api_route_remove(s->api, s);
    free(s);
}
