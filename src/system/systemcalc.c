/* systemcalc: the GX system values (see systemcalc.h). Formulas: dbus-systemcalc-py as summarised
 * in gx-modbus/NOTES.md; what NOTES.md leaves open is marked "our choice". */
#include "systemcalc.h"

#include "core/log.h"
#include "core/service.h"
#include "core/ticker.h"
#include "core/util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SC_MAX_DEVICES 64
/* Battery state thresholds of register 844: above 30 W charging, below -30 W discharging. */
#define SC_IDLE_W 30.0

static const struct drv_key systemcalc_keys[] = {
    {"battery_service", DRV_KEY_STRING,   "auto",   NULL,
     "auto (a battery monitor, else a lone VE.Bus unit), none, sitewatch (the first [battery]) or "
     "a device name"                                                                                           },
    {"has_dc_system",   DRV_KEY_BOOL,     "no",     NULL,
     "DC loads/chargers not measured: estimate Dc/System"                                                      },
    {"ac_input1",       DRV_KEY_STRING,   "grid",   NULL,        "what AC-in 1 is: grid, genset, shore or none"},
    {"ac_input2",       DRV_KEY_STRING,   "genset", NULL,        "what AC-in 2 is: grid, genset, shore or none"},
    {"interval",        DRV_KEY_DURATION, "1s",     "100ms..1m", "how often the system values are computed"    },
    {NULL,              0,                NULL,     NULL,        NULL                                          },
};

/* Ac/ActiveIn/Source codes (register 826). */
struct sc_input_type {
    const char *name;
    int source;
};
static const struct sc_input_type sc_input_types[] = {
    {"none",   0},
    {"grid",   1},
    {"genset", 2},
    {"shore",  3},
};

static int sc_input_parse(const char *s)
{
    for (size_t k = 0; k < UTIL_ARRAY_SIZE(sc_input_types); k++)
        if (s && strcmp(s, sc_input_types[k].name) == 0)
            return sc_input_types[k].source;
    return -EINVAL;
}

static int systemcalc_check(const struct conf_section *s, struct conf_error *e)
{
    static const char *const inputs[] = {"ac_input1", "ac_input2"};
    for (size_t k = 0; k < UTIL_ARRAY_SIZE(inputs); k++) {
        const struct conf_kv *kv = conf_get_kv(s, inputs[k]);
        if (kv && sc_input_parse(kv->value) < 0)
            return conf_error_at(e, s, kv, "%s = %s: expected grid, genset, shore or none",
                                 inputs[k], kv->value);
    }
    const struct conf_kv *kv = conf_get_kv(s, "interval");
    if (kv && (conf_get_ms(s, "interval") < 100 || conf_get_ms(s, "interval") > 60000))
        return conf_error_at(e, s, kv, "interval = %s: expected 100ms to 1m", kv->value);
    return 0;
}

const struct conf_section_type conf_section_system = {
    .type = "system", .keys = systemcalc_keys, .check = systemcalc_check};

/* The outputs, as data. */
enum sc_out {
    SC_BAT_V,
    SC_BAT_I,
    SC_BAT_P,
    SC_BAT_SOC,
    SC_BAT_STATE,
    SC_BAT_CE,
    SC_BAT_TTG,
    SC_PV_P,
    SC_PV_I,
    SC_SYS_P,
    SC_CHG_P,
    SC_VEBUS_I,
    SC_VEBUS_P,
    SC_ACTIVE_SRC,
    SC_PHASED, /* then 6 groups of 3 phases */
};
enum sc_group {
    SC_G_PVOUT,
    SC_G_PVGRID,
    SC_G_PVGENSET,
    SC_G_CONS,
    SC_G_CONSIN,
    SC_G_CONSOUT,
    SC_G_GRID,
    SC_NGROUPS
};
#define SC_NOUT (SC_PHASED + SC_NGROUPS * 3)

