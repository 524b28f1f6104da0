/* sunspec: driver for PV inverters (and data-manager meters) speaking SunSpec over Modbus-TCP:
 * Fronius, SMA, ABB/FIMER, and any other SunSpec device. libmodbus client; one device = one
 * unit id, so several inverters behind one data manager are one [device] section each. */
#include "core/driver.h"
#include "core/log.h"
#include "core/util.h"
#include "sunspec_proto.h"
#include "sunspec_scan.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <modbus.h>
#include <stdio.h>
#include <string.h>

#define SS_UNITS_MAX 16
#define SS_REGS_MAX 512 /* the longest model read: 160 with 16 modules (330) */
#define SS_SLICE_MS 200
#define SS_PV_FIELDS 3
#define SS_PH_FIELDS 4
/* SMA's proprietary profile (protocols.md §4.4, SMA modbuslist STP8.0-10.0-3AV-40): unit 3. */
#define SS_SMA_UNIT 3
#define SS_SMA_REG_W 30775    /* S32 FIX0 W, GridMs.TotW */
#define SS_SMA_REG_WH 30529   /* U32 FIX0 Wh, total yield */
#define SS_SMA_REG_COND 30201 /* U32 TAGLIST: 35 Fault, 303 Off, 307 Ok, 455 Warning */
#define SS_SMA_NAN_S32 0x80000000u
#define SS_SMA_NAN_U32 0xFFFFFFFFu
#define SS_SMA_NAN_TAG 0x00FFFFFDu
#define SS_MEMO "unit" /* state file: <state_dir>/sunspec-<device>.unit */

static const struct drv_key ss_keys[] = {
    {"host",         DRV_KEY_STRING,   NULL,       NULL,        "inverter or data manager address (IP or name)"},
    {"port",         DRV_KEY_INT,      "502",      "1..65535",  "Modbus-TCP port"                              },
    {"unit",         DRV_KEY_STRING,   "auto",     NULL,
     "Modbus unit id, a list tried in order (1,2,126), or auto = 1, 2, 126 then extra_units; the "
     "unit found is tried first next time"                                                                     },
    {"extra_units",  DRV_KEY_STRING,   "",         NULL,
     "more unit ids auto tries after 1, 2, 126 (comma-separated)"                                              },
    {"position",     DRV_KEY_STRING,   "ac-input", NULL,
     "where it feeds in: ac-input, ac-output or ac-input-2"                                                    },
    {"interval",     DRV_KEY_DURATION, "1s",       "100ms..1h", "polling period"                               },
    {"timeout",      DRV_KEY_DURATION, "2s",       "100ms..1m", "connect and response timeout of one request"  },
    {"sma_fallback", DRV_KEY_BOOL,     "yes",      NULL,
     "SMA: read unit 3's proprietary registers for what SunSpec lacks"                                         },
    {NULL,           0,                NULL,       NULL,        NULL                                           },
};

static const char *const ss_ph_path[SS_PH_FIELDS] = {"Voltage", "Current", "Power",
                                                     "Energy/Forward"};
static const char *const ss_ph_unit[SS_PH_FIELDS] = {"V", "A", "W", "kWh"};
static const char *const ss_pv_path[SS_PV_FIELDS] = {"V", "I", "P"};
static const char *const ss_pv_unit[SS_PV_FIELDS] = {"V", "A", "W"};

/* Whole-device points, indexed by enum ss_pt. */
enum ss_pt {
    SS_PT_POWER,
    SS_PT_ENERGY,
    SS_PT_FREQ,
    SS_PT_MAXPOWER,
    SS_PT_POSITION,
    SS_PT_STATUS,
    SS_PT_ERROR,
    SS_PT_ENERGY_REV, /* meters only */
    SS_PT_MAX,
};
static const struct {
    const char *path;
    const char *unit;
} ss_pts[SS_PT_MAX] = {
    [SS_PT_POWER] = {"Ac/Power",          "W"  },
      [SS_PT_ENERGY] = {"Ac/Energy/Forward", "kWh"},
    [SS_PT_FREQ] = {"Ac/Frequency",      "Hz" },
      [SS_PT_MAXPOWER] = {"Ac/MaxPower",       "W"  },
    [SS_PT_POSITION] = {"Position",          ""   },
      [SS_PT_STATUS] = {"StatusCode",        ""   },
    [SS_PT_ERROR] = {"ErrorCode",         ""   },
      [SS_PT_ENERGY_REV] = {"Ac/Energy/Reverse", "kWh"},
};

