/* test_rrdlog: RRD layout and size, unknown for missing values, archive choice for 1 h .. 10 y in
 * simulated time (rrdtool's own timestamps), corrupt and foreign files, energy integration. */
#include "core/conf.h"
#include "core/util.h"
#include "history/energy.h"
#include "history/rrdlog.h"
#include "history/series.h"
#include "test.h"

#include <errno.h>
#include <rrd.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

/* "Now" of the simulated files: a fixed instant, so results never depend on the test clock. */
#define T_NOW ((time_t)1763700000)

static char test_dir[64];

static void test_path(const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", test_dir, name);
    unlink(out);
}

/* Writes samples every `every` seconds over (from, to] with value fn(t); in batches. */
static void write_samples(const char *path, time_t from, time_t to, time_t every,
                          double (*fn)(time_t))
{
    enum { BATCH = 2000 };
    time_t ts[BATCH];
    double v[BATCH];
    size_t n = 0;
    char err[512];
    for (time_t t = from + every; t <= to; t += every) {
        ts[n] = t;
        v[n] = fn(t);
        if (++n == BATCH || t + every > to) {
            int r = rrdlog_file_update(path, NULL, n, ts, v, err, sizeof(err));
            TEST_EQ_LONG(r, 0);
            if (r != 0)
                printf("    %s\n", err);
            n = 0;
        }
    }
}

static void test_key_path(void)
{
    char p[256];
    TEST_EQ_LONG(rrdlog_key_path("/s/rrd", "bmv/Dc/0/Voltage", p, sizeof(p)), 0);
    TEST_STREQ(p, "/s/rrd/bmv.Dc.0.Voltage.rrd");
    /* '.', ':' and others are escaped, so two keys never share a file */
    TEST_EQ_LONG(rrdlog_key_path("/s/rrd", "a.b/x:y", p, sizeof(p)), 0);
    TEST_STREQ(p, "/s/rrd/a%2Eb.x%3Ay.rrd");
    TEST_EQ_LONG(rrdlog_key_path("/s/rrd", "a/b.c", p, sizeof(p)), 0);
    TEST_STREQ(p, "/s/rrd/a.b%2Ec.rrd");
    char small[16];
    TEST_EQ_LONG(rrdlog_key_path("/s/rrd", "bmv/Dc/0/Voltage", small, sizeof(small)),
                 -ENAMETOOLONG);
}