static const struct {
    const char *path;
    const char *unit;
} sc_outs[SC_PHASED] = {
    [SC_BAT_V] = {"Dc/Battery/Voltage",          "V" },
    [SC_BAT_I] = {"Dc/Battery/Current",          "A" },
    [SC_BAT_P] = {"Dc/Battery/Power",            "W" },
    [SC_BAT_SOC] = {"Dc/Battery/Soc",              "%" },
    [SC_BAT_STATE] = {"Dc/Battery/State",            ""  },
    [SC_BAT_CE] = {"Dc/Battery/ConsumedAmphours", "Ah"},
    [SC_BAT_TTG] = {"Dc/Battery/TimeToGo",         "s" },
    [SC_PV_P] = {"Dc/Pv/Power",                 "W" },
    [SC_PV_I] = {"Dc/Pv/Current",               "A" },
    [SC_SYS_P] = {"Dc/System/Power",             "W" },
    [SC_CHG_P] = {"Dc/Charger/Power",            "W" },
    [SC_VEBUS_I] = {"Dc/Vebus/Current",            "A" },
    [SC_VEBUS_P] = {"Dc/Vebus/Power",              "W" },
    [SC_ACTIVE_SRC] = {"Ac/ActiveIn/Source",          ""  },
};
static const char *const sc_group_names[SC_NGROUPS] = {
    [SC_G_PVOUT] = "PvOnOutput",
    [SC_G_PVGRID] = "PvOnGrid",
    [SC_G_PVGENSET] = "PvOnGenset",
    [SC_G_CONS] = "Consumption",
    [SC_G_CONSIN] = "ConsumptionOnInput",
    [SC_G_CONSOUT] = "ConsumptionOnOutput",
    [SC_G_GRID] = "Grid",
};

/* A value being computed: n contributions, stale when any contribution was not ok. */
struct sc_val {
    double v;
    int n;
    bool bad;
};

struct systemcalc {
    struct store *store;
    int dev;
    int pt[SC_NOUT];
    char battery_service[STORE_NAME_MAX];
    bool has_dc_system;
    int ac_in_source[2];
    char battery_used[STORE_NAME_MAX];
    struct device_info devs[SC_MAX_DEVICES];
    size_t ndevs;
};

const char *systemcalc_battery_device(const struct systemcalc *sc)
{
    return sc->battery_used;
}

struct systemcalc *systemcalc_new(struct store *store, const struct conf_section *sec,
                                  int64_t ttl_ms)
{
    struct systemcalc *sc = xcalloc(1, sizeof(*sc));
    sc->store = store;
    const char *bs = sec ? conf_get(sec, "battery_service") : "auto";
    util_strlcpy(sc->battery_service, bs ? bs : "auto", sizeof(sc->battery_service));
    sc->has_dc_system = sec ? conf_get_bool(sec, "has_dc_system") : false;
    sc->ac_in_source[0] = sc_input_parse(sec ? conf_get(sec, "ac_input1") : "grid");
    sc->ac_in_source[1] = sc_input_parse(sec ? conf_get(sec, "ac_input2") : "genset");
    sc->dev = store_device_add(store, "system", "systemcalc");
    if (sc->dev < 0) {
        log_msg(LOG_ERR, "systemcalc: cannot add device system: %s", strerror(-sc->dev));
        free(sc);
        return NULL;
    }
    store_device_set_service(store, sc->dev, "system", 0);
    store_device_set_state(store, sc->dev, DEV_CONN_OK, "computing");
    for (int k = 0; k < SC_NOUT; k++) {
        char key[STORE_KEY_MAX];
        const char *unit = "W";
        if (k < SC_PHASED) {
            util_snprintf(key, sizeof(key), "system/%s", sc_outs[k].path);
            unit = sc_outs[k].unit;
        } else {
            int g = (k - SC_PHASED) / 3, l = (k - SC_PHASED) % 3 + 1;
            util_snprintf(key, sizeof(key), "system/Ac/%s/L%d/Power", sc_group_names[g], l);
        }
        sc->pt[k] = store_point_define(store, sc->dev, key, unit, ttl_ms);
    }
    return sc;
}

void systemcalc_free(struct systemcalc *sc)
{
    if (!sc)
        return;
    store_device_stale(sc->store, sc->dev);
    free(sc);
}

/* Adds scale × <dev>/<path> to acc. A point that does not exist adds nothing (the device has no
 * such quantity); one that exists but is not ok spoils the sum. Returns true when it was added. */
