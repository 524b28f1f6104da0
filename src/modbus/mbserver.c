/* mbserver: the GX-compatible Modbus-TCP server: config, unit ids, request handling, poll loop.
 *
 * Why not modbus_receive()/modbus_reply(): libmodbus reads a whole frame with a blocking wait of
 * up to its response timeout and writes the reply with a blocking send on the context's one
 * socket, so one client sending half a frame or not reading would stall every other client.
 * libmodbus opens the listening socket (modbus_tcp_pi_listen: IPv4/IPv6, SO_REUSEADDR) and gives
 * the protocol constants; frames are parsed here, from per-client buffers, and replies are queued
 * per client and sent when the socket is writable. */
#include "mbserver.h"

#include "core/log.h"
#include "core/util.h"
#include "mbmap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <modbus.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MBS_MAX_UNITS MBSERVER_DISC_MAX
#define MBS_RX 520        /* two whole frames (260 bytes max each) */
#define MBS_TX 4096       /* queued replies of a client that reads slowly */
#define MBS_FRAME_MAX 260 /* MBAP header (7) + PDU (253) */
#define MBS_JOBS 16       /* pending writes */
#define MBS_WRITE_MAX 16  /* registers of one FC16 write */
#define MBS_UNITS_MS 1000 /* unit table refresh */
#define MBS_RULES_MAX 32  /* write allow-list entries */
#define MBS_NETS_MAX 32   /* client allow-list entries */
#define MBS_OVERRIDES_MAX 32
/* A unit's register image is rebuilt from the store when a read finds it older than this: values
 * change at most a few times a second, and one rebuild then serves every client's reads
 * (instead of one store lookup per row per read). */
#define MBS_IMAGE_MS 50

const char *const mbserver_classes[] = {"system",  "battery", "solarcharger", "vebus", "inverter",
                                        "charger", "dcdc",    "pvinverter",   "grid"};
const size_t mbserver_nclasses = UTIL_ARRAY_SIZE(mbserver_classes);

/* Victron dbus_modbustcp unitid2di.csv: unit id ↔ VRM device instance (the GX's override table).
 * A device configured with `instance = 288` answers on unit 239 like on a GX. */
static const struct {
    uint16_t unit, instance;
} mbs_gx_units[] = {
    {100, 0  },
    {204, 262},
    {205, 263},
    {206, 264},
    {207, 265},
    {208, 266},
    {209, 267},
    {210, 268},
    {211, 269},
    {212, 270},
    {213, 271},
    {214, 272},
    {215, 280},
    {216, 281},
    {217, 282},
    {218, 283},
    {219, 284},
    {220, 285},
    {221, 286},
    {222, 287},
    {223, 277},
    {224, 278},
    {225, 512},
    {226, 279},
    {227, 276},
    {228, 275},
    {229, 274},
    {230, 273},
    {231, 295},
    {232, 294},
    {233, 293},
    {234, 296},
    {235, 292},
    {236, 291},
    {237, 290},
    {238, 289},
    {239, 288},
    {242, 261},
    {243, 260},
    {245, 258},
    {246, 257},
    {247, 256},
};

/* Default unit ids when a device has neither `units =` nor `instance =`: VE.Direct devices take
 * the GX's USB VE.Direct ports in order (ttyUSB0 = 239, ttyUSB1 = 238, ...), VE.Bus the Cerbo GX
 * VE.Bus port (227) then others; other classes take base + n as a GX numbers their instances
 * (PV inverters from 20, grid meters from 30, anything else from 40). */
static const uint16_t mbs_vedirect_units[] = {239, 238, 237, 236, 235, 233, 232, 231, 234};
static const uint16_t mbs_vebus_units[] = {227, 242, 246, 228};
static const struct {
    const char *service;
    int base;
} mbs_class_bases[] = {
    {"pvinverter", 20},
    {"grid",       30},
};
#define MBS_OTHER_BASE 40

/* A write the allow-list can enable, and the device command it becomes (data, not code). */
static const struct {
    const char *path;    /* D-Bus path of a writable row */
    const char *command; /* core->device_command name */
    bool enum_arg;       /* the argument is the enum label ("Charger Only" → charger_only) */
} mbs_write_commands[] = {
    {"Mode",                     "mode",          true },
    {"Ac/ActiveIn/CurrentLimit", "current_limit", false},
};

/* Identity values a row can show when no point of that path exists. */
enum mbs_ident {
    MBS_ID_NONE,
    MBS_ID_PRODUCT_ID,
    MBS_ID_INSTANCE,
    MBS_ID_SERIAL,
    MBS_ID_NAME,
    MBS_ID_PRODUCT_NAME
};
static const struct {
    const char *path;
    enum mbs_ident id;
} mbs_idents[] = {
    {"ProductId",      MBS_ID_PRODUCT_ID  },
    {"DeviceInstance", MBS_ID_INSTANCE    },
    {"Serial",         MBS_ID_SERIAL      },
    {"CustomName",     MBS_ID_NAME        },
    {"ProductName",    MBS_ID_PRODUCT_NAME},
};

struct mbs_unit {
    const struct mbmap_service *svc; /* the map's registers of this class */
    int unit;
    int instance;
    int code; /* index in mbserver_classes */
    uint32_t product_id;
    bool allow_control;
    char device[STORE_NAME_MAX];
    char service[STORE_NAME_MAX];
    char serial[32];
    char product[64];
};

struct mbs_rule {
    uint16_t reg;
    double min, max;
};

struct mbs_net {
    uint32_t addr, mask; /* host order */
};

struct mbs_override {
    char device[STORE_NAME_MAX];
    int unit;
};

struct mbs_client {
    int fd; /* -1 when the slot is free */
    uint64_t gen;
    /* for GET /api/v1/modbus/clients: written by the poll thread under *info_lock (requests:
     * atomic), read by HTTP threads */
    pthread_mutex_t *info_lock;
    bool open;
    char peer[48];
    int64_t since_wall_ms;
    uint64_t requests;
    bool busy; /* a write is running on the command thread */
    int64_t last_ms;
    size_t rxlen, txlen, txoff;
    uint8_t rx[MBS_RX];
    uint8_t tx[MBS_TX];
};

struct mbs_job {
    size_t slot;
    uint64_t gen;
    uint8_t head[7];  /* MBAP header of the request */
    uint8_t reply[5]; /* function + address + value/quantity echoed on success */
    char device[STORE_NAME_MAX];
    size_t n;
    struct {
        char command[24];
        char arg[32];
    } cmd[MBS_WRITE_MAX];
    int rc;
};