static const uint16_t ss_inverter_ids[] = {101, 102, 103, 111, 112, 113};
static const uint16_t ss_meter_ids[] = {203, 213};
static const uint16_t ss_nameplate_id[] = {120};
static const uint16_t ss_mppt_id[] = {160};
/* Probed in this order (protocols.md §4.1, dbus-fronius sunspec_detector.cpp). */
static const uint32_t ss_bases[] = {40000, 50000, 0};

struct ss_priv {
    struct drv_instance *di;
    modbus_t *mb;
    char host[128];
    int port;
    int unit;
    int64_t interval_ms, timeout_ms, ttl_ms, next_ms;
    int position;
    bool sma, sma_fallback, is_meter;
    char address[140]; /* host:port, the key of the remembered unit */
    char tried[256];   /* the units tried by the last open and how each answered */
    struct sunspec_chain chain;
    struct sunspec_model_ref inv, mppt, meter;
    bool has_mppt;
    double max_power; /* W, NaN when unknown */
    unsigned null_frames;
    uint16_t regs[SS_REGS_MAX];
    /* point ids + 1 (0 = not defined yet) */
    int pt_id[SS_PT_MAX];
    int ph_id[3][SS_PH_FIELDS];
    int pv_id[SUNSPEC_MPPT_MAX][SS_PV_FIELDS];
};

static void ss_set(struct ss_priv *p, int *slot, const char *path, const char *unit, double v)
{
    if (*slot == 0) {
        int id = drv_point(p->di, path, unit, p->ttl_ms);
        if (id < 0)
            return;
        *slot = id + 1;
    }
    if (isnan(v))
        drv_set_na(p->di, *slot - 1);
    else
        drv_set(p->di, *slot - 1, v);
}

static void ss_set_pt(struct ss_priv *p, enum ss_pt pt, double v)
{
    ss_set(p, &p->pt_id[pt], ss_pts[pt].path, ss_pts[pt].unit, v);
}

/* libmodbus reports failures as -1 + errno; says what the errno means for this device. */
static int ss_fail(struct ss_priv *p, int e, const char *what)
{
    const char *kind = "";
    if (e == ETIMEDOUT || e == EAGAIN) {
        kind = "no answer (timeout)";
        drv_count(p->di, DEV_CNT_TIMEOUTS, 1);
        e = ETIMEDOUT;
    } else if (e == ECONNRESET || e == EPIPE) {
        kind = "connection reset by peer";
    } else if (e == ECONNREFUSED) {
        kind = "connection refused";
    } else if (e >= EMBXILFUN && e <= EMBXGTAR) {
        kind = "Modbus exception";
    } else if (e == EMBBADDATA || e == EMBBADCRC || e == EMBBADEXC || e == EMBUNKEXC ||
               e == EMBMDATA || e == EMBBADSLAVE) {
        kind = "garbage reply";
        drv_count(p->di, DEV_CNT_FRAME_ERRORS, 1);
    } else {
        kind = "I/O error";
    }
    drv_status(p->di, "%s:%d unit %d: %s %s: %s", p->host, p->port, p->unit, kind, what,
               modbus_strerror(e));
    return e > 0 ? -e : -EIO;
}