static bool sc_add(struct systemcalc *sc, struct sc_val *acc, const char *dev, const char *path,
                   double scale)
{
    char key[STORE_KEY_MAX];
    struct point p;
    if (util_snprintf(key, sizeof(key), "%s/%s", dev, path) != 0 ||
        store_get(sc->store, key, &p) != 0)
        return false;
    if (p.state != POINT_OK) {
        acc->bad = true;
        return false;
    }
    acc->v += scale * p.value;
    acc->n++;
    return true;
}

/* One value of a device: its state in *st. */
static bool sc_get(struct systemcalc *sc, const char *dev, const char *path, double *v,
                   enum point_state *st)
{
    char key[STORE_KEY_MAX];
    struct point p;
    if (util_snprintf(key, sizeof(key), "%s/%s", dev, path) != 0 ||
        store_get(sc->store, key, &p) != 0)
        return false;
    *st = p.state;
    *v = p.value;
    return true;
}

/* The DC power of a device: Dc/0/Power if it has it, else V·I. */
static void sc_add_dc_power(struct systemcalc *sc, struct sc_val *acc, const char *dev)
{
    struct sc_val p = {0};
    if (sc_add(sc, &p, dev, "Dc/0/Power", 1) || p.bad) {
        acc->v += p.v;
        acc->n += p.n;
        acc->bad |= p.bad;
        return;
    }
    struct sc_val v = {0}, i = {0};
    sc_add(sc, &v, dev, "Dc/0/Voltage", 1);
    sc_add(sc, &i, dev, "Dc/0/Current", 1);
    if (v.bad || i.bad || v.n != i.n) {
        acc->bad = true;
        return;
    }
    if (v.n) {
        acc->v += v.v * i.v;
        acc->n++;
    }
}

static void sc_put(struct systemcalc *sc, int out, struct sc_val val)
{
    if (val.bad)
        return; /* not written: the point goes stale after its TTL */
    if (val.n == 0)
        store_set_na(sc->store, sc->pt[out]);
    else
        store_set(sc->store, sc->pt[out], val.v);
}

/* Copies a point of the battery device (state included). */
static void sc_copy(struct systemcalc *sc, int out, const char *dev, const char *path)
{
    double v;
    enum point_state st;
    if (!dev || !sc_get(sc, dev, path, &v, &st) || st == POINT_NA)
        store_set_na(sc->store, sc->pt[out]);
    else if (st == POINT_OK)
        store_set(sc->store, sc->pt[out], v);
}

static bool sc_is(const struct device_info *d, const char *service)
{
    return strcmp(d->service, service) == 0 && d->conn != DEV_CONN_STOPPED;
}

static const struct device_info *sc_first(const struct systemcalc *sc, const char *service)
{
    for (size_t k = 0; k < sc->ndevs; k++)
        if (sc_is(&sc->devs[k], service))
            return &sc->devs[k];
    return NULL;
}

/* The battery service: a named device, none, sitewatch (the first engine battery), or auto. */
static const struct device_info *sc_battery(const struct systemcalc *sc)
{
    const char *want = sc->battery_service;
    if (strcmp(want, "none") == 0)
        return NULL;
    if (strcmp(want, "sitewatch") == 0) {
        for (size_t k = 0; k < sc->ndevs; k++)
            if (sc_is(&sc->devs[k], "battery") && strcmp(sc->devs[k].driver, "sitewatch") == 0)
                return &sc->devs[k];
        return NULL;
    }
    if (strcmp(want, "auto") != 0) {
        for (size_t k = 0; k < sc->ndevs; k++)
            if (strcmp(sc->devs[k].name, want) == 0)
                return &sc->devs[k];
        return NULL;
    }
    /* auto: a battery monitor; else a VE.Bus unit when it is alone (hub-2: no solar charger,
     * no charger), as the GX's "Automatic". */
    const struct device_info *b = sc_first(sc, "battery");
    if (b)
        return b;
    const struct device_info *vb = sc_first(sc, "vebus");
    if (vb && !sc_first(sc, "solarcharger") && !sc_first(sc, "charger"))
        return vb;
    return NULL;
}

static void sc_sum_class(struct systemcalc *sc, struct sc_val *acc, const char *service,
                         const char *path)
{
    for (size_t k = 0; k < sc->ndevs; k++)
        if (sc_is(&sc->devs[k], service))
            sc_add(sc, acc, sc->devs[k].name, path, 1);
}