struct mbserver {
    struct core *core;
    struct mbmap *map;
    char listen[128];
    int max_clients;
    int64_t idle_ms;
    enum mbmap_invalid invalid;
    struct mbs_rule rules[MBS_RULES_MAX];
    size_t nrules;
    struct mbs_net nets[MBS_NETS_MAX];
    size_t nnets; /* 0 = any client */
    struct mbs_override overrides[MBS_OVERRIDES_MAX];
    size_t noverrides;

    int lfd;
    int wake[2];
    atomic_bool stop;
    pthread_t thread;
    struct mbs_client *clients;
    struct mbs_unit units[MBS_MAX_UNITS];
    size_t nunits;
    struct {
        int64_t built_ms; /* 0 = to build */
        uint16_t *regs;   /* the class's registers lo .. hi - 1 */
        size_t cap;
    } images[MBS_MAX_UNITS]; /* per entry of units */
    int64_t units_ms;
    struct log_throttle full_log, deny_log;

    /* command thread: jobs in, results out (guarded by lock) */
    pthread_t wthread;
    pthread_mutex_t info_lock; /* the clients' peer/open/since fields */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct mbs_job todo[MBS_JOBS], done[MBS_JOBS];
    size_t ntodo, ndone;
    bool wstop;
};

/* ---- configuration ---------------------------------------------------------------------- */

static const struct drv_key mbs_keys[] = {
    {"listen",       DRV_KEY_STRING,   "0.0.0.0:502", NULL,
     "address:port to serve Modbus-TCP on (the section's presence turns the server on)"                        },
    {"map",          DRV_KEY_STRING,   "auto",        NULL,
     "register map (CSV rows of Victron's attributes.csv); auto = the installed one, else etc/ of "
     "the source tree, else modbus-map.csv beside the configuration file"                                      },
    {"max_clients",  DRV_KEY_INT,      "128",         "1..1000", "connections served at once; more are refused"},
    {"idle_timeout", DRV_KEY_DURATION, "60s",         "1s..1d",  "a connection silent this long is closed"     },
    {"allow_from",   DRV_KEY_STRING,   "any",         NULL,
     "client addresses allowed (IPv4 address or a.b.c.d/bits, comma-separated), or any"                        },
    {"invalid",      DRV_KEY_STRING,   "sentinel",    NULL,
     "what a stale or n/a value reads as: sentinel (0xFFFF, 0x8000 ...) or zero (like a GX)"                   },
    {"units",        DRV_KEY_STRING,   "auto",        NULL,
     "unit id overrides: device=unit, comma-separated (e.g. bmv=239, multi=227)"                               },
    {"allow_write",  DRV_KEY_STRING,   "none",        NULL,
     "writable registers: register:min:max in D-Bus units, comma-separated (e.g. 33:1:4)"                      },
    {NULL,           0,                NULL,          NULL,      NULL                                          },
};

/* Calls fn on every comma- or space-separated token of list (copied, at most 63 characters).
 * Stops at the first non-zero return and returns it. */
static int mbs_each_token(const char *list, int (*fn)(const char *tok, void *ctx), void *ctx)
{
    const char *p = list;
    while (*p) {
        p += strspn(p, ", \t");
        size_t n = strcspn(p, ", \t");
        if (!n)
            break;
        char tok[64];
        if (n >= sizeof(tok))
            return -EINVAL;
        memcpy(tok, p, n);
        tok[n] = '\0';
        int rc = fn(tok, ctx);
        if (rc)
            return rc;
        p += n;
    }
    return 0;
}

static int mbs_parse_net(const char *tok, void *ctx)
{
    struct mbserver *s = ctx;
    char addr[64];
    long bits = 32;
    const char *slash = strchr(tok, '/');
    size_t n = slash ? (size_t)(slash - tok) : strlen(tok);
    if (n >= sizeof(addr) || (slash && util_parse_long(slash + 1, 10, 0, 32, &bits) != 0))
        return -EINVAL;
    memcpy(addr, tok, n);
    addr[n] = '\0';
    struct in_addr in;
    if (inet_pton(AF_INET, addr, &in) != 1)
        return -EINVAL;
    if (s->nnets == MBS_NETS_MAX)
        return -ENOSPC;
    uint32_t mask = bits ? 0xFFFFFFFFu << (32 - bits) : 0;
    s->nets[s->nnets++] = (struct mbs_net){ntohl(in.s_addr) & mask, mask};
    return 0;
}

static int mbs_parse_rule(const char *tok, void *ctx)
{
    struct mbserver *s = ctx;
    char copy[64];
    util_strlcpy(copy, tok, sizeof(copy));
    char *c1 = strchr(copy, ':');
    char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2)
        return -EINVAL;
    *c1 = *c2 = '\0';
    long reg;
    double mn, mx;
    if (util_parse_long(copy, 10, 0, 65535, &reg) != 0 ||
        util_parse_double(c1 + 1, -1e9, 1e9, &mn) != 0 ||
        util_parse_double(c2 + 1, -1e9, 1e9, &mx) != 0 || mn > mx)
        return -EINVAL;
    if (s->nrules == MBS_RULES_MAX)
        return -ENOSPC;
    s->rules[s->nrules++] = (struct mbs_rule){(uint16_t)reg, mn, mx};
    return 0;
}

static int mbs_parse_override(const char *tok, void *ctx)
{
    struct mbserver *s = ctx;
    const char *eq = strchr(tok, '=');
    long unit;
    if (!eq || eq == tok || (size_t)(eq - tok) >= STORE_NAME_MAX ||
        util_parse_long(eq + 1, 10, 1, 247, &unit) != 0 || unit == 100)
        return -EINVAL;
    if (s->noverrides == MBS_OVERRIDES_MAX)
        return -ENOSPC;
    struct mbs_override *o = &s->overrides[s->noverrides++];
    memcpy(o->device, tok, (size_t)(eq - tok));
    o->device[eq - tok] = '\0';
    o->unit = (int)unit;
    return 0;
}

