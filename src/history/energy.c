/* energy: kWh totals per local day integrated (trapezoid, 1 s) from the system power points;
 * months and years are sums of days. One JSON state file per year keeps the writes small. */
#include "energy.h"

#include "core/log.h"
#include "core/ticker.h"
#include "core/util.h"

#include <errno.h>
#include <fnmatch.h>
#include <glob.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const energy_counter_names[ENERGY_MAX] = {
    [ENERGY_PV_DC] = "pv_dc",
    [ENERGY_PV_AC] = "pv_ac",
    [ENERGY_CONSUMPTION] = "consumption",
    [ENERGY_GRID_IN] = "grid_in",
    [ENERGY_GRID_OUT] = "grid_out",
    [ENERGY_BATTERY_IN] = "battery_in",
    [ENERGY_BATTERY_OUT] = "battery_out",
};

/* Which Venus system paths feed a counter (their sum), and which part of the sum counts:
 * 0 all of it, +1 its positive part, -1 its negative part as a positive number. Venus signs
 * (dbus-systemcalc-py): grid power > 0 is import, battery power > 0 is charging. */
struct energy_source {
    enum energy_counter counter;
    int sign;
    const char *const patterns[4];
};

static const struct energy_source energy_sources[] = {
    {ENERGY_PV_DC,       0,  {"system/Dc/Pv/Power"}                },
    {ENERGY_PV_AC,
     0,                      {"system/Ac/PvOnOutput/L[123]/Power", "system/Ac/PvOnGrid/L[123]/Power",
      "system/Ac/PvOnGenset/L[123]/Power"}                  },
    {ENERGY_CONSUMPTION, 0,  {"system/Ac/Consumption/L[123]/Power"}},
    {ENERGY_GRID_IN,     1,  {"system/Ac/Grid/L[123]/Power"}       },
    {ENERGY_GRID_OUT,    -1, {"system/Ac/Grid/L[123]/Power"}       },
    {ENERGY_BATTERY_IN,  1,  {"system/Dc/Battery/Power"}           },
    {ENERGY_BATTERY_OUT, -1, {"system/Dc/Battery/Power"}           },
};

/* Two instants further apart are not integrated across. */
#define ENERGY_MAX_GAP_MS 60000

struct energy_day {
    int ymd; /* 20261121, local calendar */
    double kwh[ENERGY_MAX];
};

struct energy {
    pthread_mutex_t lock; /* everything below */
    char dir[PATH_MAX];
    struct store *store;
    struct energy_day *days; /* sorted by ymd */
    size_t ndays, cap;
    int dirty_years[4];
    size_t ndirty;
    bool have_prev;
    int64_t prev_mono_ms;
    double prev_w[ENERGY_MAX];
    bool prev_ok[ENERGY_MAX];
    int64_t save_ms, last_save_ms;
    struct point *snap;
    size_t snapcap;
    struct ticker *ticker;
};

static int energy_ymd(time_t t)
{
    struct tm tm;
    if (!localtime_r(&t, &tm))
        return 0;
    return (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
}

static struct energy_day *energy_day_get(struct energy *e, int ymd)
{
    size_t lo = 0, hi = e->ndays;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (e->days[mid].ymd < ymd)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < e->ndays && e->days[lo].ymd == ymd)
        return &e->days[lo];
    if (e->ndays == e->cap) {
        e->cap = e->cap ? 2 * e->cap : 64;
        e->days = xrealloc(e->days, e->cap * sizeof(*e->days));
    }
    memmove(&e->days[lo + 1], &e->days[lo], (e->ndays - lo) * sizeof(*e->days));
    memset(&e->days[lo], 0, sizeof(*e->days));
    e->days[lo].ymd = ymd;
    e->ndays++;
    return &e->days[lo];
}

static void energy_mark_dirty(struct energy *e, int year)
{
    for (size_t i = 0; i < e->ndirty; i++)
        if (e->dirty_years[i] == year)
            return;
    if (e->ndirty < UTIL_ARRAY_SIZE(e->dirty_years))
        e->dirty_years[e->ndirty++] = year;
}