static void sc_dc_power_class(struct systemcalc *sc, struct sc_val *acc, const char *service)
{
    for (size_t k = 0; k < sc->ndevs; k++)
        if (sc_is(&sc->devs[k], service))
            sc_add_dc_power(sc, acc, sc->devs[k].name);
}

/* PV: Σ V·(I + load I) of the solar chargers. */
static void sc_pv(struct systemcalc *sc, struct sc_val *pw, struct sc_val *cur)
{
    for (size_t k = 0; k < sc->ndevs; k++) {
        if (!sc_is(&sc->devs[k], "solarcharger"))
            continue;
        struct sc_val v = {0}, i = {0};
        sc_add(sc, &v, sc->devs[k].name, "Dc/0/Voltage", 1);
        sc_add(sc, &i, sc->devs[k].name, "Dc/0/Current", 1);
        sc_add(sc, &i, sc->devs[k].name, "Load/I", 1);
        if (v.bad || i.bad || v.n == 0 || i.n == 0) {
            pw->bad = cur->bad = true;
            continue;
        }
        pw->v += v.v * i.v;
        pw->n++;
        cur->v += i.v;
        cur->n++;
    }
}

static struct sc_val sc_plus(struct sc_val a, struct sc_val b, double sb)
{
    return (struct sc_val){.v = a.v + sb * b.v, .n = a.n + b.n, .bad = a.bad || b.bad};
}

static void sc_battery_values(struct systemcalc *sc, struct sc_val pv_p, struct sc_val chg_p,
                              struct sc_val vebus_p, struct sc_val *bat_p_out)
{
    const struct device_info *b = sc_battery(sc);
    util_strlcpy(sc->battery_used, b ? b->name : "", sizeof(sc->battery_used));
    struct sc_val v = {0}, i = {0}, p = {0};
    if (b && sc_is(b, "battery")) {
        sc_add(sc, &v, b->name, "Dc/0/Voltage", 1);
        sc_add(sc, &i, b->name, "Dc/0/Current", 1);
        struct sc_val pp = {0};
        if (sc_add(sc, &pp, b->name, "Dc/0/Power", 1) || pp.bad)
            p = pp;
        else
            p = (struct sc_val){.v = v.v * i.v, .n = v.n && i.n, .bad = v.bad || i.bad};
        sc_copy(sc, SC_BAT_SOC, b->name, "Soc");
        sc_copy(sc, SC_BAT_CE, b->name, "ConsumedAmphours");
        sc_copy(sc, SC_BAT_TTG, b->name, "TimeToGo");
    } else {
        /* No monitor: the voltage falls back through VE.Bus (State ≠ 0), inverters, solar
         * chargers, chargers, DC systems; P = solar + chargers + VE.Bus (− DC system). */
        static const char *const chain[] = {"vebus", "inverter", "solarcharger", "charger",
                                            "dcsystem"};
        for (size_t c = 0; c < UTIL_ARRAY_SIZE(chain) && v.n == 0 && !v.bad; c++)
            for (size_t k = 0; k < sc->ndevs && v.n == 0 && !v.bad; k++) {
                if (!sc_is(&sc->devs[k], chain[c]))
                    continue;
                double st;
                enum point_state sst;
                if (c == 0 && sc_get(sc, sc->devs[k].name, "State", &st, &sst) && sst == POINT_OK &&
                    st == 0)
                    continue;
                sc_add(sc, &v, sc->devs[k].name, "Dc/0/Voltage", 1);
            }
        if (b || sc_first(sc, "vebus") || pv_p.n || chg_p.n) {
            p = sc_plus(sc_plus(pv_p, chg_p, 1), vebus_p, 1);
            if (!b) {
                struct sc_val dcs = {0};
                sc_dc_power_class(sc, &dcs, "dcsystem");
                p = sc_plus(p, dcs, -1);
            }
        }
        i = (struct sc_val){.v = v.v != 0 ? p.v / v.v : 0, .n = p.n && v.n, .bad = p.bad || v.bad};
        if (b) /* a VE.Bus unit as the monitor has its own SoC */
            sc_copy(sc, SC_BAT_SOC, b->name, "Soc");
        else
            store_set_na(sc->store, sc->pt[SC_BAT_SOC]);
        store_set_na(sc->store, sc->pt[SC_BAT_CE]);
        store_set_na(sc->store, sc->pt[SC_BAT_TTG]);
    }
    sc_put(sc, SC_BAT_V, v);
    sc_put(sc, SC_BAT_I, i);
    sc_put(sc, SC_BAT_P, p);
    struct sc_val state = p;
    state.v = p.v > SC_IDLE_W ? 1 : p.v < -SC_IDLE_W ? 2 : 0;
    state.n = p.n ? 1 : 0;
    sc_put(sc, SC_BAT_STATE, state);
    *bat_p_out = p;
}