/* The layout the issue asks for, and the size: a 200-point site under 400 MB. */
static void test_layout(void)
{
    char path[128], err[512];
    test_path("layout.rrd", path, sizeof(path));
    TEST_EQ_LONG(rrdlog_file_create(path, T_NOW, RRDLOG_HEARTBEAT_S, err, sizeof(err)), 0);
    /* never overwrites */
    TEST_EQ_LONG(rrdlog_file_create(path, T_NOW, RRDLOG_HEARTBEAT_S, err, sizeof(err)), -EEXIST);
    struct stat st;
    TEST_EQ_LONG(stat(path, &st), 0);
    printf("    one point: %lld bytes, 200 points: %.1f MB\n", (long long)st.st_size,
           200.0 * (double)st.st_size / 1e6);
    TEST_CHECK(200 * st.st_size < 400L * 1000 * 1000);
    rrd_info_t *info = rrd_info_r(path);
    TEST_CHECK(info != NULL);
    /* (seconds per row, rows needed, cf) */
    static const struct {
        long secs;
        long min_secs_covered;
        const char *cf;
    } want[] = {
        {10,    2 * 86400,     "AVERAGE"},
        {60,    7 * 86400,     "AVERAGE"},
        {60,    7 * 86400,     "MIN"    },
        {60,    7 * 86400,     "MAX"    },
        {1800,  395 * 86400,   "AVERAGE"},
        {1800,  395 * 86400,   "MIN"    },
        {1800,  395 * 86400,   "MAX"    },
        {3600,  730 * 86400,   "AVERAGE"},
        {3600,  730 * 86400,   "MIN"    },
        {3600,  730 * 86400,   "MAX"    },
        {86400, 3652L * 86400, "AVERAGE"},
        {86400, 3652L * 86400, "MIN"    },
        {86400, 3652L * 86400, "MAX"    },
    };
    for (size_t w = 0; w < UTIL_ARRAY_SIZE(want); w++) {
        bool found = false;
        for (int i = 0; i < 32 && !found; i++) {
            char k[64];
            long ppr = -1, rows = -1;
            const char *cf = NULL;
            for (rrd_info_t *x = info; x; x = x->next) {
                snprintf(k, sizeof(k), "rra[%d].pdp_per_row", i);
                if (strcmp(x->key, k) == 0)
                    ppr = (long)x->value.u_cnt;
                snprintf(k, sizeof(k), "rra[%d].rows", i);
                if (strcmp(x->key, k) == 0)
                    rows = (long)x->value.u_cnt;
                snprintf(k, sizeof(k), "rra[%d].cf", i);
                if (strcmp(x->key, k) == 0)
                    cf = x->value.u_str;
            }
            found = cf && strcmp(cf, want[w].cf) == 0 && ppr * 10 == want[w].secs &&
                    rows * want[w].secs >= want[w].min_secs_covered;
        }
        if (!found)
            printf("    missing archive %s %lds\n", want[w].cf, want[w].secs);
        TEST_CHECK(found);
    }
    rrd_info_free(info);
    time_t last = 0;
    TEST_EQ_LONG(rrdlog_file_check(path, NULL, &last, err, sizeof(err)), 0);
    TEST_EQ_LONG(last, T_NOW);
}

static double fn_ramp(time_t t)
{
    return (double)(t % 1000);
}

/* Stale / na samples are written as U: they come back unknown (NaN), never 0. */
static void test_unknown(void)
{
    char path[128], err[512];
    test_path("unknown.rrd", path, sizeof(path));
    time_t t0 = T_NOW - 3600;
    TEST_EQ_LONG(rrdlog_file_create(path, t0, RRDLOG_HEARTBEAT_S, err, sizeof(err)), 0);
    time_t ts[60];
    double v[60];
    for (int i = 0; i < 60; i++) {
        ts[i] = t0 + 10 * (i + 1);
        v[i] = (i >= 20 && i < 30) ? NAN : 5.0 + i;
    }
    TEST_EQ_LONG(rrdlog_file_update(path, NULL, 60, ts, v, err, sizeof(err)), 0);
    struct series_data d;
    TEST_EQ_LONG(series_fetch(path, NULL, t0, t0 + 600, 800, &d, err, sizeof(err)), 0);
    TEST_EQ_LONG(d.rra_step, 10);
    size_t known = 0, unknown = 0;
    for (size_t i = 0; i < d.n; i++) {
        time_t t = d.start + (time_t)((i + 1) * d.step);
        int idx = (int)((t - t0) / 10) - 1;
        if (idx < 0 || idx >= 60)
            continue;
        if (idx >= 20 && idx < 30) {
            TEST_CHECK(isnan(d.avg[i]));
            unknown++;
        } else {
            TEST_NEAR(d.avg[i], 5.0 + idx, 1e-9);
            known++;
        }
    }
    TEST_EQ_LONG(unknown, 10);
    TEST_EQ_LONG(known, 50);
    series_data_free(&d);
    /* a gap longer than the heartbeat (daemon down) is unknown too */
    ts[0] = t0 + 600 + 120;
    v[0] = 1;
    TEST_EQ_LONG(rrdlog_file_update(path, NULL, 1, ts, v, err, sizeof(err)), 0);
    TEST_EQ_LONG(series_fetch(path, NULL, t0 + 600, t0 + 720, 800, &d, err, sizeof(err)), 0);
    for (size_t i = 0; i < d.n; i++)
        TEST_CHECK(isnan(d.avg[i]));
    series_data_free(&d);
}