void energy_feed(struct energy *e, const struct point *pts, size_t n, time_t wall, int64_t mono_ms)
{
    double w[ENERGY_MAX] = {0};
    bool ok[ENERGY_MAX] = {0};
    for (size_t s = 0; s < UTIL_ARRAY_SIZE(energy_sources); s++) {
        const struct energy_source *src = &energy_sources[s];
        double sum = 0;
        bool any = false;
        for (size_t i = 0; i < n; i++) {
            if (pts[i].state != POINT_OK || strncmp(pts[i].key, "system/", 7) != 0)
                continue;
            for (size_t p = 0; p < UTIL_ARRAY_SIZE(src->patterns) && src->patterns[p]; p++) {
                if (fnmatch(src->patterns[p], pts[i].key, 0) == 0) {
                    sum += pts[i].value;
                    any = true;
                    break;
                }
            }
        }
        if (src->sign > 0)
            sum = sum > 0 ? sum : 0;
        else if (src->sign < 0)
            sum = sum < 0 ? -sum : 0;
        w[src->counter] = sum;
        ok[src->counter] = any;
    }
    pthread_mutex_lock(&e->lock);
    int64_t dt = mono_ms - e->prev_mono_ms;
    if (e->have_prev && dt > 0 && dt <= ENERGY_MAX_GAP_MS) {
        struct energy_day *d = NULL;
        for (int c = 0; c < ENERGY_MAX; c++) {
            if (!ok[c] || !e->prev_ok[c])
                continue; /* a missing value is not 0 W: that interval is not counted */
            if (!d) {
                d = energy_day_get(e, energy_ymd(wall));
                energy_mark_dirty(e, d->ymd / 10000);
            }
            d->kwh[c] += (e->prev_w[c] + w[c]) / 2.0 * (double)dt / 3.6e9;
        }
    }
    e->have_prev = true;
    e->prev_mono_ms = mono_ms;
    memcpy(e->prev_w, w, sizeof(w));
    memcpy(e->prev_ok, ok, sizeof(ok));
    pthread_mutex_unlock(&e->lock);
}

static int energy_save_year(struct energy *e, int year)
{
    json_t *days = json_object();
    for (size_t i = 0; i < e->ndays; i++) {
        if (e->days[i].ymd / 10000 != year)
            continue;
        char k[16];
        (void)util_snprintf(k, sizeof(k), "%04d-%02d-%02d", year, e->days[i].ymd / 100 % 100,
                            e->days[i].ymd % 100);
        json_t *row = json_object();
        for (int c = 0; c < ENERGY_MAX; c++)
            json_object_set_new(row, energy_counter_names[c], json_real(e->days[i].kwh[c]));
        json_object_set_new(days, k, row);
    }
    json_t *doc = json_pack("{s:i, s:o}", "version", 1, "days", days);
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(doc);
    char path[PATH_MAX];
    int r = util_snprintf(path, sizeof(path), "%s/%04d.json", e->dir, year);
    if (r == 0)
        r = util_write_atomic(path, text, strlen(text));
    if (r != 0)
        log_msg(LOG_ERR, "energy: cannot save %s: %s", path, strerror(-r));
    free(text);
    return r;
}

int energy_save(struct energy *e)
{
    int r = 0;
    pthread_mutex_lock(&e->lock);
    int e2 = util_mkdirs(e->dir, 0755);
    for (size_t i = 0; i < e->ndirty && e2 == 0; i++) {
        int x = energy_save_year(e, e->dirty_years[i]);
        if (x != 0)
            r = x;
    }
    if (e2 != 0) {
        log_msg(LOG_ERR, "energy: cannot create %s: %s", e->dir, strerror(-e2));
        r = e2;
    }
    if (r == 0)
        e->ndirty = 0;
    e->last_save_ms = util_mono_ms();
    pthread_mutex_unlock(&e->lock);
    return r;
}

/* Reads one year file; a file that does not parse is set aside, never overwritten. */
static void energy_load_file(struct energy *e, const char *path)
{
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    json_t *days = doc ? json_object_get(doc, "days") : NULL;
    if (!json_is_object(days)) {
        char aside[PATH_MAX + 16];
        (void)util_snprintf(aside, sizeof(aside), "%s.corrupt", path);
        log_msg(LOG_WARNING,
                "energy: %s is not a valid totals file (%s); moved to %s, its totals "
                "start again from 0",
                path, doc ? "no \"days\" object" : jerr.text, aside);
        if (rename(path, aside) != 0)
            log_msg(LOG_WARNING, "energy: cannot rename %s: %s", path, strerror(errno));
        json_decref(doc);
        return;
    }
    const char *k;
    json_t *row;
    json_object_foreach(days, k, row)
    {
        long y, m, d;
        char ys[5], ms[3], ds[3];
        if (strlen(k) != 10 || k[4] != '-' || k[7] != '-' || !json_is_object(row))
            continue;
        memcpy(ys, k, 4), ys[4] = 0;
        memcpy(ms, k + 5, 2), ms[2] = 0;
        memcpy(ds, k + 8, 2), ds[2] = 0;
        if (util_parse_long(ys, 10, 1970, 9999, &y) || util_parse_long(ms, 10, 1, 12, &m) ||
            util_parse_long(ds, 10, 1, 31, &d))
            continue;
        struct energy_day *day = energy_day_get(e, (int)(y * 10000 + m * 100 + d));
        for (int c = 0; c < ENERGY_MAX; c++) {
            json_t *v = json_object_get(row, energy_counter_names[c]);
            if (json_is_number(v))
                day->kwh[c] = json_number_value(v);
        }
    }
    json_decref(doc);
}

