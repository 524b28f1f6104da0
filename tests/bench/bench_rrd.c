/* bench_rrd: the figures of the RRD issue, measured with the daemon's own functions:
 * update cost per point per step, bytes written to disk per day for a 200-point site (batched in
 * memory, unbatched, and through rrdcached), the disk size per point, and the latency of a
 * 1-year 800-point series query and of a PNG graph. Time is simulated (explicit timestamps), and
 * the files are synced between flushes so that every flush is counted as the kernel would write
 * it back (the page cache otherwise merges repeated writes that in real time are 15 min apart).
 *
 * usage: bench_rrd DIR [unix:/path/rrdcached.sock RRDCACHED_PID]   (DIR on a real disk) */
#include "core/util.h"
#include "history/rrdlog.h"
#include "history/series.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <rrd.h>
#include <rrd_client.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NPOINTS 200
#define T0 ((time_t)1763700000)

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* write_bytes of /proc/<pid>/io: bytes this process caused to be sent to storage. */
static long long io_write_bytes(const char *pid)
{
    char path[64], *text = NULL;
    size_t len;
    snprintf(path, sizeof(path), "/proc/%s/io", pid);
    if (util_read_file(path, 1 << 16, &text, &len) != 0)
        return -1;
    long long v = -1;
    char *p = strstr(text, "\nwrite_bytes: ");
    if (p) {
        long l;
        char *end = strchr(p + 14, '\n');
        if (end)
            *end = '\0';
        if (util_parse_long(p + 14, 10, 0, LONG_MAX, &l) == 0)
            v = l;
    }
    free(text);
    return v;
}

static void sync_file(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        (void)fdatasync(fd);
        close(fd);
    }
}

/* 4 KiB pages that differ between two versions of a file: what a kernel with 4 KiB page-cache
 * pages must write back (kernels with large folios, e.g. ext4 since Linux 6.16, write more). */
static size_t changed_pages(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = 0, len = alen > blen ? alen : blen;
    for (size_t off = 0; off < len; off += 4096) {
        size_t l = len - off < 4096 ? len - off : 4096;
        if (off + l > alen || off + l > blen || memcmp(a + off, b + off, l) != 0)
            n++;
    }
    return n;
}

static size_t sim_pages; /* pages changed in the last simulate() */

static void make_files(const char *dir, const char *tag, char paths[][256])
{
    char err[512];
    for (int i = 0; i < NPOINTS; i++) {
        snprintf(paths[i], 256, "%s/%s-%03d.rrd", dir, tag, i);
        unlink(paths[i]);
        if (rrdlog_file_create(paths[i], T0, RRDLOG_HEARTBEAT_S, err, sizeof(err)) != 0) {
            fprintf(stderr, "bench_rrd: %s\n", err);
            exit(1);
        }
        sync_file(paths[i]);
    }
}

/* Simulates `seconds` of logging NPOINTS points, writing every `window` seconds (or through
 * rrdcached when daemon is set). Returns the microseconds spent in the update calls. */
static int64_t simulate(char paths[][256], const char *daemon, time_t start, time_t seconds,
                        time_t window)
{
    size_t per = (size_t)(window / RRDLOG_STEP_S);
    time_t *ts = calloc(per, sizeof(*ts));
    double *v = calloc(per, sizeof(*v));
    char err[512];
    int64_t spent = 0;
    sim_pages = 0;
    for (time_t t = start; t < start + seconds; t += window) {
        for (int i = 0; i < NPOINTS; i++) {
            for (size_t k = 0; k < per; k++) {
                ts[k] = t + (time_t)(k + 1) * RRDLOG_STEP_S;
                v[k] = 24.0 + sin((double)ts[k] / 3000.0 + i);
            }
            char *before = NULL, *after = NULL;
            size_t blen = 0, alen = 0;
            if (util_read_file(paths[i], 1 << 26, &before, &blen) != 0)
                exit(1);
            int64_t a = now_us();
            if (rrdlog_file_update(paths[i], daemon, per, ts, v, err, sizeof(err)) != 0) {
                fprintf(stderr, "bench_rrd: %s\n", err);
                exit(1);
            }
            spent += now_us() - a;
            /* rrdcached -w: every file written once per window (FLUSH waits for the write) */
            if (daemon && rrdc_flush(paths[i]) != 0)
                fprintf(stderr, "bench_rrd: flush: %s\n", rrd_get_error());
            if (util_read_file(paths[i], 1 << 26, &after, &alen) != 0)
                exit(1);
            sim_pages += changed_pages(before, blen, after, alen);
            free(before);
            free(after);
        }
        for (int i = 0; i < NPOINTS; i++)
            sync_file(paths[i]); /* the kernel writes back within 30 s: before the next flush */
    }
    free(ts);
    free(v);
    return spent;
}