/* The year index since the start of the simulation: a value every reader can predict. */
static double fn_year(time_t t)
{
    return (double)((t - (T_NOW - 3653L * 86400)) / (365L * 86400));
}

/* Ten years in simulated time: hourly samples (heartbeat 2 h), then 10 s samples for the last
 * two days; every range reads from the archive that fits it best: the coarsest one still finer
 * than a returned point (24 h of 800 points: 108 s each, so 1 min rows). */
static void test_resolutions(void)
{
    char path[128], err[512];
    test_path("years.rrd", path, sizeof(path));
    time_t t0 = T_NOW - 3653L * 86400;
    TEST_EQ_LONG(rrdlog_file_create(path, t0, 7200, err, sizeof(err)), 0);
    write_samples(path, t0, T_NOW - 2 * 86400, 3600, fn_year);
    write_samples(path, T_NOW - 2 * 86400, T_NOW, 10, fn_ramp);
    static const struct {
        const char *range;
        unsigned long rra_step;
        bool band;
    } cases[] = {
        {"-1h",  10,    false},
        {"-24h", 60,    true },
        {"-7d",  60,    true },
        {"-1y",  3600,  true },
        {"-10y", 86400, true },
    };
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(cases); i++) {
        time_t from;
        TEST_EQ_LONG(series_parse_time(cases[i].range, T_NOW, &from), 0);
        struct series_data d;
        TEST_EQ_LONG(series_fetch(path, NULL, from, T_NOW, 800, &d, err, sizeof(err)), 0);
        printf("    %-5s archive %6lu s, %4zu points of %7lu s\n", cases[i].range, d.rra_step, d.n,
               d.step);
        TEST_EQ_LONG(d.rra_step, cases[i].rra_step);
        TEST_CHECK(d.n <= 800 && d.n >= 300);
        TEST_CHECK((d.min != NULL) == cases[i].band);
        /* the window is covered: no unknown values except at the very edges */
        size_t unknown = 0;
        for (size_t j = 0; j < d.n; j++)
            unknown += isnan(d.avg[j]);
        TEST_CHECK(unknown <= 2);
        for (size_t j = 0; d.min && j < d.n; j++)
            if (!isnan(d.avg[j]))
                TEST_CHECK(d.min[j] <= d.avg[j] + 1e-9 && d.avg[j] <= d.max[j] + 1e-9);
        if (cases[i].rra_step == 10) {
            /* 10 s archive: exactly the written samples */
            for (size_t j = 0; j < d.n; j++) {
                time_t t = d.start + (time_t)((j + 1) * d.step);
                if (!isnan(d.avg[j]))
                    TEST_NEAR(d.avg[j], fn_ramp(t), 1e-9);
            }
        }
        if (cases[i].rra_step == 86400) {
            /* yearly steps: first year reads 0, the ninth reads 8, bands hold the extremes */
            TEST_NEAR(d.avg[2], 0, 1e-9);
            TEST_NEAR(d.avg[8 * 73 + 10], 8, 1e-9);
            double top = NAN;
            for (size_t j = d.n - 3; j < d.n; j++)
                top = isnan(top) || d.max[j] > top ? d.max[j] : top;
            TEST_NEAR(top, 990, 1e-9); /* t % 1000 at multiples of 10 s */
        }
        series_data_free(&d);
    }
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    TEST_CHECK(f != NULL);
    if (f) {
        fwrite(data, 1, len, f);
        fclose(f);
    }
}

