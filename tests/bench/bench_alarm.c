/* bench_alarm: time per alarm-engine tick for N rules over M points (default 1,000 over 5,000),
 * and the memory the engine takes. Rules mix comparisons, and/or, arithmetic and window
 * functions (avg/min/max/delta/rate over 10 min, i.e. point histories) the way a large site
 * would. Every point changes value before each tick; only the tick is timed. */
#include "alarm/alarm.h"
#include "core/conf.h"
#include "core/log.h"
#include "core/store.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    long nrules = argc > 1 ? strtol(argv[1], NULL, 10) : 1000;
    long npoints = argc > 2 ? strtol(argv[2], NULL, 10) : 5000;
    long nticks = argc > 3 ? strtol(argv[3], NULL, 10) : 300;
    const long per_dev = 100;
    log_set_level(LOG_WARNING); /* rules firing at random would time the log, not the engine */
    long ndev = (npoints + per_dev - 1) / per_dev;
    struct store *st = store_new((size_t)npoints + 16, (size_t)ndev + 4);
    int *ids = xcalloc((size_t)npoints, sizeof(int));
    char key[96], name[32];
    for (long d = 0; d < ndev; d++) {
        snprintf(name, sizeof(name), "dev%ld", d);
        int dev = store_device_add(st, name, "vedirect");
        store_device_set_state(st, dev, DEV_CONN_OK, "ok");
        for (long p = 0; p < per_dev && d * per_dev + p < npoints; p++) {
            snprintf(key, sizeof(key), "dev%ld/Dc/%ld/Voltage", d, p);
            ids[d * per_dev + p] = store_point_define(st, dev, key, "V", 0);
        }
    }
    size_t cap = (size_t)nrules * 200 + 256, len = 0;
    char *text = xmalloc(cap);
    len += (size_t)snprintf(text + len, cap - len,
                            "[daemon]\nstate_dir = /tmp\n[alarms]\nstorage_full = no\n");
    for (long r = 0; r < nrules; r++) {
        long a = (r * 7) % npoints, b = (r * 13 + 1) % npoints;
#define K(i) (i) / per_dev, (i) % per_dev
        switch (r % 4) {
        case 0:
            len += (size_t)snprintf(text + len, cap - len,
                                    "[alarm r%ld]\nwhen = dev%ld/Dc/%ld/Voltage < 24 and "
                                    "dev%ld/Dc/%ld/Voltage < 10\nfor = 60s\n",
                                    r, K(a), K(b));
            break;
        case 1:
            len += (size_t)snprintf(text + len, cap - len,
                                    "[alarm r%ld]\nwhen = dev%ld/Dc/%ld/Voltage * "
                                    "dev%ld/Dc/%ld/Voltage > 1000\nclear = "
                                    "dev%ld/Dc/%ld/Voltage < 20\n",
                                    r, K(a), K(b), K(a));
            break;
        case 2:
            len += (size_t)snprintf(text + len, cap - len,
                                    "[alarm r%ld]\nwhen = avg(dev%ld/Dc/%ld/Voltage, 10m) < 23 "
                                    "or max(dev%ld/Dc/%ld/Voltage, 10m) > 29\n",
                                    r, K(a), K(b));
            break;
        default:
            len +=
                (size_t)snprintf(text + len, cap - len,
                                 "[alarm r%ld]\nwhen = hour() > 24 or rate(dev%ld/Dc/%ld/Voltage, "
                                 "5m) > 1 and not stale(dev%ld)\n",
                                 r, K(a), a / per_dev);
            break;
        }
    }
    struct conf *conf;
    char err[600];
    if (conf_parse_string("bench.conf", text, &conf, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench_alarm: %s\n", err);
        return 1;
    }
    long rss0 = rss_kb();
    struct alarm_engine *e = alarm_engine_new(conf, st, NULL);
    if (!e)
        return 1;
    double *t = xcalloc((size_t)nticks, sizeof(double));
    double *cpu = xcalloc((size_t)nticks, sizeof(double));
    int64_t mono = 1000000, wall = 1763700000000LL;
    uint32_t seed = 1;
    for (long k = 0; k < nticks; k++) {
        for (long i = 0; i < npoints; i++) {
            seed = seed * 1103515245u + 12345u;
            store_set(st, ids[i], 22 + (double)((seed >> 16) % 800) / 100.0);
        }
        mono += 1000;
        wall += 1000;
        struct timespec a, b, ca, cb;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ca);
        clock_gettime(CLOCK_MONOTONIC, &a);
        alarm_engine_tick(e, mono, wall);
        clock_gettime(CLOCK_MONOTONIC, &b);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cb);
        cpu[k] = (double)(cb.tv_sec - ca.tv_sec) * 1e3 + (double)(cb.tv_nsec - ca.tv_nsec) / 1e6;
        if (getenv("BENCH_TRACE"))
            fprintf(stderr, "tick %ld: %.2f ms\n", k,
                    (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6);
        t[k] = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    }
    long rss1 = rss_kb();
    qsort(t, (size_t)nticks, sizeof(double), cmp_double);
    qsort(cpu, (size_t)nticks, sizeof(double), cmp_double);
    printf("alarm engine: %ld rules over %ld points, %ld ticks: median %.2f ms, p99 %.2f ms, "
           "max %.2f ms per tick (goal < 5 ms)\n",
           nrules, npoints, nticks, t[nticks / 2], t[nticks * 99 / 100], t[nticks - 1]);
    printf("alarm engine CPU time per tick (excludes preemption on a shared machine): median "
           "%.2f ms, p99 %.2f ms, max %.2f ms\n",
           cpu[nticks / 2], cpu[nticks * 99 / 100], cpu[nticks - 1]);
    printf("alarm engine memory: %ld kB resident (rules, point histories, snapshot of %ld "
           "points)\n",
           rss1 - rss0, npoints);
    alarm_engine_free(e);
    conf_free(conf);
    store_free(st);
    free(t);
    free(cpu);
    free(ids);
    free(text);
    return 0;
}
