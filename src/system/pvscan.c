/* pvscan: the daemon's opt-in, rate-limited scan for SunSpec inverters ([pvscan] scan = ...), whose
 * finds that no [device] section reads are listed by GET /api/v1/devices/discovered. */
#include "core/api.h"
#include "core/conf.h"
#include "core/log.h"
#include "core/service.h"
#include "core/ticker.h"
#include "core/util.h"
#include "drivers/sunspec_scan.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define PVSCAN_MAX_FOUND 64
#define PVSCAN_MAX_RANGES 8
#define PVSCAN_FIRST_DELAY_MS 2000

static const struct drv_key pvscan_keys[] = {
    {"scan",     DRV_KEY_STRING,   "",      NULL,        "a.b.c.d/nn ranges, comma-separated; empty = off"},
    {"port",     DRV_KEY_INT,      "502",   "1..65535",  "Modbus-TCP port probed"                         },
    {"interval", DRV_KEY_DURATION, "1h",    "10s..7d",   "time between two scans"                         },
    {"pause",    DRV_KEY_DURATION, "500ms", "0s..1m",    "pause between two addresses: the rate limit"    },
    {"timeout",  DRV_KEY_DURATION, "1s",    "100ms..1m", "response timeout of one probe"                  },
    {NULL,       0,                NULL,    NULL,        NULL                                             },
};

/* Splits the comma-separated ranges of s into r[]; 0 or -EINVAL. */
static int pvscan_ranges(const char *s, char r[][48], size_t *n)
{
    *n = 0;
    while (*s) {
        size_t len = strcspn(s, ", ");
        if (len > 0) {
            uint32_t first, count;
            if (len >= 48 || *n == PVSCAN_MAX_RANGES)
                return -EINVAL;
            memcpy(r[*n], s, len);
            r[*n][len] = '\0';
            if (sunspec_scan_range(r[*n], &first, &count) != 0)
                return -EINVAL;
            (*n)++;
        }
        s += len;
        s += strspn(s, ", ");
    }
    return 0;
}

static int pvscan_check(const struct conf_section *s, struct conf_error *e)
{
    char r[PVSCAN_MAX_RANGES][48];
    size_t n;
    if (pvscan_ranges(conf_get(s, "scan"), r, &n) != 0)
        return conf_error_at(e, s, conf_get_kv(s, "scan"),
                             "scan: a.b.c.d/nn ranges of at most %d addresses each, at most %d "
                             "ranges, separated by commas",
                             SUNSPEC_SCAN_MAX_HOSTS, PVSCAN_MAX_RANGES);
    return 0;
}

const struct conf_section_type conf_section_pvscan = {
    .type = "pvscan", .named = false, .keys = pvscan_keys, .check = pvscan_check};

struct pvscan_entry {
    struct sunspec_found f;
    int64_t seen_wall_ms;
    unsigned gen;
};

struct pvscan {
    struct core *core;
    char ranges[PVSCAN_MAX_RANGES][48];
    size_t nranges;
    int port;
    int64_t interval_ms, pause_ms, timeout_ms, next_ms;
    atomic_bool stop;
    struct ticker *ticker;
    unsigned gen;
    pthread_mutex_t lock; /* guards found */
    struct pvscan_entry found[PVSCAN_MAX_FOUND];
    size_t nfound;
};

/* True when a [device] section of driver sunspec reads that address and unit. */
static bool pvscan_configured(const struct pvscan *ps, const struct sunspec_found *f)
{
    const struct conf *c = ps->core->conf;
    for (size_t i = 0; i < c->ndevices; i++) {
        const struct conf_device *d = &c->devices[i];
        if (strcmp(d->drv->name, "sunspec") != 0)
            continue;
        const char *host = conf_device_value(d, "host");
        const char *port = conf_device_value(d, "port");
        const char *unit = conf_device_value(d, "unit");
        long p = 502, u = -1;
        if (port && util_parse_long(port, 10, 1, 65535, &p) != 0)
            continue;
        if (!host || strcmp(host, f->address) != 0 || p != f->port)
            continue;
        if (!unit || strcmp(unit, "auto") == 0)
            return true; /* auto reads the first of 1, 2, 126 that answers: count it as known */
        if (util_parse_long(unit, 10, 1, 247, &u) == 0 && u == f->unit)
            return true;
    }
    return false;
}

static void pvscan_found(const struct sunspec_found *f, void *ctx)
{
    struct pvscan *ps = ctx;
    pthread_mutex_lock(&ps->lock);
    size_t i = 0;
    while (i < ps->nfound && !(strcmp(ps->found[i].f.address, f->address) == 0 &&
                               ps->found[i].f.port == f->port && ps->found[i].f.unit == f->unit))
        i++;
    if (i == ps->nfound && ps->nfound < PVSCAN_MAX_FOUND)
        ps->nfound++;
    if (i < ps->nfound)
        ps->found[i] =
            (struct pvscan_entry){.f = *f, .seen_wall_ms = util_wall_ms(), .gen = ps->gen};
    pthread_mutex_unlock(&ps->lock);
}