/* Corrupt, truncated and foreign files: a clear error naming the file, never a crash. */
static void test_bad_files(void)
{
    char path[128], err[512];
    struct series_data d;
    test_path("junk.rrd", path, sizeof(path));
    write_file(path, "this is not an rrd file at all\n", 31);
    TEST_EQ_LONG(rrdlog_file_check(path, NULL, NULL, err, sizeof(err)), -EPROTO);
    TEST_CHECK(strstr(err, path) != NULL && strstr(err, "not a readable RRD") != NULL);
    TEST_EQ_LONG(series_fetch(path, NULL, T_NOW - 3600, T_NOW, 800, &d, err, sizeof(err)), -EPROTO);
    time_t ts = T_NOW;
    double v = 1;
    TEST_CHECK(rrdlog_file_update(path, NULL, 1, &ts, &v, err, sizeof(err)) < 0);
    TEST_CHECK(strstr(err, path) != NULL);

    /* a real RRD truncated in the middle of its archives */
    test_path("trunc.rrd", path, sizeof(path));
    TEST_EQ_LONG(rrdlog_file_create(path, T_NOW - 100, RRDLOG_HEARTBEAT_S, err, sizeof(err)), 0);
    TEST_EQ_LONG(truncate(path, 4096), 0);
    int r = series_fetch(path, NULL, T_NOW - 3600, T_NOW, 800, &d, err, sizeof(err));
    TEST_EQ_LONG(r, -EPROTO);
    if (r == 0)
        series_data_free(&d);
    TEST_CHECK(strstr(err, path) != NULL);

    /* a valid RRD of another program (step 300, DS "temp") */
    test_path("foreign.rrd", path, sizeof(path));
    const char *args[] = {"DS:temp:GAUGE:600:U:U", "RRA:AVERAGE:0.5:1:100"};
    TEST_EQ_LONG(rrd_create_r(path, 300, T_NOW - 1000, 2, args), 0);
    TEST_EQ_LONG(rrdlog_file_check(path, NULL, NULL, err, sizeof(err)), -EPROTO);
    TEST_CHECK(strstr(err, "not one of sitewatch") != NULL);
    TEST_EQ_LONG(series_fetch(path, NULL, T_NOW - 3600, T_NOW, 800, &d, err, sizeof(err)), -EPROTO);
    test_path("missing.rrd", path, sizeof(path));
    TEST_EQ_LONG(series_fetch(path, NULL, T_NOW - 3600, T_NOW, 800, &d, err, sizeof(err)), -ENOENT);
}

/* A point added later gets its own file; the files of the others are not touched. */
static void test_new_point_keeps_history(void)
{
    char a[128], b[128], err[512];
    test_path("old.rrd", a, sizeof(a));
    test_path("new.rrd", b, sizeof(b));
    TEST_EQ_LONG(rrdlog_file_create(a, T_NOW - 7200, RRDLOG_HEARTBEAT_S, err, sizeof(err)), 0);
    write_samples(a, T_NOW - 7200, T_NOW - 3600, 10, fn_ramp);
    struct stat s1, s2;
    TEST_EQ_LONG(stat(a, &s1), 0);
    TEST_EQ_LONG(rrdlog_file_create(b, T_NOW - 3600, RRDLOG_HEARTBEAT_S, err, sizeof(err)), 0);
    write_samples(b, T_NOW - 3600, T_NOW, 10, fn_ramp);
    TEST_EQ_LONG(stat(a, &s2), 0);
    TEST_EQ_LONG(s2.st_mtime, s1.st_mtime);
    struct series_data d;
    TEST_EQ_LONG(series_fetch(a, NULL, T_NOW - 7200, T_NOW - 3600, 800, &d, err, sizeof(err)), 0);
    size_t known = 0;
    for (size_t i = 0; i < d.n; i++)
        known += !isnan(d.avg[i]);
    TEST_CHECK(known >= 355);
    series_data_free(&d);
}

/* The file was updated behind the logger's back (a second writer on the same state_dir, a clock
 * step): librrd refuses the whole update for its older samples. Only those are dropped; the
 * newer ones are kept and written by the next call, not the whole batch lost. */