/* Parses the section's lists into s; on error names the key in *bad. */
static int mbs_configure(struct mbserver *s, const struct conf_section *sec, const char **bad)
{
    const char *v;
    *bad = "listen";
    int port;
    char host[96];
    if (util_parse_hostport(conf_get(sec, "listen"), host, sizeof(host), &port) != 0)
        return -EINVAL;
    util_strlcpy(s->listen, conf_get(sec, "listen"), sizeof(s->listen));
    *bad = "max_clients";
    s->max_clients = (int)conf_get_long(sec, "max_clients");
    if (s->max_clients < 1 || s->max_clients > 1000)
        return -EINVAL;
    s->idle_ms = conf_get_ms(sec, "idle_timeout");
    *bad = "invalid";
    v = conf_get(sec, "invalid");
    if (strcmp(v, "sentinel") == 0)
        s->invalid = MBMAP_INVALID_SENTINEL;
    else if (strcmp(v, "zero") == 0)
        s->invalid = MBMAP_INVALID_ZERO;
    else
        return -EINVAL;
    *bad = "allow_from";
    v = conf_get(sec, "allow_from");
    if (strcmp(v, "any") != 0 && (mbs_each_token(v, mbs_parse_net, s) != 0 || !s->nnets))
        return -EINVAL;
    *bad = "allow_write";
    v = conf_get(sec, "allow_write");
    if (strcmp(v, "none") != 0 && mbs_each_token(v, mbs_parse_rule, s) != 0)
        return -EINVAL;
    *bad = "units";
    v = conf_get(sec, "units");
    if (strcmp(v, "auto") != 0 && mbs_each_token(v, mbs_parse_override, s) != 0)
        return -EINVAL;
    return 0;
}

static int mbs_check(const struct conf_section *sec, struct conf_error *e)
{
    static const char *const help[] = {
        "listen",      "expected host:port",
        "max_clients", "expected 1 to 1000",
        "invalid",     "expected sentinel or zero",
        "allow_from",  "expected any, or IPv4 addresses / networks (192.168.1.0/24)",
        "allow_write", "expected register:min:max entries (33:1:4), or none",
        "units",       "expected device=unit entries with a unit from 1 to 247 other than 100",
    };
    struct mbserver *s = xcalloc(1, sizeof(*s));
    const char *bad = NULL;
    int rc = mbs_configure(s, sec, &bad);
    free(s);
    if (rc == 0)
        return 0;
    const char *why = "invalid value";
    for (size_t i = 0; i + 1 < UTIL_ARRAY_SIZE(help); i += 2)
        if (strcmp(help[i], bad) == 0)
            why = help[i + 1];
    const struct conf_kv *kv = conf_get_kv(sec, bad);
    return conf_error_at(e, sec, kv, "%s = %s: %s", bad, conf_get(sec, bad), why);
}

const struct conf_section_type conf_section_modbus_server = {
    .type = "modbus_server",
    .named = false,
    .keys = mbs_keys,
    .check = mbs_check,
};

/* ---- unit ids ---------------------------------------------------------------------------- */

static int mbs_class_code(const char *service)
{
    for (size_t i = 0; i < mbserver_nclasses; i++)
        if (strcmp(mbserver_classes[i], service) == 0)
            return (int)i;
    return -1;
}

static bool mbs_unit_taken(const struct mbs_unit *u, size_t n, int unit)
{
    for (size_t i = 0; i < n; i++)
        if (u[i].unit == unit)
            return true;
    return unit == 100;
}

/* The unit a device answers on: config override, configured instance (through the GX table),
 * or the GX-like default of its driver / class (n = how many of that kind came before). */
static int mbs_default_unit(const struct mbserver *s, const struct device_info *d,
                            const struct conf_device *cd, const struct mbs_unit *u, size_t nu,
                            size_t *nved, size_t *nvebus)
{
    for (size_t i = 0; i < s->noverrides; i++)
        if (strcmp(s->overrides[i].device, d->name) == 0)
            return s->overrides[i].unit;
    if (cd && cd->instance >= 0) {
        for (size_t i = 0; i < UTIL_ARRAY_SIZE(mbs_gx_units); i++)
            if (mbs_gx_units[i].instance == cd->instance)
                return mbs_gx_units[i].unit;
        if (cd->instance >= 1 && cd->instance <= 247)
            return cd->instance;
    }
    if (strcmp(d->driver, "vedirect") == 0 && *nved < UTIL_ARRAY_SIZE(mbs_vedirect_units))
        return mbs_vedirect_units[(*nved)++];
    if (strcmp(d->service, "vebus") == 0 && *nvebus < UTIL_ARRAY_SIZE(mbs_vebus_units))
        return mbs_vebus_units[(*nvebus)++];
    int base = MBS_OTHER_BASE;
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(mbs_class_bases); i++)
        if (strcmp(mbs_class_bases[i].service, d->service) == 0)
            base = mbs_class_bases[i].base;
    int unit = base + (d->instance > 0 ? d->instance : 0);
    while (mbs_unit_taken(u, nu, unit) && unit < 247)
        unit++;
    return unit;
}

/* Builds the unit table from the store (devices whose class is known) and the configuration. */
static size_t mbs_build_units(const struct mbserver *s, struct mbs_unit *u, size_t max)
{
    struct store *st = s->core->store;
    size_t n = 0, nved = 0, nvebus = 0;
    u[n++] = (struct mbs_unit){.svc = mbmap_service(s->map, "system"),
                               .unit = 100,
                               .instance = 0,
                               .code = 0,
                               .device = "system",
                               .service = "system"};
    size_t ndev = store_device_count_all(st);
    for (size_t id = 0; id < ndev && n < max; id++) {
        struct device_info d;
        if (store_device_get(st, (int)id, &d) != 0 || d.conn == DEV_CONN_STOPPED ||
            strcmp(d.name, "system") == 0)
            continue;
        const struct conf_device *cd = NULL;
        for (size_t i = 0; i < s->core->conf->ndevices; i++)
            if (strcmp(s->core->conf->devices[i].name, d.name) == 0)
                cd = &s->core->conf->devices[i];
        int code = mbs_class_code(d.service);
        if (code <= 0) {
            /* not identified yet: still reserve its VE.Direct port so units do not shift */
            if (strcmp(d.driver, "vedirect") == 0)
                nved++;
            continue;
        }
        int unit = mbs_default_unit(s, &d, cd, u, n, &nved, &nvebus);
        if (mbs_unit_taken(u, n, unit))
            continue; /* two devices configured onto one unit: the first keeps it */
        struct mbs_unit *x = &u[n++];
        *x = (struct mbs_unit){
            .unit = unit, .instance = d.instance, .code = code, .product_id = d.product_id};
        const char *ac = cd ? conf_device_value(cd, "allow_control") : NULL;
        bool b = false;
        x->allow_control = ac && util_parse_bool(ac, &b) == 0 && b;
        x->svc = mbmap_service(s->map, d.service);
        util_strlcpy(x->device, d.name, sizeof(x->device));
        util_strlcpy(x->service, d.service, sizeof(x->service));
        util_strlcpy(x->serial, d.serial, sizeof(x->serial));
        util_strlcpy(x->product, d.product_name, sizeof(x->product));
    }
    return n;
}