/* sunspec_read_fn over the Modbus connection, in reads of at most 125 registers. */
static int ss_read(void *ctx, uint32_t addr, uint16_t n, uint16_t *out)
{
    struct ss_priv *p = ctx;
    for (uint16_t done = 0; done < n;) {
        uint16_t k = n - done > SUNSPEC_READ_MAX ? SUNSPEC_READ_MAX : n - done;
        if (addr + done + k > 0x10000)
            return -ERANGE;
        int r = modbus_read_registers(p->mb, (int)(addr + done), k, out + done);
        if (r < 0)
            return -errno;
        if (r != k)
            return -EMBMDATA;
        drv_count(p->di, DEV_CNT_BYTES, 9u + 2u * k);
        done += k;
    }
    return 0;
}

/* Parses "1,2,126" (commas and/or blanks) into units[]; 0 or -EINVAL. */
static int ss_parse_units(const char *s, int *units, size_t *n)
{
    while (*s) {
        size_t len = strcspn(s, ", ");
        if (len > 0) {
            char tok[8];
            long u;
            if (len >= sizeof(tok) || *n == SS_UNITS_MAX)
                return -EINVAL;
            memcpy(tok, s, len);
            tok[len] = '\0';
            if (util_parse_long(tok, 10, 1, 247, &u) != 0)
                return -EINVAL;
            units[(*n)++] = (int)u;
        }
        s += len;
        s += strspn(s, ", ");
    }
    return 0;
}

static int ss_config(struct drv_instance *di, struct ss_priv *p, int *units, size_t *nunits)
{
    util_strlcpy(p->host, drv_conf(di, "host"), sizeof(p->host));
    p->port = (int)drv_conf_long(di, "port");
    p->interval_ms = drv_conf_ms(di, "interval");
    p->timeout_ms = drv_conf_ms(di, "timeout");
    p->sma_fallback = drv_conf_bool(di, "sma_fallback");
    if (p->interval_ms < 100)
        p->interval_ms = 100;
    /* a value survives two missed polls, or one slow one */
    p->ttl_ms = 3 * p->interval_ms + p->timeout_ms;
    p->max_power = NAN;
    static const struct {
        const char *name;
        int value;
    } positions[] = {
        {"ac-input",   0},
        {"ac-output",  1},
        {"ac-input-2", 2}
    };
    p->position = -1;
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(positions); i++)
        if (strcmp(drv_conf(di, "position"), positions[i].name) == 0)
            p->position = positions[i].value;
    if (p->position < 0) {
        drv_status(di, "position must be ac-input, ac-output or ac-input-2, not '%s'",
                   drv_conf(di, "position"));
        return -EINVAL;
    }
    const char *unit = drv_conf(di, "unit");
    *nunits = 0;
    int r = 0;
    if (strcmp(unit, "auto") == 0) {
        /* Fronius: unit = inverter number (1, 2 ...); 126 = the SunSpec default (SMA) */
        units[0] = 1;
        units[1] = 2;
        units[2] = 126;
        *nunits = 3;
        r = ss_parse_units(drv_conf(di, "extra_units"), units, nunits);
    } else {
        r = ss_parse_units(unit, units, nunits);
    }
    if (r != 0 || *nunits == 0) {
        drv_status(di, "unit must be auto or unit ids 1..247 separated by commas, not '%s'", unit);
        return -EINVAL;
    }
    return 0;
}

/* Finds the SunSpec chain on one unit: 0, -ENODEV (not SunSpec there), or an error: a gateway
 * exception (no such unit), a timeout (nobody answers that unit), another exception (a device
 * that fails), or a reset (a server that drops unknown units). sunspec_answer_of says which. */
static int ss_probe_unit(struct ss_priv *p)
{
    for (size_t b = 0; b < UTIL_ARRAY_SIZE(ss_bases); b++) {
        int r = sunspec_walk(ss_read, p, ss_bases[b], &p->chain);
        if (r == 0)
            return 0;
        if (sunspec_answer_of(r) == SUNSPEC_ANS_NONE)
            continue; /* no marker, or no register there: try the next base */
        return r;
    }
    return -ENODEV;
}