static void test_batch_time_order(void)
{
    char path[128], err[1024] = "";
    test_path("order.rrd", path, sizeof(path));
    TEST_EQ_LONG(rrdlog_file_create(path, T_NOW - 1000, RRDLOG_HEARTBEAT_S, err, sizeof(err)), 0);
    struct rrdlog_batch b = {.last = T_NOW - 1000};
    for (time_t t = T_NOW - 900; t <= T_NOW; t += 10)
        rrdlog_batch_add(&b, t, (double)(t - T_NOW));
    TEST_EQ_LONG(b.n, 91);
    /* another writer reaches T_NOW - 500 first */
    time_t ts = T_NOW - 500;
    double v = 42;
    TEST_EQ_LONG(rrdlog_file_update(path, NULL, 1, &ts, &v, err, sizeof(err)), 0);
    err[0] = '\0';
    TEST_EQ_LONG(rrdlog_batch_write(&b, path, NULL, err, sizeof(err)), -ETIME);
    TEST_CHECK(strstr(err, "illegal attempt to update using time") != NULL);
    TEST_EQ_LONG(b.last, T_NOW - 500);
    TEST_EQ_LONG(b.n, 50); /* T_NOW - 490 .. T_NOW */
    TEST_EQ_LONG(b.n ? b.ts[0] : 0, T_NOW - 490);
    TEST_EQ_LONG(rrdlog_batch_write(&b, path, NULL, err, sizeof(err)), 0);
    TEST_EQ_LONG(b.n, 0);
    TEST_EQ_LONG(b.last, T_NOW);
    time_t last = 0;
    TEST_EQ_LONG(rrdlog_file_check(path, NULL, &last, err, sizeof(err)), 0);
    TEST_EQ_LONG(last, T_NOW);
    /* a batch entirely older than the file: dropped, nothing to write, no error */
    rrdlog_batch_add(&b, T_NOW - 5, 1);
    b.last = T_NOW - 10; /* stale knowledge */
    TEST_EQ_LONG(rrdlog_batch_write(&b, path, NULL, err, sizeof(err)), -ETIME);
    TEST_EQ_LONG(b.n, 0);
    TEST_EQ_LONG(rrdlog_batch_write(&b, path, NULL, err, sizeof(err)), 0);
    /* another failure (the file is gone) is not a time-order one: the batch is left as it is */
    rrdlog_batch_add(&b, T_NOW + 10, 1);
    unlink(path);
    TEST_CHECK(rrdlog_batch_write(&b, path, NULL, err, sizeof(err)) < 0);
    TEST_EQ_LONG(b.n, 1);
    rrdlog_batch_free(&b);
}

static void test_parse_time(void)
{
    time_t t;
    TEST_EQ_LONG(series_parse_time("now", 1000000, &t), 0);
    TEST_EQ_LONG(t, 1000000);
    TEST_EQ_LONG(series_parse_time("-24h", 1000000, &t), 0);
    TEST_EQ_LONG(t, 1000000 - 86400);
    TEST_EQ_LONG(series_parse_time("-2w", 10000000, &t), 0);
    TEST_EQ_LONG(t, 10000000 - 14 * 86400);
    TEST_EQ_LONG(series_parse_time("1763700000", 0, &t), 0);
    TEST_EQ_LONG(t, 1763700000);
    TEST_EQ_LONG(series_parse_time("-24x", 0, &t), -EINVAL);
    TEST_EQ_LONG(series_parse_time("-h", 0, &t), -EINVAL);
    TEST_EQ_LONG(series_parse_time("yesterday", 0, &t), -EINVAL);
    TEST_EQ_LONG(series_parse_time("", 0, &t), -EINVAL);
}