static void bytes_per_day(const char *dir, const char *label, const char *tag, time_t window,
                          time_t sim)
{
    static char paths[NPOINTS][256];
    make_files(dir, tag, paths);
    long long w0 = io_write_bytes("self");
    int64_t us = simulate(paths, NULL, T0, sim, window);
    long long w1 = io_write_bytes("self");
    double scale = 86400.0 / (double)sim;
    printf("  %-31s %7.0f MB/day (4 KiB pages changed), %7.0f MB/day (write_bytes here); "
           "%.1f us/point/step\n",
           label, (double)sim_pages * 4096 * scale / 1e6, (double)(w1 - w0) * scale / 1e6,
           (double)us / (NPOINTS * (double)(sim / RRDLOG_STEP_S)));
    for (int i = 0; i < NPOINTS; i++)
        unlink(paths[i]);
}

static double fn_value(time_t t)
{
    return 24.0 + sin((double)t / 86400.0);
}

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 4) {
        fprintf(stderr, "usage: bench_rrd DIR [unix:/path/rrdcached.sock RRDCACHED_PID]\n");
        return 2;
    }
    const char *dir = argv[1];
    char err[512];
    printf("== RRD history: %d points, step %d s\n", NPOINTS, RRDLOG_STEP_S);
    {
        char p[256];
        snprintf(p, sizeof(p), "%s/size.rrd", dir);
        unlink(p);
        if (rrdlog_file_create(p, T0, RRDLOG_HEARTBEAT_S, err, sizeof(err)) != 0)
            return fprintf(stderr, "bench_rrd: %s\n", err), 1;
        struct stat st;
        stat(p, &st);
        printf("  disk: %.2f MB per point, %.0f MB for a 200-point site (allocated up front)\n",
               (double)st.st_size / 1e6, 200.0 * (double)st.st_size / 1e6);
        unlink(p);
    }
    printf("  bytes written per day, 200 points (simulated time):\n");
    bytes_per_day(dir, "batched, cache = 15m (default)", "b15", 900, 2 * 3600);
    bytes_per_day(dir, "batched, cache = 5m", "b5", 300, 3600);
    bytes_per_day(dir, "unbatched (every 10 s step)", "b0", 10, 120);
    if (argc == 4) {
        static char paths[NPOINTS][256];
        make_files(dir, "rc", paths);
        if (rrdc_connect(argv[2]) != 0)
            return fprintf(stderr, "bench_rrd: rrdcached %s: %s\n", argv[2], rrd_get_error()), 1;
        long long w0 = io_write_bytes(argv[3]);
        int64_t us = simulate(paths, argv[2], T0, 4 * 3600, 3600);
        long long w1 = io_write_bytes(argv[3]);
        printf("  %-31s %7.0f MB/day (4 KiB pages changed), %7.0f MB/day (rrdcached's "
               "write_bytes, journal included); %.1f us/point/step to hand over\n",
               "rrdcached -w 3600 -j", (double)sim_pages * 4096 * 6 / 1e6,
               (double)(w1 - w0) * 6 / 1e6, (double)us / (NPOINTS * 4.0 * 360));
        rrdc_disconnect();
        for (int i = 0; i < NPOINTS; i++)
            unlink(paths[i]);
    } else {
        printf("  (rrdcached: not measured; run.sh starts one when rrdcached is installed)\n");
    }

    /* a point with a year and two days of history */
    char p[256];
    snprintf(p, sizeof(p), "%s/year.rrd", dir);
    unlink(p);
    time_t start = T0 - 367 * 86400;
    if (rrdlog_file_create(p, start, 7200, err, sizeof(err)) != 0)
        return fprintf(stderr, "bench_rrd: %s\n", err), 1;
    enum { BATCH = 1000 };
    time_t ts[BATCH];
    double v[BATCH];
    size_t n = 0;
    for (time_t t = start + 10; t <= T0; t += (t < T0 - 2 * 86400 ? 3600 : 10)) {
        ts[n] = t;
        v[n] = fn_value(t);
        if (++n == BATCH) {
            if (rrdlog_file_update(p, NULL, n, ts, v, err, sizeof(err)) != 0)
                return fprintf(stderr, "bench_rrd: %s\n", err), 1;
            n = 0;
        }
    }
    if (n && rrdlog_file_update(p, NULL, n, ts, v, err, sizeof(err)) != 0)
        return fprintf(stderr, "bench_rrd: %s\n", err), 1;
    enum { RUNS = 20 };
    int64_t a = now_us();
    size_t got = 0;
    unsigned long rra = 0;
    for (int i = 0; i < RUNS; i++) {
        struct series_data d;
        if (series_fetch(p, NULL, T0 - 365 * 86400, T0, 800, &d, err, sizeof(err)) != 0)
            return fprintf(stderr, "bench_rrd: %s\n", err), 1;
        got = d.n;
        rra = d.rra_step;
        series_data_free(&d);
    }
    printf("  1-year series query: %.2f ms (%zu points from the %lu s archive, AVERAGE+MIN+MAX)\n",
           (double)(now_us() - a) / RUNS / 1000.0, got, rra);
    char def_a[300], def_n[300], def_x[300], start_s[32], end_s[32];
    snprintf(def_a, sizeof(def_a), "DEF:a=%s:v:AVERAGE", p);
    snprintf(def_n, sizeof(def_n), "DEF:n=%s:v:MIN", p);
    snprintf(def_x, sizeof(def_x), "DEF:x=%s:v:MAX", p);
    snprintf(start_s, sizeof(start_s), "--start=%lld", (long long)(T0 - 365 * 86400));
    snprintf(end_s, sizeof(end_s), "--end=%lld", (long long)T0);
    const char *gargs[] = {"graph",
                           "-",
                           "--imgformat=PNG",
                           start_s,
                           end_s,
                           "--width=800",
                           "--height=240",
                           "--slope-mode",
                           "--border=0",
                           def_a,
                           def_n,
                           def_x,
                           "CDEF:r=x,n,-",
                           "LINE:n",
                           "AREA:r#1f77b433::STACK",
                           "LINE2:a#1f77b4:battery voltage",
                           "GPRINT:a:LAST:last %8.2lf%s\\l"};
    enum { GRUNS = 5 };
    size_t png = 0;
    a = now_us();
    for (int i = 0; i < GRUNS; i++) {
        char *gv[UTIL_ARRAY_SIZE(gargs)];
        for (size_t k = 0; k < UTIL_ARRAY_SIZE(gargs); k++)
            gv[k] = xstrdup(gargs[k]);
        rrd_info_t *info = rrd_graph_v((int)UTIL_ARRAY_SIZE(gargs), gv);
        for (rrd_info_t *x = info; x; x = x->next)
            if (strcmp(x->key, "image") == 0)
                png = x->value.u_blo.size;
        if (!info)
            fprintf(stderr, "bench_rrd: graph: %s\n", rrd_get_error());
        rrd_info_free(info);
        for (size_t k = 0; k < UTIL_ARRAY_SIZE(gargs); k++)
            free(gv[k]);
    }
    printf("  1-year PNG graph 800x240: %.1f ms (%zu bytes; the first call loads fonts)\n",
           (double)(now_us() - a) / GRUNS / 1000.0, png);
    unlink(p);
    return 0;
}