static const struct mbs_unit *mbs_unit_find(struct mbserver *s, int unit)
{
    int64_t now = util_mono_ms();
    if (now - s->units_ms >= MBS_UNITS_MS || !s->units_ms) {
        s->nunits = mbs_build_units(s, s->units, MBS_MAX_UNITS);
        for (size_t i = 0; i < MBS_MAX_UNITS; i++)
            s->images[i].built_ms = 0; /* units may have moved */
        s->units_ms = now;
    }
    if (unit == 0)
        unit = 100; /* unit 0 = device instance 0 = system, as on a GX */
    for (size_t i = 0; i < s->nunits; i++)
        if (s->units[i].unit == unit)
            return &s->units[i];
    return NULL;
}

/* ---- reads ------------------------------------------------------------------------------- */

static uint16_t mbs_disc_reg(const struct mbserver *s, unsigned reg)
{
    unsigned off = reg - MBSERVER_DISC_BASE;
    if (off == 0)
        return (uint16_t)s->nunits;
    if (off == 1)
        return MBSERVER_DISC_ENTRY;
    off -= 2;
    size_t i = off / MBSERVER_DISC_ENTRY, w = off % MBSERVER_DISC_ENTRY;
    if (i >= s->nunits)
        return 0xFFFF;
    const struct mbs_unit *u = &s->units[i];
    switch (w) {
    case 0:
        return (uint16_t)u->unit;
    case 1:
        return (uint16_t)u->code;
    case 2:
        return (uint16_t)u->product_id;
    case 3:
        return u->instance < 0 ? 0xFFFF : (uint16_t)u->instance;
    default: {
        struct mbmap_entry e = {.type = MBMAP_STRING, .nregs = 6};
        uint16_t str[6];
        mbmap_encode_string(&e, u->service, str);
        return str[w - 4];
    }
    }
}

static enum mbs_ident mbs_ident_of(const char *path)
{
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(mbs_idents); i++)
        if (strcmp(mbs_idents[i].path, path) == 0)
            return mbs_idents[i].id;
    return MBS_ID_NONE;
}

/* Encodes one row for a unit: the point <device>/<path>, else an identity value, else invalid. */
static void mbs_encode_row(struct mbserver *s, const struct mbs_unit *u,
                           const struct mbmap_entry *e, uint16_t *regs)
{
    enum mbs_ident id = mbs_ident_of(e->path);
    if (e->type == MBMAP_STRING) {
        const char *text = id == MBS_ID_SERIAL         ? u->serial
                           : id == MBS_ID_NAME         ? u->device
                           : id == MBS_ID_PRODUCT_NAME ? u->product
                                                       : "";
        mbmap_encode_string(e, text, regs);
        return;
    }
    if (e->type == MBMAP_RESERVED) {
        mbmap_encode(e, false, 0, s->invalid, regs);
        return;
    }
    /* "<device>/<path>", built with memcpy: this runs for every row of every read */
    char key[STORE_KEY_MAX];
    struct point p;
    size_t dl = strlen(u->device), pl = strlen(e->path);
    bool fits = dl + 1 + pl < sizeof(key);
    if (fits) {
        memcpy(key, u->device, dl);
        key[dl] = '/';
        memcpy(key + dl + 1, e->path, pl + 1);
    }
    if (fits && store_get(s->core->store, key, &p) == 0) {
        mbmap_encode(e, p.state == POINT_OK, p.value, s->invalid, regs);
        return;
    }
    if (id == MBS_ID_PRODUCT_ID && u->product_id)
        mbmap_encode(e, true, u->product_id, s->invalid, regs);
    else if (id == MBS_ID_INSTANCE && u->instance >= 0)
        mbmap_encode(e, true, u->instance, s->invalid, regs);
    else
        mbmap_encode(e, false, 0, s->invalid, regs);
}

/* The register image of units[i], rebuilt when older than MBS_IMAGE_MS. */
static const uint16_t *mbs_image(struct mbserver *s, size_t i, unsigned *lo)
{
    const struct mbs_unit *u = &s->units[i];
    unsigned hi;
    mbmap_service_range(u->svc, lo, &hi);
    int64_t now = util_mono_ms();
    if (s->images[i].built_ms && now - s->images[i].built_ms < MBS_IMAGE_MS)
        return s->images[i].regs;
    if (s->images[i].cap < hi - *lo) {
        s->images[i].regs = xrealloc(s->images[i].regs, (hi - *lo) * sizeof(uint16_t));
        s->images[i].cap = hi - *lo;
    }
    uint16_t *img = s->images[i].regs;
    for (unsigned r = *lo; r < hi;) {
        const struct mbmap_entry *e = mbmap_service_find(u->svc, r);
        if (!e) {
            img[r++ - *lo] = 0xFFFF;
            continue;
        }
        uint16_t regs[128];
        mbs_encode_row(s, u, e, regs);
        for (unsigned w = r - e->reg; w < e->nregs && r < hi && mbmap_service_find(u->svc, r) == e;
             w++, r++)
            img[r - *lo] = regs[w];
    }
    s->images[i].built_ms = now ? now : 1;
    return img;
}

/* FC3/FC4 on units[ui]: fills out (2 x qty bytes) or returns a Modbus exception code. */
static int mbs_read(struct mbserver *s, size_t ui, unsigned start, unsigned qty, uint8_t *out)
{
    const struct mbs_unit *u = &s->units[ui];
    bool sys = u->code == 0;
    const uint16_t *img = NULL;
    unsigned lo = 0;
    for (unsigned r = start; r < start + qty; r++) {
        uint16_t v;
        if (sys && r >= MBSERVER_DISC_BASE && r < MBSERVER_DISC_END) {
            v = mbs_disc_reg(s, r);
        } else if (!mbmap_service_find(u->svc, r)) {
            /* A GX answers 0x0A when the address belongs to a service this unit does not
             * have, 0x02 for an address nobody has or a gap inside the range. */
            if (r == start && mbmap_find_any(s->map, r))
                return MODBUS_EXCEPTION_GATEWAY_PATH;
            return MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS;
        } else {
            if (!img)
                img = mbs_image(s, ui, &lo);
            v = img[r - lo];
        }
        out[2 * (r - start)] = (uint8_t)(v >> 8);
        out[2 * (r - start) + 1] = (uint8_t)v;
    }
    return 0;
}