/* [rrd] is validated with file:line like every section. */
static void test_config(void)
{
    static const struct {
        const char *text, *error;
    } cases[] = {
        {"[rrd]\ncache = 1s\n",                  "t.conf:2: cache = 1s: out of range, allowed 10s..1d"},
        {"[rrd]\nrrdcached = localhost:42217\n", "t.conf:2: rrdcached = localhost:42217"              },
        {"[rrd]\ncache = 5\n",                   "t.conf:2:"                                          },
        {"[rrd]\ncahce = 5m\n",                  "t.conf:2:"                                          },
        {"[rrd]\ninclude = bmv/*\nexclude = bmv/History/*\ncache = 1h\nrrdcached = "
         "unix:/run/rrdcached.sock\n",  NULL                                                 },
    };
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(cases); i++) {
        struct conf *c = NULL;
        char err[512] = "";
        int r = conf_parse_string("t.conf", cases[i].text, &c, err, sizeof(err));
        if (!cases[i].error) {
            TEST_EQ_LONG(r, 0);
            const struct conf_section *s = c ? conf_section_nth(c, "rrd", 0) : NULL;
            TEST_CHECK(s != NULL);
            if (s)
                TEST_EQ_LONG(conf_get_ms(s, "cache"), 3600000);
        } else {
            TEST_EQ_LONG(r, -EINVAL);
            TEST_CHECK(strncmp(err, cases[i].error, strlen(cases[i].error)) == 0);
            if (strncmp(err, cases[i].error, strlen(cases[i].error)) != 0)
                printf("    got: %s\n", err);
        }
        conf_free(c);
    }
}

static void set_point(struct point *p, const char *key, double v)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->key, sizeof(p->key), "%s", key);
    p->value = v;
    p->state = POINT_OK;
}

static double row_value(json_t *doc, size_t row, const char *name)
{
    return json_number_value(
        json_object_get(json_array_get(json_object_get(doc, "rows"), row), name));
}

/* Energy totals agree with the integral of the power within 1 %, across days, with missing
 * values skipped (not counted as 0 W), and survive a save and a reload. */