static void sc_ac(struct systemcalc *sc)
{
    struct sc_val g[SC_NGROUPS][3];
    memset(g, 0, sizeof(g));
    const struct device_info *vb = sc_first(sc, "vebus");
    /* The active input of the VE.Bus unit, mapped through ac_input1/2. */
    int src = -1;
    if (vb) {
        double ai;
        enum point_state st;
        if (sc_get(sc, vb->name, "Ac/ActiveIn/ActiveInput", &ai, &st) && st == POINT_OK)
            src = ai == 0 ? sc->ac_in_source[0] : ai == 1 ? sc->ac_in_source[1] : 240;
    }
    if (src < 0)
        store_set_na(sc->store, sc->pt[SC_ACTIVE_SRC]);
    else
        store_set(sc->store, sc->pt[SC_ACTIVE_SRC], src);

    for (int l = 0; l < 3; l++) {
        char path[48];
        util_snprintf(path, sizeof(path), "Ac/L%d/Power", l + 1);
        /* PV inverters by /Position: 0 = AC-in1, 1 = AC-out, 2 = AC-in2; an input is grid or
         * genset as ac_input1/2 say (shore counts as grid, as on the GX). */
        for (size_t k = 0; k < sc->ndevs; k++) {
            if (!sc_is(&sc->devs[k], "pvinverter"))
                continue;
            double pos = 0;
            enum point_state st = POINT_OK;
            if (sc_get(sc, sc->devs[k].name, "Position", &pos, &st) && st != POINT_OK) {
                g[SC_G_PVOUT][l].bad = true; /* unknown position spoils every PV sum */
                g[SC_G_PVGRID][l].bad = g[SC_G_PVGENSET][l].bad = true;
                continue;
            }
            int grp = SC_G_PVOUT;
            if (pos != 1) {
                int s = sc->ac_in_source[pos == 2 ? 1 : 0];
                grp = s == 2 ? SC_G_PVGENSET : SC_G_PVGRID;
            }
            sc_add(sc, &g[grp][l], sc->devs[k].name, path, 1);
        }
        /* Grid: a grid meter, else the VE.Bus input when it is on a grid/shore input. */
        struct sc_val meter = {0};
        sc_sum_class(sc, &meter, "grid", path);
        char vin[48], vout[48];
        util_snprintf(vin, sizeof(vin), "Ac/ActiveIn/L%d/P", l + 1);
        util_snprintf(vout, sizeof(vout), "Ac/Out/L%d/P", l + 1);
        struct sc_val acin = {0}, acout = {0};
        if (vb) {
            sc_add(sc, &acin, vb->name, vin, 1);
            sc_add(sc, &acout, vb->name, vout, 1);
        }
        if (meter.n || meter.bad) {
            g[SC_G_GRID][l] = meter;
            /* ConsumptionOnInput = max(0, P_meter − P_vebus_acin + P_pv_on_grid) */
            struct sc_val in = sc_plus(sc_plus(meter, acin, -1), g[SC_G_PVGRID][l], 1);
            in.v = in.v < 0 ? 0 : in.v;
            g[SC_G_CONSIN][l] = in;
        } else if (vb && (acin.n || acin.bad)) {
            /* No meter: input loads are taken as zero, so the grid gives what the VE.Bus input
             * takes minus the PV on that input (our choice where NOTES.md is silent). */
            if (src == 1 || src == 3)
                g[SC_G_GRID][l] = sc_plus(acin, g[SC_G_PVGRID][l], -1);
            else
                g[SC_G_GRID][l] = (struct sc_val){.n = acin.n, .bad = acin.bad};
            g[SC_G_CONSIN][l] = (struct sc_val){.n = acin.n, .bad = acin.bad};
        }
        /* ConsumptionOnOutput = max(0, PV on output + VE.Bus AC-out + inverters' outputs) */
        struct sc_val out = sc_plus(g[SC_G_PVOUT][l], acout, 1);
        sc_sum_class(sc, &out, "inverter", vout);
        out.v = out.v < 0 ? 0 : out.v;
        g[SC_G_CONSOUT][l] = out;
        g[SC_G_CONS][l] = sc_plus(g[SC_G_CONSIN][l], out, 1);
    }
    for (int gr = 0; gr < SC_NGROUPS; gr++)
        for (int l = 0; l < 3; l++)
            sc_put(sc, SC_PHASED + gr * 3 + l, g[gr][l]);
}