/* ---- writes ------------------------------------------------------------------------------ */

/* Checks one register write and fills the command; 0 or an exception code. */
static int mbs_write_check(struct mbserver *s, const struct mbs_unit *u, unsigned reg, uint16_t raw,
                           char *command, size_t clen, char *arg, size_t alen)
{
    const struct mbmap_entry *e = mbmap_service_find(u->svc, reg);
    if (!e)
        return mbmap_find_any(s->map, reg) ? MODBUS_EXCEPTION_GATEWAY_PATH
                                           : MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS;
    const struct mbs_rule *rule = NULL;
    for (size_t i = 0; i < s->nrules; i++)
        if (s->rules[i].reg == reg)
            rule = &s->rules[i];
    /* Refused like a GX in read-only mode: not writable, not allow-listed, control off. */
    if (!e->writable || e->reg != reg || e->nregs != 1 || !rule || !u->allow_control)
        return MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS;
    size_t k = 0;
    while (k < UTIL_ARRAY_SIZE(mbs_write_commands) && strcmp(mbs_write_commands[k].path, e->path))
        k++;
    if (k == UTIL_ARRAY_SIZE(mbs_write_commands))
        return MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS;
    double v;
    if (mbmap_decode16(e, raw, &v) != 0)
        return MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS;
    if (v < rule->min || v > rule->max)
        return MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE;
    util_strlcpy(command, mbs_write_commands[k].command, clen);
    if (mbs_write_commands[k].enum_arg) {
        char label[32];
        if (!mbmap_enum_label(e, (long)v, label, sizeof(label)))
            return MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE;
        /* "Charger Only" → "charger_only", the names the drivers' "mode" command takes */
        size_t i = 0;
        for (; label[i] && i + 1 < alen; i++)
            arg[i] = label[i] == ' '                        ? '_'
                     : (label[i] >= 'A' && label[i] <= 'Z') ? (char)(label[i] - 'A' + 'a')
                                                            : label[i];
        arg[i] = '\0';
    } else {
        snprintf(arg, alen, "%g", v);
    }
    return 0;
}

static void *mbs_writer(void *arg)
{
    struct mbserver *s = arg;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->ntodo && !s->wstop)
            pthread_cond_wait(&s->cond, &s->lock);
        if (s->wstop)
            break;
        struct mbs_job job = s->todo[0];
        memmove(&s->todo[0], &s->todo[1], --s->ntodo * sizeof(s->todo[0]));
        pthread_mutex_unlock(&s->lock);
        job.rc = 0;
        for (size_t i = 0; i < job.n && job.rc == 0; i++) {
            job.rc =
                s->core->device_command(s->core, job.device, job.cmd[i].command, job.cmd[i].arg);
            if (job.rc != 0)
                log_msg(LOG_WARNING, "modbus: write %s %s=%s failed: %s", job.device,
                        job.cmd[i].command, job.cmd[i].arg, strerror(-job.rc));
            else
                log_msg(LOG_NOTICE, "modbus: write %s %s=%s", job.device, job.cmd[i].command,
                        job.cmd[i].arg);
        }
        pthread_mutex_lock(&s->lock);
        if (s->ndone < MBS_JOBS)
            s->done[s->ndone++] = job;
        pthread_mutex_unlock(&s->lock);
        uint8_t b = 1;
        if (write(s->wake[1], &b, 1) < 0 && errno != EAGAIN)
            log_msg(LOG_ERR, "modbus: wake pipe: %s", strerror(errno));
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* ---- frames ------------------------------------------------------------------------------ */

static void mbs_queue(struct mbs_client *c, const uint8_t *head, const uint8_t *pdu, size_t len)
{
    uint8_t *t = c->tx + c->txlen;
    memcpy(t, head, 4); /* transaction id, protocol id */
    t[4] = (uint8_t)((len + 1) >> 8);
    t[5] = (uint8_t)(len + 1);
    t[6] = head[6]; /* unit id */
    memcpy(t + 7, pdu, len);
    c->txlen += 7 + len;
}

static void mbs_exception(struct mbs_client *c, const uint8_t *head, uint8_t fc, int code)
{
    uint8_t pdu[2] = {(uint8_t)(fc | 0x80), (uint8_t)code};
    mbs_queue(c, head, pdu, 2);
}