static int ss_read_model(struct ss_priv *p, const struct sunspec_model_ref *m, size_t *n)
{
    *n = (size_t)m->len + 2u;
    if (*n > SS_REGS_MAX)
        *n = SS_REGS_MAX;
    return ss_read(p, m->addr, (uint16_t)*n, p->regs);
}

static int ss_identify(struct drv_instance *di, struct ss_priv *p)
{
    static const uint16_t common_id[] = {1};
    const struct sunspec_model_ref *m = sunspec_chain_find(&p->chain, common_id, 1);
    struct sunspec_common cm = {0};
    size_t n;
    if (m) {
        int r = ss_read_model(p, m, &n);
        if (r < 0)
            return ss_fail(p, -r, "reading model 1");
        sunspec_decode_common(p->regs, n, &cm);
    }
    const struct sunspec_model_ref *inv =
        sunspec_chain_find(&p->chain, ss_inverter_ids, UTIL_ARRAY_SIZE(ss_inverter_ids));
    const struct sunspec_model_ref *meter =
        sunspec_chain_find(&p->chain, ss_meter_ids, UTIL_ARRAY_SIZE(ss_meter_ids));
    if (!inv && !meter) {
        drv_status(di,
                   "%s:%d unit %d: SunSpec device without an inverter (101-103, 111-113) or "
                   "meter (203, 213) model",
                   p->host, p->port, p->unit);
        return -ENODEV;
    }
    p->is_meter = inv == NULL;
    if (inv)
        p->inv = *inv;
    else
        p->meter = *meter;
    m = sunspec_chain_find(&p->chain, ss_mppt_id, 1);
    p->has_mppt = m != NULL && !p->is_meter;
    if (p->has_mppt)
        p->mppt = *m;
    m = sunspec_chain_find(&p->chain, ss_nameplate_id, 1);
    if (m && !p->is_meter) {
        int r = ss_read_model(p, m, &n);
        if (r < 0)
            return ss_fail(p, -r, "reading model 120");
        sunspec_decode_nameplate(p->regs, n, &p->max_power);
    }
    p->sma = strncmp(cm.manufacturer, "SMA", 3) == 0;
    char product[80];
    snprintf(product, sizeof(product), "%s%s%s", cm.manufacturer, cm.model[0] ? " " : "", cm.model);
    drv_set_service(di, p->is_meter ? "grid" : "pvinverter");
    drv_set_identity(di, 0, product[0] ? product : "SunSpec device",
                     cm.serial[0] ? cm.serial : NULL, cm.version[0] ? cm.version : NULL);
    char where[200];
    snprintf(where, sizeof(where), "%s:%d unit %d", p->host, p->port, p->unit);
    drv_set_connection(di, where);
    drv_log(di, LOG_INFO, "%s (serial %s, firmware %s) at %s, SunSpec base %u, %zu model%s, %s %u",
            product, cm.serial, cm.version, where, (unsigned)p->chain.base, p->chain.n,
            p->chain.n == 1 ? "" : "s", p->is_meter ? "meter model" : "inverter model",
            (unsigned)(p->is_meter ? p->meter.id : p->inv.id));
    return 0;
}

/* The unit this device answered on last time (state file), or -1. A missing file is normal; a
 * corrupt one is a warning, and the units are tried in the configured order. */
static int ss_memo_load(struct drv_instance *di, struct ss_priv *p)
{
    char text[256];
    int unit = -1;
    int r = drv_state_read(di, SS_MEMO, text, sizeof(text));
    if (r == 0)
        r = sunspec_memo_parse(text, p->address, &unit);
    if (r == -EINVAL || r == -EFBIG)
        drv_log(di, LOG_WARNING,
                "the remembered unit (state file sunspec-%s.%s) is unreadable; "
                "ignored",
                drv_name(di), SS_MEMO);
    else if (r == -ESRCH)
        drv_log(di, LOG_INFO, "the remembered unit was for another address; forgotten");
    else if (r != 0 && r != -ENOENT)
        drv_log(di, LOG_WARNING, "cannot read the remembered unit: %s", strerror(-r));
    return r == 0 ? unit : -1;
}