void systemcalc_update(struct systemcalc *sc)
{
    size_t n = store_device_count_all(sc->store);
    sc->ndevs = 0;
    for (size_t k = 0; k < n && sc->ndevs < SC_MAX_DEVICES; k++)
        if (store_device_get(sc->store, (int)k, &sc->devs[sc->ndevs]) == 0 && (int)k != sc->dev)
            sc->ndevs++;

    struct sc_val pv_p = {0}, pv_i = {0}, chg_p = {0}, vebus_p = {0}, vebus_i = {0};
    sc_pv(sc, &pv_p, &pv_i);
    sc_dc_power_class(sc, &chg_p, "charger");
    const struct device_info *vb = sc_first(sc, "vebus");
    if (vb) {
        sc_add_dc_power(sc, &vebus_p, vb->name);
        sc_add(sc, &vebus_i, vb->name, "Dc/0/Current", 1);
    }
    sc_put(sc, SC_PV_P, pv_p);
    sc_put(sc, SC_PV_I, pv_i);
    sc_put(sc, SC_CHG_P, chg_p);
    sc_put(sc, SC_VEBUS_P, vebus_p);
    sc_put(sc, SC_VEBUS_I, vebus_i);

    struct sc_val bat_p;
    sc_battery_values(sc, pv_p, chg_p, vebus_p, &bat_p);

    /* DC system: measured meters, or the estimate when has_dc_system is set:
     * P_sys = P_solar + P_charger + P_vebus + P_inverters − P_batt. */
    struct sc_val sys = {0};
    sc_dc_power_class(sc, &sys, "dcsystem");
    if (sys.n == 0 && !sys.bad && sc->has_dc_system && bat_p.n) {
        struct sc_val inv = {0};
        sc_dc_power_class(sc, &inv, "inverter");
        sys = sc_plus(sc_plus(sc_plus(sc_plus(pv_p, chg_p, 1), vebus_p, 1), inv, 1), bat_p, -1);
    }
    sc_put(sc, SC_SYS_P, sys);
    sc_ac(sc);
}

/* The service: one calculator on a ticker. */
struct systemcalc_service {
    struct systemcalc *sc;
    struct ticker *ticker;
};

static void systemcalc_tick(void *arg)
{
    struct systemcalc_service *s = arg;
    systemcalc_update(s->sc);
}

static void systemcalc_stop(void *inst)
{
    struct systemcalc_service *s = inst;
    if (!s)
        return;
    ticker_stop(s->ticker);
    systemcalc_free(s->sc);
    free(s);
}

static int systemcalc_start(struct core *core, void **inst)
{
    *inst = NULL;
    for (size_t d = 0; d < core->conf->ndevices; d++)
        if (strcmp(core->conf->devices[d].name, "system") == 0) {
            log_msg(LOG_ERR, "%s:%d: the device name 'system' is reserved for the system values",
                    core->conf->devices[d].file, core->conf->devices[d].line);
            return -EEXIST;
        }
    const struct conf_section *sec = conf_section_nth(core->conf, "system", 0);
    int64_t interval = sec ? conf_get_ms(sec, "interval") : 1000;
    struct systemcalc_service *s = xcalloc(1, sizeof(*s));
    s->sc = systemcalc_new(core->store, sec, interval * 3);
    if (!s->sc) {
        free(s);
        return -ENOSPC;
    }
    systemcalc_update(s->sc);
    s->ticker = ticker_start("systemcalc", interval, systemcalc_tick, s);
    if (!s->ticker) {
        systemcalc_stop(s);
        return -EAGAIN;
    }
    *inst = s;
    return 0;
}

const struct service service_systemcalc = {
    .name = "systemcalc", .start = systemcalc_start, .stop = systemcalc_stop};