static void test_energy(void)
{
    char sd[96];
    snprintf(sd, sizeof(sd), "%s/state", test_dir);
    struct energy *e = energy_new(NULL, sd, 600000);
    /* 2 days at 1 s, starting at local noon; PV DC a half-sine of 3 kW peak over each 12 h
     * day, battery +/-1500 W alternating each hour, grid on L1 + L2 with a net import of 400 W
     * then an export of 200 W. */
    struct tm tm = {.tm_year = 125, .tm_mon = 5, .tm_mday = 10, .tm_hour = 12, .tm_isdst = -1};
    time_t w0 = mktime(&tm);
    double pv = 0, bin = 0, bout = 0, gin = 0, gout = 0, cons = 0;
    struct point pts[6];
    const double pi = 3.14159265358979;
    for (int i = 0; i <= 2 * 86400; i++) {
        double ph = fmod((double)i, 86400.0);
        double p_pv = ph < 43200 ? 3000 * sin(pi * ph / 43200) : 0;
        double p_bat = (i / 3600) % 2 ? 1500 : -1500;
        double g1 = i < 86400 ? 300 : -100, g2 = i < 86400 ? 100 : -100;
        set_point(&pts[0], "system/Dc/Pv/Power", p_pv);
        set_point(&pts[1], "system/Dc/Battery/Power", p_bat);
        set_point(&pts[2], "system/Ac/Grid/L1/Power", g1);
        set_point(&pts[3], "system/Ac/Grid/L2/Power", g2);
        set_point(&pts[4], "system/Ac/Consumption/L1/Power", 800);
        set_point(&pts[5], "bmv/Dc/0/Power", 99999); /* not a system point: ignored */
        /* the consumption meter is missing for one hour: that hour is not counted */
        if (i >= 36000 && i < 39600)
            pts[4].state = POINT_STALE;
        energy_feed(e, pts, 6, w0 + i, (int64_t)i * 1000);
        if (i > 0) {
            /* the exact integrals, by the rectangle rule on 1 s (error << 1 %) */
            pv += p_pv / 3.6e6;
            bin += (p_bat > 0 ? p_bat : 0) / 3.6e6;
            bout += (p_bat < 0 ? -p_bat : 0) / 3.6e6;
            gin += (g1 + g2 > 0 ? g1 + g2 : 0) / 3.6e6;
            gout += (g1 + g2 < 0 ? -(g1 + g2) : 0) / 3.6e6;
            cons += (i > 36000 && i <= 39600) ? 0 : 800 / 3.6e6;
        }
    }
    /* analytic: 2 half-sines of 3 kW over 12 h = 2 * 3 * 12 * 2 / pi kWh */
    TEST_NEAR(pv, 2 * 3 * 12 * 2 / pi, 0.01 * pv);
    json_t *doc = NULL;
    TEST_EQ_LONG(energy_query(e, "year", w0, w0 + 2 * 86400, &doc), 0);
    TEST_EQ_LONG(json_array_size(json_object_get(doc, "rows")), 1);
    TEST_NEAR(row_value(doc, 0, "pv_dc"), pv, 0.01 * pv);
    TEST_NEAR(row_value(doc, 0, "battery_in"), bin, 0.01 * bin);
    TEST_NEAR(row_value(doc, 0, "battery_out"), bout, 0.01 * bout);
    TEST_NEAR(row_value(doc, 0, "grid_in"), gin, 0.01 * gin);
    TEST_NEAR(row_value(doc, 0, "grid_out"), gout, 0.01 * gout);
    TEST_NEAR(row_value(doc, 0, "consumption"), cons, 0.01 * cons);
    TEST_NEAR(row_value(doc, 0, "pv_ac"), 0, 1e-12);
    json_decref(doc);
    /* three local days (noon to noon to noon) */
    TEST_EQ_LONG(energy_query(e, "day", w0, w0 + 2 * 86400, &doc), 0);
    TEST_EQ_LONG(json_array_size(json_object_get(doc, "rows")), 3);
    TEST_NEAR(row_value(doc, 0, "grid_in"), 0.4 * 12, 0.01 * 4.8);
    json_decref(doc);
    TEST_EQ_LONG(energy_query(e, "week", w0, w0, &doc), -EINVAL);
    TEST_EQ_LONG(energy_save(e), 0);
    energy_free(e);

    e = energy_new(NULL, sd, 600000);
    TEST_EQ_LONG(energy_query(e, "month", w0, w0 + 2 * 86400, &doc), 0);
    TEST_NEAR(row_value(doc, 0, "pv_dc"), pv, 0.01 * pv);
    json_decref(doc);
    energy_free(e);

    /* a corrupt year file: warning, set aside, totals start from 0, no crash */
    char f[160], aside[180];
    snprintf(f, sizeof(f), "%s/energy/2025.json", sd);
    write_file(f, "{\"days\": [garbage", 17);
    e = energy_new(NULL, sd, 600000);
    TEST_EQ_LONG(energy_query(e, "year", w0, w0 + 2 * 86400, &doc), 0);
    TEST_EQ_LONG(json_array_size(json_object_get(doc, "rows")), 0);
    json_decref(doc);
    energy_free(e);
    snprintf(aside, sizeof(aside), "%s.corrupt", f);
    TEST_EQ_LONG(access(aside, F_OK), 0);
    unlink(aside);
    snprintf(f, sizeof(f), "%s/energy", sd);
    rmdir(f);
    rmdir(sd);
}

int main(void)
{
    snprintf(test_dir, sizeof(test_dir), "/tmp/sitewatch-rrd-XXXXXX");
    if (!mkdtemp(test_dir))
        return 1;
    TEST_RUN(test_key_path);
    TEST_RUN(test_parse_time);
    TEST_RUN(test_config);
    TEST_RUN(test_layout);
    TEST_RUN(test_unknown);
    TEST_RUN(test_resolutions);
    TEST_RUN(test_bad_files);
    TEST_RUN(test_batch_time_order);
    TEST_RUN(test_new_point_keeps_history);
    TEST_RUN(test_energy);
    static const char *const files[] = {"layout.rrd", "unknown.rrd", "years.rrd", "junk.rrd",
                                        "trunc.rrd",  "foreign.rrd", "old.rrd",   "new.rrd"};
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(files); i++) {
        char p[128];
        test_path(files[i], p, sizeof(p));
    }
    rmdir(test_dir);
    return test_summary();
}