static void pvscan_run(struct pvscan *ps)
{
    ps->gen++;
    unsigned n = 0, hits = 0;
    for (size_t r = 0; r < ps->nranges && !atomic_load(&ps->stop); r++) {
        uint32_t first, count;
        if (sunspec_scan_range(ps->ranges[r], &first, &count) != 0)
            continue;
        for (uint32_t k = 0; k < count && !atomic_load(&ps->stop); k++) {
            struct in_addr a = {.s_addr = htonl(first + k)};
            char ip[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &a, ip, sizeof(ip));
            int found = sunspec_scan_host(ip, ps->port, sunspec_scan_units,
                                          UTIL_ARRAY_SIZE(sunspec_scan_units), ps->timeout_ms,
                                          &ps->stop, pvscan_found, ps);
            hits += found > 0 ? (unsigned)found : 0;
            n++;
            /* the rate limit: never more than one address per pause */
            for (int64_t t = 0; t < ps->pause_ms && !atomic_load(&ps->stop); t += 100)
                util_sleep_ms(ps->pause_ms - t < 100 ? ps->pause_ms - t : 100);
        }
    }
    if (atomic_load(&ps->stop))
        return;
    /* forget what did not answer this time */
    pthread_mutex_lock(&ps->lock);
    size_t o = 0;
    for (size_t i = 0; i < ps->nfound; i++)
        if (ps->found[i].gen == ps->gen)
            ps->found[o++] = ps->found[i];
    ps->nfound = o;
    pthread_mutex_unlock(&ps->lock);
    log_msg(LOG_INFO, "pvscan: %u address%s probed, %u SunSpec device%s answered", n,
            n == 1 ? "" : "es", hits, hits == 1 ? "" : "s");
}

static void pvscan_tick(void *arg)
{
    struct pvscan *ps = arg;
    if (util_mono_ms() < ps->next_ms)
        return;
    pvscan_run(ps);
    ps->next_ms = util_mono_ms() + ps->interval_ms;
}

static void pvscan_get(void *ctx, const struct api_request *r, struct api_reply *out)
{
    (void)r;
    struct pvscan *ps = ctx;
    json_t *arr = json_array();
    pthread_mutex_lock(&ps->lock);
    for (size_t i = 0; i < ps->nfound; i++) {
        const struct sunspec_found *f = &ps->found[i].f;
        if (pvscan_configured(ps, f))
            continue;
        json_array_append_new(
            arr, json_pack("{s:s, s:i, s:i, s:i, s:s, s:s, s:s, s:s, s:s, s:I}", "address",
                           f->address, "port", f->port, "unit", f->unit, "base", (int)f->base,
                           "manufacturer", f->manufacturer, "model", f->model, "serial", f->serial,
                           "firmware", f->version, "state", "discovered, not configured", "seen",
                           (json_int_t)ps->found[i].seen_wall_ms));
    }
    pthread_mutex_unlock(&ps->lock);
    api_reply_json(out, 200, json_pack("{s:o}", "discovered", arr));
}

static int pvscan_start(struct core *core, void **inst)
{
    *inst = NULL;
    const struct conf_section *s = conf_section_nth(core->conf, "pvscan", 0);
    struct pvscan *ps = xcalloc(1, sizeof(*ps));
    ps->core = core;
    if (s && pvscan_ranges(conf_get(s, "scan"), ps->ranges, &ps->nranges) != 0)
        ps->nranges = 0; /* validated by pvscan_check */
    pthread_mutex_init(&ps->lock, NULL);
    atomic_init(&ps->stop, false);
    /* the route answers (an empty list) even when scanning is off */
    int r = api_route_add(core->api, "GET", "/api/v1/devices/discovered", pvscan_get, ps);
    if (r < 0) {
        log_msg(LOG_ERR, "pvscan: cannot register its route: %s", strerror(-r));
        pthread_mutex_destroy(&ps->lock);
        free(ps);
        return r;
    }
    if (ps->nranges > 0) {
        ps->port = (int)conf_get_long(s, "port");
        ps->interval_ms = conf_get_ms(s, "interval");
        ps->pause_ms = conf_get_ms(s, "pause");
        ps->timeout_ms = conf_get_ms(s, "timeout");
        ps->next_ms = util_mono_ms() + PVSCAN_FIRST_DELAY_MS;
        ps->ticker = ticker_start("pvscan", 1000, pvscan_tick, ps);
        log_msg(LOG_INFO, "pvscan: scanning %s (port %d) every %lld s", conf_get(s, "scan"),
                ps->port, (long long)(ps->interval_ms / 1000));
    }
    *inst = ps;
    return 0;
}

static void pvscan_stop(void *inst)
{
    struct pvscan *ps = inst;
    if (!ps)
        return;
    atomic_store(&ps->stop, true);
    ticker_stop(ps->ticker);
    api_route_remove(ps->core->api, ps);
    pthread_mutex_destroy(&ps->lock);
    free(ps);
}

const struct service service_pvscan = {
    .name = "pvscan", .start = pvscan_start, .stop = pvscan_stop};