/* Handles one write request (FC6, FC16): checks everything, then queues the job. */
static void mbs_write(struct mbserver *s, struct mbs_client *c, size_t slot, const uint8_t *f,
                      const uint8_t *pdu, size_t plen)
{
    uint8_t fc = pdu[0];
    const struct mbs_unit *u = mbs_unit_find(s, f[6]);
    if (!u)
        return mbs_exception(c, f, fc, MODBUS_EXCEPTION_GATEWAY_PATH);
    unsigned start = (unsigned)pdu[1] << 8 | pdu[2], qty = 1;
    const uint8_t *vals = pdu + 3;
    if (fc == MODBUS_FC_WRITE_MULTIPLE_REGISTERS) {
        qty = (unsigned)pdu[3] << 8 | pdu[4];
        if (plen < 6 || qty < 1 || qty > MBS_WRITE_MAX || pdu[5] != 2 * qty || plen != 6 + 2 * qty)
            return mbs_exception(c, f, fc, MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE);
        vals = pdu + 6;
    } else if (plen != 5) {
        return mbs_exception(c, f, fc, MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE);
    }
    if (start + qty > 65536)
        return mbs_exception(c, f, fc, MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
    struct mbs_job job = {.slot = slot, .gen = c->gen, .n = qty};
    memcpy(job.head, f, 7);
    memcpy(job.reply, pdu, 5);
    util_strlcpy(job.device, u->device, sizeof(job.device));
    for (unsigned i = 0; i < qty; i++) {
        uint16_t raw = (uint16_t)(vals[2 * i] << 8 | vals[2 * i + 1]);
        int ex =
            mbs_write_check(s, u, start + i, raw, job.cmd[i].command, sizeof(job.cmd[i].command),
                            job.cmd[i].arg, sizeof(job.cmd[i].arg));
        if (ex)
            return mbs_exception(c, f, fc, ex);
    }
    pthread_mutex_lock(&s->lock);
    bool queued = s->ntodo < MBS_JOBS;
    if (queued) {
        s->todo[s->ntodo++] = job;
        pthread_cond_signal(&s->cond);
    }
    pthread_mutex_unlock(&s->lock);
    if (!queued)
        return mbs_exception(c, f, fc, MODBUS_EXCEPTION_SLAVE_OR_SERVER_BUSY);
    c->busy = true; /* the reply comes when the command is done */
}

/* Handles one whole frame f (MBAP header + PDU) of a client. */
static void mbs_frame(struct mbserver *s, struct mbs_client *c, size_t slot, const uint8_t *f,
                      size_t len)
{
    const uint8_t *pdu = f + 7;
    size_t plen = len - 7;
    uint8_t fc = pdu[0];
    if (fc == MODBUS_FC_WRITE_SINGLE_REGISTER || fc == MODBUS_FC_WRITE_MULTIPLE_REGISTERS)
        return mbs_write(s, c, slot, f, pdu, plen);
    if (fc != MODBUS_FC_READ_HOLDING_REGISTERS && fc != MODBUS_FC_READ_INPUT_REGISTERS)
        return mbs_exception(c, f, fc, MODBUS_EXCEPTION_ILLEGAL_FUNCTION);
    if (plen != 5)
        return mbs_exception(c, f, fc, MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE);
    unsigned start = (unsigned)pdu[1] << 8 | pdu[2], qty = (unsigned)pdu[3] << 8 | pdu[4];
    if (qty < 1 || qty > MODBUS_MAX_READ_REGISTERS)
        return mbs_exception(c, f, fc, MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE);
    if (start + qty > 65536)
        return mbs_exception(c, f, fc, MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
    const struct mbs_unit *u = mbs_unit_find(s, f[6]);
    if (!u)
        return mbs_exception(c, f, fc, MODBUS_EXCEPTION_GATEWAY_PATH);
    uint8_t out[2 + 2 * MODBUS_MAX_READ_REGISTERS];
    out[0] = fc;
    out[1] = (uint8_t)(2 * qty);
    int ex = mbs_read(s, (size_t)(u - s->units), start, qty, out + 2);
    if (ex)
        return mbs_exception(c, f, fc, ex);
    mbs_queue(c, f, out, 2 + 2 * qty);
}

/* ---- connections ------------------------------------------------------------------------- */

static void mbs_close(struct mbs_client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    if (c->open) {
        pthread_mutex_lock(c->info_lock);
        c->open = false;
        pthread_mutex_unlock(c->info_lock);
    }
    c->fd = -1;
    c->busy = false;
    c->rxlen = c->txlen = c->txoff = 0;
}

/* Sends what is queued; 0, or -1 when the connection is gone. */
static int mbs_flush(struct mbs_client *c)
{
    while (c->txoff < c->txlen) {
        ssize_t n = send(c->fd, c->tx + c->txoff, c->txlen - c->txoff, MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
        c->txoff += (size_t)n;
    }
    c->txoff = c->txlen = 0;
    return 0;
}

/* Parses the whole frames in rx while there is room for their replies. -1: protocol error. */
static int mbs_parse(struct mbserver *s, struct mbs_client *c, size_t slot)
{
    size_t off = 0;
    while (!c->busy && c->rxlen - off >= 7 && c->txlen + MBS_FRAME_MAX <= MBS_TX) {
        const uint8_t *f = c->rx + off;
        unsigned proto = (unsigned)f[2] << 8 | f[3], len = (unsigned)f[4] << 8 | f[5];
        if (proto != 0 || len < 2 || len > MBS_FRAME_MAX - 6)
            return -1; /* not Modbus-TCP: drop the connection (resynchronising is guesswork) */
        if (c->rxlen - off < 6 + len)
            break;
        mbs_frame(s, c, slot, f, 6 + len);
        off += 6 + len;
    }
    memmove(c->rx, c->rx + off, c->rxlen - off);
    c->rxlen -= off;
    return 0;
}

static bool mbs_allowed(const struct mbserver *s, const struct sockaddr_storage *ss)
{
    if (!s->nnets)
        return true;
    uint32_t a;
    if (ss->ss_family == AF_INET) {
        a = ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr);
    } else if (ss->ss_family == AF_INET6 &&
               IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)ss)->sin6_addr)) {
        const uint8_t *b = ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr + 12;
        a = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    } else {
        return false;
    }
    for (size_t i = 0; i < s->nnets; i++)
        if ((a & s->nets[i].mask) == s->nets[i].addr)
            return true;
    return false;
}

/* O_NONBLOCK and FD_CLOEXEC (accept4/pipe2 are GNU extensions). */
static int mbs_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) != 0)
        return -errno;
    return 0;
}

static void mbs_accept(struct mbserver *s)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept(s->lfd, (struct sockaddr *)&ss, &sl);
        if (fd < 0)
            return;
        if (mbs_nonblock(fd) != 0) {
            close(fd);
            continue;
        }
        if (!mbs_allowed(s, &ss)) {
            log_complain(&s->deny_log, LOG_NOTICE,
                         "modbus: connection refused: address not in allow_from");
            close(fd);
            continue;
        }
        int slot = -1;
        for (int i = 0; i < s->max_clients && slot < 0; i++)
            if (s->clients[i].fd < 0)
                slot = i;
        if (slot < 0) {
            log_complain(&s->full_log, LOG_WARNING,
                         "modbus: connection refused: max_clients (%d) reached", s->max_clients);
            close(fd);
            continue;
        }
        int one = 1;
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
            log_msg(LOG_DEBUG, "modbus: TCP_NODELAY: %s", strerror(errno));
        struct mbs_client *c = &s->clients[slot];
        c->fd = fd;
        c->gen++;
        c->busy = false;
        c->rxlen = c->txlen = c->txoff = 0;
        c->last_ms = util_mono_ms();
        char peer[48] = "?";
        if (ss.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)&ss)->sin_addr, peer, sizeof(peer));
        else if (ss.ss_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)&ss)->sin6_addr, peer,
                      sizeof(peer));
        pthread_mutex_lock(c->info_lock);
        c->open = true;
        util_strlcpy(c->peer, peer, sizeof(c->peer));
        c->since_wall_ms = util_wall_ms();
        __atomic_store_n(&c->requests, 0, __ATOMIC_RELAXED);
        pthread_mutex_unlock(c->info_lock);
    }
}