static void ss_memo_save(struct drv_instance *di, struct ss_priv *p)
{
    char text[256];
    int r = sunspec_memo_format(text, sizeof(text), p->address, p->unit);
    if (r == 0)
        r = drv_state_write(di, SS_MEMO, text);
    if (r != 0 && r != -ENOENT)
        drv_log(di, LOG_WARNING, "cannot remember unit %d in the state directory: %s", p->unit,
                strerror(-r));
}

/* Opens the connection again after an answer that left it unusable. 0 or -errno. */
static int ss_reconnect(struct ss_priv *p)
{
    modbus_close(p->mb);
    return modbus_connect(p->mb) == 0 ? 0 : -errno;
}

/* Tries units[n] in turn until one holds SunSpec: 0 with p->unit and p->chain set, or the error
 * to report. Any answer of a unit only means "not this unit" (issue 14: gateways that reset the
 * connection on an unknown unit id made a device on unit 126 unreachable); the device is lost
 * only when every unit failed, or when the connection cannot be opened (again). */
static int ss_find_unit(struct drv_instance *di, struct ss_priv *p, const int *units, size_t n)
{
    int why = -ENODEV;
    p->tried[0] = '\0';
    for (size_t i = 0; i < n && !drv_stopping(di); i++) {
        p->unit = units[i];
        modbus_set_slave(p->mb, p->unit);
        int r = ss_probe_unit(p);
        enum sunspec_answer a = sunspec_answer_of(r);
        sunspec_tried_append(p->tried, sizeof(p->tried), p->unit, a, r);
        drv_set_discovery(di, p->tried);
        if (a == SUNSPEC_ANS_FOUND)
            return 0;
        if (a == SUNSPEC_ANS_TIMEOUT)
            drv_count(di, DEV_CNT_TIMEOUTS, 1);
        else if (a == SUNSPEC_ANS_GARBAGE)
            drv_count(di, DEV_CNT_FRAME_ERRORS, 1);
        /* a unit that answers wrongly (or not at all) says more than "none there" */
        if (why == -ENODEV && a != SUNSPEC_ANS_NONE && a != SUNSPEC_ANS_NO_UNIT)
            why = r;
        if (sunspec_answer_reconnects(a) && i + 1 < n) {
            int e = ss_reconnect(p);
            if (e < 0) {
                drv_status(di, "%s: cannot connect again after unit %d: %s (%s)", p->address,
                           p->unit, modbus_strerror(-e), p->tried);
                return e;
            }
        }
    }
    drv_status(di, "%s: no SunSpec device (marker at 40000, 50000 or 0): %s", p->address, p->tried);
    return why;
}

static int ss_open(struct drv_instance *di)
{
    struct ss_priv *p = drv_priv(di);
    p->di = di;
    int units[SS_UNITS_MAX];
    size_t nunits;
    int r = ss_config(di, p, units, &nunits);
    if (r < 0)
        return r;
    char port[8];
    snprintf(port, sizeof(port), "%d", p->port);
    snprintf(p->address, sizeof(p->address), "%s:%d", p->host, p->port);
    /* a numeric IPv4 address skips getaddrinfo() and the NSS modules it loads per thread */
    struct in_addr ip4;
    if (inet_pton(AF_INET, p->host, &ip4) == 1)
        p->mb = modbus_new_tcp(p->host, p->port);
    else
        p->mb = modbus_new_tcp_pi(p->host, port);
    if (!p->mb) {
        drv_status(di, "%s:%d: %s", p->host, p->port, modbus_strerror(errno));
        return -EINVAL;
    }
    uint32_t sec = (uint32_t)(p->timeout_ms / 1000), usec = (uint32_t)(p->timeout_ms % 1000) * 1000;
    modbus_set_response_timeout(p->mb, sec, usec);
    modbus_set_byte_timeout(p->mb, sec, usec);
    int remembered = nunits > 1 ? ss_memo_load(di, p) : -1;
    /* on every open, so also on the retries after a failure (debug: they can be many) */
    if (remembered > 0 && sunspec_units_prefer(units, nunits, remembered))
        drv_log(di, LOG_DEBUG, "trying unit %d first: it answered SunSpec last time", remembered);
    else
        remembered = -1;
    p->unit = units[0];
    /* libmodbus uses the response timeout for connect() too */
    if (modbus_connect(p->mb) < 0)
        return ss_fail(p, errno, "connecting");
    r = ss_find_unit(di, p, units, nunits);
    if (r != 0)
        return r;
    r = ss_identify(di, p);
    if (r < 0)
        return r;
    if (nunits > 1) {
        drv_log(di, LOG_INFO, "units tried%s: %s",
                remembered > 0 ? " (the remembered one first)" : "", p->tried);
        if (p->unit != remembered)
            ss_memo_save(di, p);
    }
    p->next_ms = util_mono_ms();
    return 0;
}