static void energy_tick(void *arg)
{
    struct energy *e = arg;
    size_t n = store_snapshot(e->store, "system/", e->snap, e->snapcap);
    if (n > e->snapcap) {
        e->snapcap = n + 32;
        e->snap = xrealloc(e->snap, e->snapcap * sizeof(*e->snap));
        n = store_snapshot(e->store, "system/", e->snap, e->snapcap);
        if (n > e->snapcap)
            n = e->snapcap;
    }
    energy_feed(e, e->snap, n, (time_t)(util_wall_ms() / 1000), util_mono_ms());
    if (util_mono_ms() - e->last_save_ms >= e->save_ms)
        (void)energy_save(e);
}

struct energy *energy_new(struct store *store, const char *state_dir, int64_t save_ms)
{
    struct energy *e = xcalloc(1, sizeof(*e));
    pthread_mutex_init(&e->lock, NULL);
    if (util_snprintf(e->dir, sizeof(e->dir), "%s/energy", state_dir) != 0)
        log_msg(LOG_WARNING, "energy: state_dir %s is too long", state_dir);
    char pattern[PATH_MAX + 16];
    glob_t g;
    (void)util_snprintf(pattern, sizeof(pattern), "%s/[0-9][0-9][0-9][0-9].json", e->dir);
    if (glob(pattern, 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++)
            energy_load_file(e, g.gl_pathv[i]);
        globfree(&g);
    }
    e->save_ms = save_ms;
    e->last_save_ms = util_mono_ms();
    e->store = store;
    if (store)
        e->ticker = ticker_start("energy", 1000, energy_tick, e);
    return e;
}

void energy_free(struct energy *e)
{
    if (!e)
        return;
    ticker_stop(e->ticker);
    if (e->store)
        (void)energy_save(e);
    free(e->days);
    free(e->snap);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

int energy_query(struct energy *e, const char *period, time_t from, time_t to, json_t **out)
{
    int div;
    if (strcmp(period, "day") == 0)
        div = 1;
    else if (strcmp(period, "month") == 0)
        div = 100;
    else if (strcmp(period, "year") == 0)
        div = 10000;
    else
        return -EINVAL;
    int lo = energy_ymd(from) / div, hi = energy_ymd(to) / div;
    json_t *rows = json_array();
    pthread_mutex_lock(&e->lock);
    for (size_t i = 0; i < e->ndays;) {
        int key = e->days[i].ymd / div;
        double sum[ENERGY_MAX] = {0};
        for (; i < e->ndays && e->days[i].ymd / div == key; i++)
            for (int c = 0; c < ENERGY_MAX; c++)
                sum[c] += e->days[i].kwh[c];
        if (key < lo || key > hi)
            continue;
        char date[16];
        if (div == 1)
            (void)util_snprintf(date, sizeof(date), "%04d-%02d-%02d", key / 10000, key / 100 % 100,
                                key % 100);
        else if (div == 100)
            (void)util_snprintf(date, sizeof(date), "%04d-%02d", key / 100, key % 100);
        else
            (void)util_snprintf(date, sizeof(date), "%04d", key);
        json_t *row = json_pack("{s:s}", "date", date);
        for (int c = 0; c < ENERGY_MAX; c++)
            json_object_set_new(row, energy_counter_names[c], json_real(sum[c]));
        json_array_append_new(rows, row);
    }
    pthread_mutex_unlock(&e->lock);
    *out = json_pack("{s:s, s:s, s:o}", "period", period, "unit", "kWh", "rows", rows);
    return 0;
}