static void mbs_read_client(struct mbserver *s, struct mbs_client *c, size_t slot)
{
    ssize_t n = recv(c->fd, c->rx + c->rxlen, MBS_RX - c->rxlen, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        mbs_close(c);
        return;
    }
    if (n < 0)
        return;
    c->rxlen += (size_t)n;
    c->last_ms = util_mono_ms();
    __atomic_fetch_add(&c->requests, 1, __ATOMIC_RELAXED);
    if (mbs_parse(s, c, slot) != 0 || mbs_flush(c) != 0)
        mbs_close(c);
}

/* Replies of finished writes. */
static void mbs_collect(struct mbserver *s)
{
    uint8_t buf[64];
    while (read(s->wake[0], buf, sizeof(buf)) > 0)
        ;
    struct mbs_job done[MBS_JOBS];
    pthread_mutex_lock(&s->lock);
    size_t n = s->ndone;
    memcpy(done, s->done, n * sizeof(done[0]));
    s->ndone = 0;
    pthread_mutex_unlock(&s->lock);
    for (size_t i = 0; i < n; i++) {
        struct mbs_client *c = &s->clients[done[i].slot];
        if (c->fd < 0 || c->gen != done[i].gen)
            continue; /* the client left meanwhile */
        c->busy = false;
        if (done[i].rc == 0)
            mbs_queue(c, done[i].head, done[i].reply, 5);
        else
            mbs_exception(c, done[i].head, done[i].reply[0],
                          done[i].rc == -ENOENT || done[i].rc == -EPERM
                              ? MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS
                              : MODBUS_EXCEPTION_SLAVE_OR_SERVER_FAILURE);
        if (mbs_parse(s, c, done[i].slot) != 0 || mbs_flush(c) != 0)
            mbs_close(c);
    }
}

static void *mbs_loop(void *arg)
{
    struct mbserver *s = arg;
    size_t cap = (size_t)s->max_clients + 2;
    struct pollfd *pfd = xcalloc(cap, sizeof(*pfd));
    int *slot_of = xcalloc(cap, sizeof(*slot_of));
    while (!atomic_load(&s->stop)) {
        size_t n = 0;
        pfd[n++] = (struct pollfd){.fd = s->wake[0], .events = POLLIN};
        pfd[n++] = (struct pollfd){.fd = s->lfd, .events = POLLIN};
        int64_t now = util_mono_ms();
        for (int i = 0; i < s->max_clients; i++) {
            struct mbs_client *c = &s->clients[i];
            if (c->fd < 0)
                continue;
            if (!c->busy && s->idle_ms > 0 && now - c->last_ms > s->idle_ms) {
                mbs_close(c); /* idle, or a half frame that never completes */
                continue;
            }
            short ev = 0;
            if (!c->busy && c->rxlen < MBS_RX && c->txlen + MBS_FRAME_MAX <= MBS_TX)
                ev |= POLLIN;
            if (c->txlen > c->txoff)
                ev |= POLLOUT;
            slot_of[n] = i;
            pfd[n++] = (struct pollfd){.fd = c->fd, .events = ev};
        }
        int rc = poll(pfd, n, 500);
        if (rc < 0) {
            if (errno != EINTR)
                log_msg(LOG_ERR, "modbus: poll: %s", strerror(errno));
            continue;
        }
        if (pfd[0].revents)
            mbs_collect(s);
        if (pfd[1].revents & POLLIN)
            mbs_accept(s);
        for (size_t k = 2; k < n; k++) {
            struct mbs_client *c = &s->clients[slot_of[k]];
            if (c->fd != pfd[k].fd || !pfd[k].revents)
                continue;
            if (pfd[k].revents & POLLOUT) {
                if (mbs_flush(c) != 0) {
                    mbs_close(c);
                    continue;
                }
                c->last_ms = util_mono_ms();
                /* room again: frames waiting in rx can be answered now */
                if (mbs_parse(s, c, (size_t)slot_of[k]) != 0 || mbs_flush(c) != 0) {
                    mbs_close(c);
                    continue;
                }
            }
            if (pfd[k].revents & (POLLIN | POLLHUP | POLLERR))
                mbs_read_client(s, c, (size_t)slot_of[k]);
        }
    }
    free(pfd);
    free(slot_of);
    return NULL;
}

/* ---- API --------------------------------------------------------------------------------- */

/* GET /api/v1/modbus/clients: the SCADA clients connected now (peer, since, reads received). */
static void mbs_api_clients(void *ctx, const struct api_request *r, struct api_reply *out)
{
    struct mbserver *s = ctx;
    (void)r;
    json_t *arr = json_array();
    pthread_mutex_lock(&s->info_lock);
    for (int i = 0; i < s->max_clients; i++) {
        const struct mbs_client *c = &s->clients[i];
        if (!c->open)
            continue;
        json_array_append_new(
            arr,
            json_pack("{s:s, s:I, s:I}", "peer", c->peer, "since", (json_int_t)c->since_wall_ms,
                      "requests", (json_int_t)__atomic_load_n(&c->requests, __ATOMIC_RELAXED)));
    }
    pthread_mutex_unlock(&s->info_lock);
    api_reply_json(out, 200,
                   json_pack("{s:s, s:i, s:o}", "listen", s->listen, "max_clients", s->max_clients,
                             "clients", arr));
}

static void mbs_api_units(void *ctx, const struct api_request *r, struct api_reply *out)
{
    (void)r;
    struct mbserver *s = ctx;
    struct mbs_unit u[MBS_MAX_UNITS];
    size_t n = mbs_build_units(s, u, MBS_MAX_UNITS);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:i, s:s, s:i, s:s, s:i, s:i}", "unit", u[i].unit,
                                             "service", u[i].service, "code", u[i].code, "device",
                                             u[i].device, "product_id", (int)u[i].product_id,
                                             "instance", u[i].instance));
    api_reply_json(out, 200,
                   json_pack("{s:o, s:{s:i, s:i, s:i, s:i}}", "units", arr, "discovery", "unit",
                             100, "register", MBSERVER_DISC_BASE, "entry_registers",
                             MBSERVER_DISC_ENTRY, "max_units", MBSERVER_DISC_MAX));
}