static void ss_close(struct drv_instance *di)
{
    struct ss_priv *p = drv_priv(di);
    if (p->mb) {
        modbus_close(p->mb);
        modbus_free(p->mb);
        p->mb = NULL;
    }
}

/* Sleeps until the next poll is due, waking for stop requests. */
static void ss_wait(struct drv_instance *di, struct ss_priv *p)
{
    int64_t now = util_mono_ms();
    while (now < p->next_ms && !drv_stopping(di)) {
        int64_t d = p->next_ms - now;
        util_sleep_ms(d < SS_SLICE_MS ? d : SS_SLICE_MS);
        now = util_mono_ms();
    }
    p->next_ms += p->interval_ms;
    if (p->next_ms < now) /* a slow poll: start again from now instead of bursting */
        p->next_ms = now + p->interval_ms;
}

/* Reads 2 registers of SMA's unit 3 for the fallback: 0 or -errno. A server that resets or stays
 * silent on unit 3 (a gateway in front of the inverter) turns the fallback off until the next
 * open, on a new connection, so that the SunSpec values keep coming. */
static int ss_sma_read(struct ss_priv *p, uint32_t addr, uint16_t r[2])
{
    if (!p->sma_fallback)
        return -ENODEV;
    int e = ss_read(p, addr, 2, r);
    if (e < 0 && sunspec_answer_reconnects(sunspec_answer_of(e))) {
        p->sma_fallback = false;
        drv_log(p->di, LOG_WARNING,
                "SMA unit %d: %s; the fallback is off until the device is opened again",
                SS_SMA_UNIT, sunspec_answer_text(sunspec_answer_of(e)));
        if (ss_reconnect(p) < 0)
            return e; /* the next poll fails and the runner reopens */
    }
    return e;
}

/* SMA: what SunSpec reports as not implemented (W at night, ...) from unit 3's proprietary
 * registers (protocols.md §4.4). Failures here only leave the values n/a. */
static void ss_sma_fallback(struct ss_priv *p, struct sunspec_inverter *v)
{
    uint16_t r[2];
    modbus_set_slave(p->mb, SS_SMA_UNIT);
    if (isnan(v->w) && ss_sma_read(p, SS_SMA_REG_W, r) == 0) {
        uint32_t u = (uint32_t)r[0] << 16 | r[1];
        if (u != SS_SMA_NAN_S32)
            v->w = (int32_t)u;
    }
    if (isnan(v->wh) && ss_sma_read(p, SS_SMA_REG_WH, r) == 0) {
        uint32_t u = (uint32_t)r[0] << 16 | r[1];
        if (u != SS_SMA_NAN_U32)
            v->wh = u;
    }
    if (isnan(v->st) && ss_sma_read(p, SS_SMA_REG_COND, r) == 0) {
        uint32_t u = (uint32_t)r[0] << 16 | r[1];
        /* condition 35 Fault, 303 Off, 307 Ok, 455 Warning → the SunSpec states */
        if (u == 35)
            v->st = SUNSPEC_ST_FAULT;
        else if (u == 303)
            v->st = SUNSPEC_ST_OFF;
        else if (u == 307 || u == 455)
            v->st = SUNSPEC_ST_MPPT;
    }
    modbus_flush(p->mb);
    modbus_set_slave(p->mb, p->unit);
}

static void ss_publish_inverter(struct ss_priv *p, const struct sunspec_inverter *v)
{
    ss_set_pt(p, SS_PT_POWER, v->w);
    ss_set_pt(p, SS_PT_ENERGY, v->wh / 1000.0);
    ss_set_pt(p, SS_PT_FREQ, v->hz);
    ss_set_pt(p, SS_PT_MAXPOWER, p->max_power);
    ss_set_pt(p, SS_PT_POSITION, p->position);
    int sc = sunspec_status_code(v->st);
    ss_set_pt(p, SS_PT_STATUS, sc < 0 ? NAN : sc);
    ss_set_pt(p, SS_PT_ERROR, v->evt1);
    /* Per-phase power: SunSpec inverters give only the total. Split it in proportion to V·I of
     * each phase when all are known, evenly otherwise; energy evenly (our choice, see README). */
    double va[3], sum = 0;
    int ph = v->phases;
    for (int i = 0; i < ph; i++) {
        double a = ph == 1 && isnan(v->aph[0]) ? v->a : v->aph[i];
        va[i] = v->phv[i] * a;
        sum += va[i];
    }
    for (int i = 0; i < ph; i++) {
        double a = ph == 1 && isnan(v->aph[0]) ? v->a : v->aph[i];
        double w = ph == 1 ? v->w : (isnan(sum) || sum <= 0 ? v->w / ph : v->w * va[i] / sum);
        double f[SS_PH_FIELDS] = {v->phv[i], a, w, v->wh / 1000.0 / ph};
        for (size_t k = 0; k < SS_PH_FIELDS; k++) {
            char path[48];
            snprintf(path, sizeof(path), "Ac/L%d/%s", i + 1, ss_ph_path[k]);
            ss_set(p, &p->ph_id[i][k], path, ss_ph_unit[k], f[k]);
        }
    }
}

static void ss_publish_pv(struct ss_priv *p, size_t idx, double v, double a, double w)
{
    double f[SS_PV_FIELDS] = {v, a, w};
    for (size_t k = 0; k < SS_PV_FIELDS; k++) {
        char path[32];
        snprintf(path, sizeof(path), "Pv/%zu/%s", idx, ss_pv_path[k]);
        ss_set(p, &p->pv_id[idx][k], path, ss_pv_unit[k], f[k]);
    }
}

static int ss_poll_meter(struct drv_instance *di, struct ss_priv *p)
{
    size_t n;
    int r = ss_read_model(p, &p->meter, &n);
    if (r < 0)
        return ss_fail(p, -r, "reading the meter model");
    struct sunspec_meter m;
    if (sunspec_decode_meter(p->meter.id, p->regs, n, &m) < 0) {
        drv_status(di, "model %u: cannot decode", (unsigned)p->meter.id);
        return -EPROTO;
    }
    ss_set_pt(p, SS_PT_POWER, m.w);
    ss_set_pt(p, SS_PT_ENERGY, m.imp_wh / 1000.0);
    ss_set_pt(p, SS_PT_ENERGY_REV, m.exp_wh / 1000.0);
    ss_set_pt(p, SS_PT_FREQ, m.hz);
    for (int i = 0; i < 3; i++) {
        double f[3] = {m.phv[i], m.aph[i], m.wph[i]};
        for (size_t k = 0; k < 3; k++) {
            char path[48];
            snprintf(path, sizeof(path), "Ac/L%d/%s", i + 1, ss_ph_path[k]);
            ss_set(p, &p->ph_id[i][k], path, ss_ph_unit[k], f[k]);
        }
    }
    drv_count(di, DEV_CNT_FRAMES_OK, 1);
    drv_link_ok(di);
    return 0;
}