/* ---- service ----------------------------------------------------------------------------- */

static void mbs_free(struct mbserver *s)
{
    if (!s)
        return;
    if (s->lfd >= 0)
        close(s->lfd);
    for (int i = 0; s->clients && i < s->max_clients; i++)
        mbs_close(&s->clients[i]);
    for (int i = 0; i < 2; i++)
        if (s->wake[i] >= 0)
            close(s->wake[i]);
    if (s->clients)
        pthread_mutex_destroy(&s->info_lock);
    free(s->clients);
    for (size_t i = 0; i < MBS_MAX_UNITS; i++)
        free(s->images[i].regs);
    mbmap_free(s->map);
    free(s);
}

static int mbs_listen(struct mbserver *s)
{
    char host[96], port[8];
    int p;
    if (util_parse_hostport(s->listen, host, sizeof(host), &p) != 0)
        return -EINVAL;
    snprintf(port, sizeof(port), "%d", p);
    modbus_t *ctx = modbus_new_tcp_pi(host, port);
    if (!ctx)
        return -errno;
    s->lfd = modbus_tcp_pi_listen(ctx, 64);
    int err = errno;
    modbus_free(ctx); /* frees the context only: the listening socket stays ours */
    if (s->lfd < 0)
        return -err;
    return mbs_nonblock(s->lfd);
}

/* Stops the write thread and frees s (the server thread is not running or has been joined). */
static void mbs_writer_stop_and_free(struct mbserver *s)
{
    pthread_mutex_lock(&s->lock);
    s->wstop = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->wthread, NULL);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    mbs_free(s);
}

static void mbs_stop(void *inst);

static int mbs_start(struct core *core, void **inst)
{
    *inst = NULL;
    const struct conf_section *sec = conf_section_nth(core->conf, "modbus_server", 0);
    if (!sec)
        return 0; /* off unless configured */
    struct mbserver *s = xcalloc(1, sizeof(*s));
    s->core = core;
    s->lfd = s->wake[0] = s->wake[1] = -1;
    const char *bad;
    if (mbs_configure(s, sec, &bad) != 0) {
        log_msg(LOG_ERR, "modbus: bad %s", bad); /* conf check already refused this */
        mbs_free(s);
        return -EINVAL;
    }
    /* A configured server that cannot serve is a start-up error, at its section's file:line. */
    char err[300], found[PATH_MAX], tried[3 * PATH_MAX];
    const char *map = conf_get(sec, "map");
    const struct conf_kv *map_kv = conf_get_kv(sec, "map");
    if (strcmp(map, "auto") == 0) {
        if (mbmap_default_path(MBMAP_DEFAULT_PATH, NULL, core->conf->path, found, sizeof(found),
                               tried, sizeof(tried)) != 0) {
            log_msg(LOG_ERR,
                    "%s:%d: [modbus_server]: no register map found (looked for %s); set "
                    "map = FILE",
                    sec->file, sec->line, tried);
            mbs_free(s);
            return -ENOENT;
        }
        map = found;
    }
    int rc = mbmap_load(map, &s->map, err, sizeof(err));
    if (rc != 0) {
        log_msg(LOG_ERR, "%s:%d: [modbus_server]: cannot load the register map: %s",
                map_kv ? map_kv->file : sec->file, map_kv ? map_kv->line : sec->line, err);
        mbs_free(s);
        return rc;
    }
    s->clients = xcalloc((size_t)s->max_clients, sizeof(*s->clients));
    pthread_mutex_init(&s->info_lock, NULL);
    for (int i = 0; i < s->max_clients; i++) {
        s->clients[i].fd = -1;
        s->clients[i].info_lock = &s->info_lock;
    }
    log_throttle_init(&s->full_log, 60000);
    log_throttle_init(&s->deny_log, 60000);
    if (pipe(s->wake) != 0 || mbs_nonblock(s->wake[0]) != 0 || mbs_nonblock(s->wake[1]) != 0 ||
        (rc = mbs_listen(s)) != 0) {
        rc = rc ? rc : -errno;
        const struct conf_kv *kv = conf_get_kv(sec, "listen");
        log_msg(LOG_ERR, "%s:%d: [modbus_server]: cannot listen on %s: %s",
                kv ? kv->file : sec->file, kv ? kv->line : sec->line, s->listen, strerror(-rc));
        mbs_free(s);
        return rc;
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    if ((rc = pthread_create(&s->wthread, NULL, mbs_writer, s)) != 0) {
        log_msg(LOG_ERR, "modbus: cannot start the command thread: %s", strerror(rc));
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->cond);
        mbs_free(s);
        return -rc;
    }
    if ((rc = pthread_create(&s->thread, NULL, mbs_loop, s)) != 0) {
        log_msg(LOG_ERR, "modbus: cannot start the server thread: %s", strerror(rc));
        mbs_writer_stop_and_free(s);
        return -rc;
    }
    if ((rc = api_route_add(core->api, "GET", "/api/v1/modbus/units", mbs_api_units, s)) != 0 ||
        (rc = api_route_add(core->api, "GET", "/api/v1/modbus/clients", mbs_api_clients, s)) != 0) {
        log_msg(LOG_ERR, "modbus: cannot register the API routes: %s", strerror(-rc));
        mbs_stop(s);
        return rc;
    }
    log_msg(LOG_INFO, "modbus: serving %zu register%s on %s (%s for invalid values, %zu writable)",
            mbmap_count(s->map), mbmap_count(s->map) == 1 ? "" : "s", s->listen,
            s->invalid == MBMAP_INVALID_ZERO ? "zero" : "sentinels", s->nrules);
    *inst = s;
    return 0;
}

static void mbs_stop(void *inst)
{
    struct mbserver *s = inst;
    if (!s)
        return;
    api_route_remove(s->core->api, s);
    atomic_store(&s->stop, true);
    uint8_t b = 1;
    if (write(s->wake[1], &b, 1) < 0)
        log_msg(LOG_DEBUG, "modbus: wake: %s", strerror(errno));
    pthread_join(s->thread, NULL);
    mbs_writer_stop_and_free(s);
}

const struct service service_mbserver = {
    .name = "mbserver",
    .start = mbs_start,
    .stop = mbs_stop,
};