static int ss_poll(struct drv_instance *di)
{
    struct ss_priv *p = drv_priv(di);
    ss_wait(di, p);
    if (drv_stopping(di))
        return 0;
    if (p->is_meter)
        return ss_poll_meter(di, p);
    size_t n;
    int r = ss_read_model(p, &p->inv, &n);
    if (r < 0)
        return ss_fail(p, -r, "reading the inverter model");
    struct sunspec_inverter v;
    if (sunspec_decode_inverter(p->inv.id, p->regs, n, &v) < 0) {
        drv_status(di, "model %u is shorter (%u) than its layout", (unsigned)p->inv.id,
                   (unsigned)p->inv.len);
        return -EPROTO;
    }
    if (sunspec_is_null_frame(&v)) {
        /* Fronius: St 7 with all zeros = the data manager lost the inverter on Solar Net (night,
         * or a cable): no data. Nothing is published; the device reads as lost until a real
         * frame comes (at night that is asked once a minute at most). */
        drv_count(di, DEV_CNT_FRAME_ERRORS, 1);
        if (p->null_frames++ == 0)
            drv_log(di, LOG_INFO,
                    "null frame (state 7, all zeros): inverter not reachable "
                    "by the data manager; discarded");
        drv_status(di,
                   "%s:%d unit %d: null frame from the data manager (inverter asleep or not "
                   "reachable on Solar Net)",
                   p->host, p->port, p->unit);
        return -ENODATA; /* stale, and asked again with the runner's back-off (1 s ... 60 s) */
    }
    p->null_frames = 0;
    struct sunspec_mppt mp = {0};
    if (p->has_mppt) {
        r = ss_read_model(p, &p->mppt, &n);
        if (r < 0)
            return ss_fail(p, -r, "reading model 160");
        sunspec_decode_mppt(p->regs, n, &mp);
    }
    if (p->sma && p->sma_fallback && (isnan(v.w) || isnan(v.wh) || isnan(v.st)))
        ss_sma_fallback(p, &v);
    ss_publish_inverter(p, &v);
    if (mp.n > 0) {
        for (size_t i = 0; i < mp.n; i++)
            ss_publish_pv(p, i, mp.mod[i].v, mp.mod[i].a, mp.mod[i].w);
    } else {
        ss_publish_pv(p, 0, v.dcv, v.dca, v.dcw);
    }
    drv_count(di, DEV_CNT_FRAMES_OK, 1);
    drv_link_ok(di);
    return 0;
}

static void ss_list_points(void (*emit)(const struct drv_point_doc *doc, void *ctx), void *ctx)
{
    for (size_t i = 0; i < SS_PT_MAX; i++)
        emit(&(struct drv_point_doc){"pvinverter", ss_pts[i].path, ss_pts[i].unit,
                                     i == SS_PT_ENERGY_REV ? "meters (service grid) only" : ""},
             ctx);
    for (size_t k = 0; k < SS_PH_FIELDS; k++) {
        char path[48];
        snprintf(path, sizeof(path), "Ac/L<1..3>/%s", ss_ph_path[k]);
        emit(&(struct drv_point_doc){"pvinverter", path, ss_ph_unit[k], "per phase"}, ctx);
    }
    for (size_t k = 0; k < SS_PV_FIELDS; k++) {
        char path[32];
        snprintf(path, sizeof(path), "Pv/<n>/%s", ss_pv_path[k]);
        emit(&(struct drv_point_doc){"pvinverter", path, ss_pv_unit[k],
                                     "per MPPT (model 160), from 0"},
             ctx);
    }
}

const struct driver driver_sunspec = {
    .name = "sunspec",
    .description = "SunSpec PV inverters and meters over Modbus-TCP (Fronius, SMA, ABB/FIMER ...)",
    .keys = ss_keys,
    .priv_size = sizeof(struct ss_priv),
    .open = ss_open,
    .poll = ss_poll,
    .close = ss_close,
    .list_points = ss_list_points,
};
