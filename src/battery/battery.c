/* battery: [battery NAME] monitors built on the SoC engine (see battery.h). */
#include "battery.h"

#include "battery_history.h"
#include "core/log.h"
#include "core/ticker.h"
#include "core/util.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BATTERY_MAX_TERMS 8
#define BATTERY_STATE_VERSION 1
/* A tick longer than this (the ticker fell behind, a suspend) integrates only this much: the
 * current of a sample taken before a gap says nothing about the gap. */
#define BATTERY_MAX_DT_MS 5000

static const struct drv_key battery_keys[] = {
    {"current",                DRV_KEY_STRING,   NULL,        NULL,
     "current point(s), A, + = charge: key or sum 'a + b - c'"                                                            },
    {"voltage",                DRV_KEY_STRING,   NULL,        NULL,           "battery voltage point"                     },
    {"temperature",            DRV_KEY_STRING,   "",          NULL,           "battery temperature point (°C), optional" },
    {"chemistry",              DRV_KEY_STRING,   "lead-acid", NULL,
     "lead-acid, agm, gel or lifepo4 (the presets)"                                                                       },
    {"nominal_voltage",        DRV_KEY_DOUBLE,   "12",        "1..1000",      "12, 24, 48 ... (cell count for OCV)"       },
    {"capacity",               DRV_KEY_DOUBLE,   NULL,        "0.1..1000000", "Ah at the 20 h rate"                       },
    {"charged_voltage",        DRV_KEY_STRING,   "auto",      NULL,           "V; auto = 13.2 V per 12 V (LiFePO4 13.8)"  },
    {"tail_current",           DRV_KEY_DOUBLE,   "4",         "0..100",       "% of capacity"                             },
    {"charged_detection_time", DRV_KEY_DURATION, "3m",        "0s..1d",
     "both charged conditions this long"                                                                                  },
    {"peukert",                DRV_KEY_STRING,   "auto",      NULL,           "Peukert exponent; auto = chemistry preset" },
    {"charge_efficiency",      DRV_KEY_STRING,   "auto",      NULL,           "%; auto = 95 (LiFePO4 99)"                 },
    {"current_threshold",      DRV_KEY_DOUBLE,   "0.1",       "0..1000",
     "A; below this the current counts as 0"                                                                              },
    {"discharge_floor",        DRV_KEY_DOUBLE,   "50",        "0..100",       "% SoC, the time-to-go target"              },
    {"ttg_averaging",          DRV_KEY_DURATION, "3m",        "0s..1d",       "time-to-go averaging period (0s = none)"   },
    {"temp_coefficient",       DRV_KEY_STRING,   "auto",      NULL,           "capacity %/°C below 20 °C; auto = preset"},
    {"ocv_recalibration",      DRV_KEY_BOOL,     "no",        NULL,           "recalibrate SoC from the rest voltage"     },
    {"ocv_rest_time",          DRV_KEY_STRING,   "auto",      NULL,           "rest before OCV; auto = 4h (LiFePO4 2h)"   },
    {"ocv_rest_current",       DRV_KEY_DOUBLE,   "0.1",       "0..1000",      "A; |I| below this is rest"                 },
    {"offset_estimation",      DRV_KEY_BOOL,     "yes",       NULL,
     "learn the current-sensor offset sync to sync"                                                                       },
    {"start_soc",              DRV_KEY_DOUBLE,   "100",       "0..100",       "% SoC when there is no saved state"        },
    {"low_voltage_alarm",      DRV_KEY_DOUBLE,   "0",         "0..1000",
     "V, for History/LowVoltageAlarms (0 = off)"                                                                          },
    {"high_voltage_alarm",     DRV_KEY_DOUBLE,   "0",         "0..1000",
     "V, for History/HighVoltageAlarms (0 = off)"                                                                         },
    {"save_interval",          DRV_KEY_DURATION, "1m",        "100ms..1m",    "state file write period"                   },
    {NULL,                     0,                NULL,        NULL,           NULL                                        },
};

struct battery_term {
    char key[STORE_KEY_MAX];
    double sign;
};

/* Parses "a + b - c" into terms. 0 or -EINVAL. */
static int battery_parse_terms(const char *s, struct battery_term *t, size_t *n)
{
    *n = 0;
    double sign = 1;
    bool want_key = true;
    while (*s) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s)
            break;
        if (*s == '+' || *s == '-') {
            if (!want_key && *n == 0)
                return -EINVAL;
            sign = *s == '-' ? -1 : 1;
            if (!want_key)
                want_key = true;
            s++;
            continue;
        }
        if (!want_key || *n == BATTERY_MAX_TERMS)
            return -EINVAL;
        size_t len = strcspn(s, " \t+");
        if (len == 0 || len >= STORE_KEY_MAX || !memchr(s, '/', len))
            return -EINVAL;
        memcpy(t[*n].key, s, len);
        t[*n].key[len] = 0;
        t[*n].sign = sign;
        (*n)++;
        sign = 1;
        want_key = false;
        s += len;
    }
    return (*n > 0 && !want_key) ? 0 : -EINVAL;
}

/* An "auto"-or-number key: the preset when auto, else the number. */
static double battery_auto(const struct conf_section *sec, const char *key, double preset)
{
    const char *v = conf_get(sec, key);
    double d;
    if (!v || strcmp(v, "auto") == 0 || util_parse_double(v, -1e12, 1e12, &d) != 0)
        return preset;
    return d;
}

void battery_params_from_conf(const struct conf_section *sec, struct soc_params *p)
{
    enum soc_chem chem = SOC_CHEM_LEAD_ACID;
    const char *c = conf_get(sec, "chemistry");
    if (c)
        soc_chem_parse(c, &chem);
    soc_params_preset(chem, conf_get_double(sec, "nominal_voltage"),
                      conf_get_double(sec, "capacity"), p);
    p->charged_voltage = battery_auto(sec, "charged_voltage", p->charged_voltage);
    p->tail_current_pct = conf_get_double(sec, "tail_current");
    p->charged_detect_ms = conf_get_ms(sec, "charged_detection_time");
    p->peukert = battery_auto(sec, "peukert", p->peukert);
    p->charge_efficiency = battery_auto(sec, "charge_efficiency", p->charge_efficiency * 100) / 100;
    p->current_threshold = conf_get_double(sec, "current_threshold");
    p->discharge_floor_pct = conf_get_double(sec, "discharge_floor");
    p->ttg_avg_ms = conf_get_ms(sec, "ttg_averaging");
    p->temp_coeff_pct = battery_auto(sec, "temp_coefficient", p->temp_coeff_pct);
    p->ocv_recal = conf_get_bool(sec, "ocv_recalibration");
    const char *rest = conf_get(sec, "ocv_rest_time");
    int64_t ms;
    if (rest && strcmp(rest, "auto") != 0 && util_parse_duration_ms(rest, &ms) == 0)
        p->ocv_rest_ms = ms;
    p->ocv_rest_current = conf_get_double(sec, "ocv_rest_current");
    p->offset_estimation = conf_get_bool(sec, "offset_estimation");
}

struct battery_range {
    const char *key;
    double min, max;
    bool allow_auto;
};
/* Ranges of the numeric keys (BMV ranges of §1.2 where it has them). */
static const struct battery_range battery_ranges[] = {
    {"nominal_voltage",    2,   1000,   false},
    {"capacity",           1,   100000, false},
    {"charged_voltage",    1,   1000,   true },
    {"tail_current",       0.5, 10,     false},
    {"peukert",            1.0, 1.5,    true },
    {"charge_efficiency",  50,  100,    true },
    {"current_threshold",  0,   2,      false},
    {"discharge_floor",    0,   99,     false},
    {"temp_coefficient",   0,   2,      true },
    {"ocv_rest_current",   0,   1000,   false},
    {"start_soc",          0,   100,    false},
    {"low_voltage_alarm",  0,   1000,   false},
    {"high_voltage_alarm", 0,   1000,   false},
};

static int battery_check(const struct conf_section *s, struct conf_error *e)
{
    const struct conf_kv *kv;
    enum soc_chem chem;
    struct battery_term t[BATTERY_MAX_TERMS];
    size_t n;
    if ((kv = conf_get_kv(s, "chemistry")) && soc_chem_parse(kv->value, &chem) != 0)
        return conf_error_at(e, s, kv, "chemistry = %s: expected lead-acid, agm, gel or lifepo4",
                             kv->value);
    if ((kv = conf_get_kv(s, "current")) && battery_parse_terms(kv->value, t, &n) != 0)
        return conf_error_at(e, s, kv,
                             "current = %s: expected point keys joined by + or -, e.g. "
                             "bmv/Dc/0/Current or mppt1/Dc/0/Current + multi/Dc/0/Current",
                             kv->value);
    if ((kv = conf_get_kv(s, "voltage")) && !strchr(kv->value, '/'))
        return conf_error_at(
            e, s, kv, "voltage = %s: expected a point key such as bmv/Dc/0/Voltage", kv->value);
    for (size_t k = 0; k < UTIL_ARRAY_SIZE(battery_ranges); k++) {
        const struct battery_range *r = &battery_ranges[k];
        double d;
        if (!(kv = conf_get_kv(s, r->key)) || (r->allow_auto && strcmp(kv->value, "auto") == 0))
            continue;
        if (util_parse_double(kv->value, r->min, r->max, &d) != 0)
            return conf_error_at(e, s, kv, "%s = %s: expected %s%g to %g", r->key, kv->value,
                                 r->allow_auto ? "auto or " : "", r->min, r->max);
    }
    int64_t ms;
    if ((kv = conf_get_kv(s, "ocv_rest_time")) && strcmp(kv->value, "auto") != 0 &&
        util_parse_duration_ms(kv->value, &ms) != 0)
        return conf_error_at(e, s, kv, "ocv_rest_time = %s: expected auto or a duration (4h)",
                             kv->value);
    if (s->name && strcmp(s->name, "system") == 0)
        return conf_error_at(e, s, NULL, "battery %s: the name 'system' is reserved", s->name);
    return 0;
}

const struct conf_section_type conf_section_battery = {
    .type = "battery", .named = true, .keys = battery_keys, .check = battery_check};

/* The points a battery publishes, as data. */
enum battery_pt {
    BP_SOC,
    BP_CONSUMED,
    BP_TTG,
    BP_V,
    BP_I,
    BP_P,
    BP_T,
    BP_CAPACITY,
    BP_OFFSET,
    BP_SOH,
    BP_SOH_CONF,
    BP_CAP_EST,
    BP_H_DEEPEST,
    BP_H_LAST,
    BP_H_AVERAGE,
    BP_H_CYCLES,
    BP_H_FULLDIS,
    BP_H_DRAWN,
    BP_H_MINV,
    BP_H_MAXV,
    BP_H_SINCEFULL,
    BP_H_SYNCS,
    BP_H_LOWV,
    BP_H_HIGHV,
    BP_H_DISE,
    BP_H_CHGE,
    BP_H_EQCYC,
    BP_H_AVG1,
    BP_H_AVG7,
    BP_H_AVG30,
    BP_H_AVG90,
    BP_S_CHARGED_V,
    BP_S_TAIL,
    BP_S_DETECT,
    BP_S_CEF,
    BP_S_PEUKERT,
    BP_S_THRESHOLD,
    BP_S_TTG_AVG,
    BP_I_LOW_V,
    BP_RF0, /* ... BP_RF0 + 9 */
    BP_COUNT = BP_RF0 + RAINFLOW_BINS,
};

struct battery_pt_doc {
    const char *path;
    const char *unit;
};
static const struct battery_pt_doc battery_pts[BP_RF0] = {
    [BP_SOC] = {"Soc",                             "%"  },
    [BP_CONSUMED] = {"ConsumedAmphours",                "Ah" },
    [BP_TTG] = {"TimeToGo",                        "s"  },
    [BP_V] = {"Dc/0/Voltage",                    "V"  },
    [BP_I] = {"Dc/0/Current",                    "A"  },
    [BP_P] = {"Dc/0/Power",                      "W"  },
    [BP_T] = {"Dc/0/Temperature",                "°C"},
    [BP_CAPACITY] = {"Capacity",                        "Ah" },
    [BP_OFFSET] = {"Dc/0/CurrentOffset",              "A"  },
    [BP_SOH] = {"Soh",                             "%"  },
    [BP_SOH_CONF] = {"SohConfidence",                   "%"  },
    [BP_CAP_EST] = {"History/CapacityEstimate",        "Ah" },
    [BP_H_DEEPEST] = {"History/DeepestDischarge",        "Ah" },
    [BP_H_LAST] = {"History/LastDischarge",           "Ah" },
    [BP_H_AVERAGE] = {"History/AverageDischarge",        "Ah" },
    [BP_H_CYCLES] = {"History/ChargeCycles",            ""   },
    [BP_H_FULLDIS] = {"History/FullDischarges",          ""   },
    [BP_H_DRAWN] = {"History/TotalAhDrawn",            "Ah" },
    [BP_H_MINV] = {"History/MinimumVoltage",          "V"  },
    [BP_H_MAXV] = {"History/MaximumVoltage",          "V"  },
    [BP_H_SINCEFULL] = {"History/TimeSinceLastFullCharge", "s"  },
    [BP_H_SYNCS] = {"History/AutomaticSyncs",          ""   },
    [BP_H_LOWV] = {"History/LowVoltageAlarms",        ""   },
    [BP_H_HIGHV] = {"History/HighVoltageAlarms",       ""   },
    [BP_H_DISE] = {"History/DischargedEnergy",        "kWh"},
    [BP_H_CHGE] = {"History/ChargedEnergy",           "kWh"},
    [BP_H_EQCYC] = {"History/EquivalentCycles",        ""   },
    [BP_H_AVG1] = {"History/AverageSoc/Day1",         "%"  },
    [BP_H_AVG7] = {"History/AverageSoc/Day7",         "%"  },
    [BP_H_AVG30] = {"History/AverageSoc/Day30",        "%"  },
    [BP_H_AVG90] = {"History/AverageSoc/Day90",        "%"  },
 /* the engine's settings, under the paths the vedirect driver uses for a BMV's */
    [BP_S_CHARGED_V] = {"Settings/ChargedVoltage",         "V"  },
    [BP_S_TAIL] = {"Settings/TailCurrent",            "%"  },
    [BP_S_DETECT] = {"Settings/ChargedDetectionTime",   "s"  },
    [BP_S_CEF] = {"Settings/ChargeEfficiency",       "%"  },
    [BP_S_PEUKERT] = {"Settings/PeukertExponent",        ""   },
    [BP_S_THRESHOLD] = {"Settings/CurrentThreshold",       "A"  },
    [BP_S_TTG_AVG] = {"Settings/TimeToGoAveraging",      "s"  },
    [BP_I_LOW_V] = {"Info/BatteryLowVoltage",          "V"  },
};

struct battery {
    char name[STORE_NAME_MAX];
    char path[512];
    struct store *store;
    int dev;
    int pt[BP_COUNT];
    struct battery_term terms[BATTERY_MAX_TERMS];
    size_t nterms;
    char vkey[STORE_KEY_MAX];
    char tkey[STORE_KEY_MAX];
    struct soc_params p;
    struct battery_history_conf hc;
    struct soc_state st;
    struct battery_history h;
    int64_t last_mono_ms; /* 0 = no previous good sample */
    int64_t next_save_ms;
    int64_t save_ms;
    bool inputs_ok;
    struct log_throttle save_log;
};

const struct soc_state *battery_soc(const struct battery *b)
{
    return &b->st;
}

const struct soc_params *battery_params(const struct battery *b)
{
    return &b->p;
}

static json_t *battery_state_json(const struct battery *b)
{
    const struct soc_state *s = &b->st;
    json_t *soc = json_pack("{s:f,s:f,s:f,s:f,s:b,s:f,s:f,s:f,s:b,s:i,s:f}", "soc_pct", s->soc_pct,
                            "consumed_ah", s->consumed_ah, "consumed_eff_ah", s->consumed_eff_ah,
                            "ttg_current", s->ttg_current, "ttg_have", s->ttg_have, "offset_a",
                            s->offset_a, "drift_ah", s->drift_ah, "drift_active_h",
                            s->drift_active_h, "drift_valid", s->drift_valid, "offset_updates",
                            (int)s->offset_updates, "capacity_ah", b->p.capacity_ah);
    return json_pack("{s:i,s:I,s:o,s:o}", "version", BATTERY_STATE_VERSION, "saved_wall_ms",
                     (json_int_t)util_wall_ms(), "soc", soc, "history",
                     battery_history_to_json(&b->h));
}

static bool battery_num(const json_t *o, const char *k, double *out)
{
    const json_t *v = json_object_get(o, k);
    if (!json_is_number(v) || !isfinite(json_number_value(v)))
        return false;
    *out = json_number_value(v);
    return true;
}

/* Restores the state file; a missing or corrupt one leaves the start state (and a warning). */
static void battery_restore(struct battery *b)
{
    char *text = NULL;
    size_t len;
    int r = util_read_file(b->path, 1 << 20, &text, &len);
    if (r == -ENOENT) {
        log_msg(LOG_INFO, "battery[%s]: no state file %s, starting at %.1f %%", b->name, b->path,
                b->st.soc_pct);
        return;
    }
    json_error_t jerr;
    json_t *doc = r == 0 ? json_loadb(text, len, 0, &jerr) : NULL;
    free(text);
    const json_t *soc = json_object_get(doc, "soc");
    double pct, cons, eff, cap;
    if (!json_is_object(soc) || !battery_num(soc, "soc_pct", &pct) || pct < 0 || pct > 100 ||
        !battery_num(soc, "consumed_ah", &cons) || !battery_num(soc, "consumed_eff_ah", &eff) ||
        !battery_num(soc, "capacity_ah", &cap)) {
        log_msg(LOG_WARNING, "battery[%s]: state file %s is %s; starting at %.1f %%", b->name,
                b->path, r == 0 ? "corrupt" : "unreadable", b->st.soc_pct);
        json_decref(doc);
        return;
    }
    if (fabs(cap - b->p.capacity_ah) > 1e-9) {
        /* The capacity changed: keep the percentage, recount the Ah. */
        soc_set(&b->st, &b->p, pct);
    } else {
        b->st.consumed_ah = cons;
        b->st.consumed_eff_ah = eff;
        b->st.soc_pct = pct;
    }
    double d;
    if (battery_num(soc, "offset_a", &d))
        b->st.offset_a = d;
    if (battery_num(soc, "drift_ah", &d))
        b->st.drift_ah = d;
    if (battery_num(soc, "drift_active_h", &d))
        b->st.drift_active_h = d;
    if (battery_num(soc, "ttg_current", &d)) {
        b->st.ttg_current = d;
        b->st.ttg_have = json_is_true(json_object_get(soc, "ttg_have"));
    }
    b->st.drift_valid = json_is_true(json_object_get(soc, "drift_valid"));
    if (battery_num(soc, "offset_updates", &d) && d >= 0)
        b->st.offset_updates = (unsigned)d;
    const json_t *hist = json_object_get(doc, "history");
    if (json_is_object(hist))
        battery_history_from_json(&b->h, hist);
    log_msg(LOG_INFO, "battery[%s]: state restored from %s: %.1f %%", b->name, b->path,
            b->st.soc_pct);
    json_decref(doc);
}

int battery_save(struct battery *b)
{
    json_t *doc = battery_state_json(b);
    char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(doc);
    if (!text)
        return -ENOMEM;
    int r = util_write_atomic(b->path, text, strlen(text));
    free(text);
    if (r < 0)
        log_complain(&b->save_log, LOG_WARNING, "battery[%s]: cannot write %s: %s", b->name,
                     b->path, strerror(-r));
    else
        log_release(&b->save_log, "battery[%s]: state file %s written again", b->name, b->path);
    return r;
}

struct battery *battery_new(struct store *store, const struct conf_section *sec,
                            const char *state_dir)
{
    struct battery *b = xcalloc(1, sizeof(*b));
    b->store = store;
    util_strlcpy(b->name, sec->name ? sec->name : "battery", sizeof(b->name));
    if (util_snprintf(b->path, sizeof(b->path), "%s/battery-%s.json", state_dir, b->name) != 0 ||
        battery_parse_terms(conf_get(sec, "current"), b->terms, &b->nterms) != 0) {
        log_msg(LOG_ERR, "battery[%s]: bad state_dir or current inputs", b->name);
        free(b);
        return NULL;
    }
    util_strlcpy(b->vkey, conf_get(sec, "voltage"), sizeof(b->vkey));
    util_strlcpy(b->tkey, conf_get(sec, "temperature"), sizeof(b->tkey));
    battery_params_from_conf(sec, &b->p);
    b->hc =
        (struct battery_history_conf){.capacity_ah = b->p.capacity_ah,
                                      .low_voltage = conf_get_double(sec, "low_voltage_alarm"),
                                      .high_voltage = conf_get_double(sec, "high_voltage_alarm")};
    b->save_ms = conf_get_ms(sec, "save_interval");
    if (b->save_ms <= 0 || b->save_ms > 60000)
        b->save_ms = 60000;
    log_throttle_init(&b->save_log, 600000);
    soc_init(&b->st, &b->p, conf_get_double(sec, "start_soc"));
    battery_history_init(&b->h);
    battery_restore(b);

    b->dev = store_device_add(store, b->name, "sitewatch");
    if (b->dev < 0) {
        log_msg(LOG_ERR, "battery[%s]: cannot add the device: %s", b->name, strerror(-b->dev));
        free(b);
        return NULL;
    }
    store_device_set_service(store, b->dev, "battery", -1);
    store_device_set_identity(store, b->dev, 0, "sitewatch battery monitor", NULL, NULL);
    store_device_set_connection(store, b->dev, conf_get(sec, "current"));
    for (int k = 0; k < BP_COUNT; k++) {
        char key[STORE_KEY_MAX];
        b->pt[k] = -1;
        if (k < BP_RF0 && !battery_pts[k].path) /* a hole in the table: nothing to publish */
            continue;
        if (k >= BP_RF0)
            util_snprintf(key, sizeof(key), "%s/History/Rainflow/Bin%d", b->name, k - BP_RF0);
        else
            util_snprintf(key, sizeof(key), "%s/%s", b->name, battery_pts[k].path);
        b->pt[k] =
            (k == BP_T && !b->tkey[0])
                ? -1
                : store_point_define(store, b->dev, key, k >= BP_RF0 ? "" : battery_pts[k].unit, 0);
    }
    store_set(store, b->pt[BP_CAPACITY], b->p.capacity_ah);
    return b;
}

static void battery_publish(struct battery *b, double v, double i, double t)
{
    struct store *s = b->store;
    const struct battery_history *h = &b->h;
    store_set(s, b->pt[BP_SOC], b->st.soc_pct);
    store_set(s, b->pt[BP_CONSUMED], -b->st.consumed_ah); /* negative like the BMV's CE */
    double ttg = soc_ttg_s(&b->st, &b->p, t);
    if (ttg < 0)
        store_set_na(s, b->pt[BP_TTG]); /* infinite, as a BMV's TTG -1 */
    else
        store_set(s, b->pt[BP_TTG], ttg);
    store_set(s, b->pt[BP_V], v);
    store_set(s, b->pt[BP_I], i);
    store_set(s, b->pt[BP_P], v * i);
    if (b->pt[BP_T] >= 0 && !isnan(t))
        store_set(s, b->pt[BP_T], t);
    store_set(s, b->pt[BP_CAPACITY], b->p.capacity_ah);
    store_set(s, b->pt[BP_S_CHARGED_V], b->p.charged_voltage);
    store_set(s, b->pt[BP_S_TAIL], b->p.tail_current_pct);
    store_set(s, b->pt[BP_S_DETECT], (double)b->p.charged_detect_ms / 1000.0);
    store_set(s, b->pt[BP_S_CEF], b->p.charge_efficiency * 100.0);
    store_set(s, b->pt[BP_S_PEUKERT], b->p.peukert);
    store_set(s, b->pt[BP_S_THRESHOLD], b->p.current_threshold);
    store_set(s, b->pt[BP_S_TTG_AVG], (double)b->p.ttg_avg_ms / 1000.0);
    if (b->hc.low_voltage > 0)
        store_set(s, b->pt[BP_I_LOW_V], b->hc.low_voltage);
    else
        store_set_na(s, b->pt[BP_I_LOW_V]);
    store_set(s, b->pt[BP_OFFSET], b->st.offset_a);
    double soh = battery_history_soh(h, b->p.capacity_ah);
    if (isnan(soh)) {
        store_set_na(s, b->pt[BP_SOH]);
        store_set_na(s, b->pt[BP_CAP_EST]);
    } else {
        store_set(s, b->pt[BP_SOH], soh);
        store_set(s, b->pt[BP_CAP_EST], h->capacity_est_ah);
    }
    store_set(s, b->pt[BP_SOH_CONF], battery_history_soh_confidence(h));
    store_set(s, b->pt[BP_H_DEEPEST], -h->deepest_ah);
    store_set(s, b->pt[BP_H_LAST], -h->last_ah);
    store_set(s, b->pt[BP_H_AVERAGE], -battery_history_average_ah(h));
    store_set(s, b->pt[BP_H_CYCLES], h->cycles);
    store_set(s, b->pt[BP_H_FULLDIS], h->full_discharges);
    store_set(s, b->pt[BP_H_DRAWN], -h->drawn_ah);
    if (h->min_v > 0) {
        store_set(s, b->pt[BP_H_MINV], h->min_v);
        store_set(s, b->pt[BP_H_MAXV], h->max_v);
    }
    if (h->have_full)
        store_set(s, b->pt[BP_H_SINCEFULL], floor(h->since_full_s));
    else
        store_set_na(s, b->pt[BP_H_SINCEFULL]);
    store_set(s, b->pt[BP_H_SYNCS], h->syncs);
    store_set(s, b->pt[BP_H_LOWV], h->low_v_alarms);
    store_set(s, b->pt[BP_H_HIGHV], h->high_v_alarms);
    store_set(s, b->pt[BP_H_DISE], h->discharged_kwh);
    store_set(s, b->pt[BP_H_CHGE], h->charged_kwh);
    store_set(s, b->pt[BP_H_EQCYC], battery_history_equivalent_cycles(h, b->p.capacity_ah));
    static const unsigned days[] = {1, 7, 30, 90};
    for (size_t k = 0; k < UTIL_ARRAY_SIZE(days); k++) {
        double a = battery_history_avg_soc(h, days[k]);
        if (isnan(a))
            store_set_na(s, b->pt[BP_H_AVG1 + (int)k]);
        else
            store_set(s, b->pt[BP_H_AVG1 + (int)k], a);
    }
    double bins[RAINFLOW_BINS];
    rainflow_histogram(&h->rf, bins);
    for (int k = 0; k < RAINFLOW_BINS; k++)
        store_set(s, b->pt[BP_RF0 + k], bins[k]);
}

/* Reads one input: 0 with its value when ok, -ENODATA otherwise. */
static int battery_input(struct battery *b, const char *key, double *out)
{
    struct point p;
    if (store_get(b->store, key, &p) != 0 || p.state != POINT_OK)
        return -ENODATA;
    *out = p.value;
    return 0;
}

void battery_tick(struct battery *b, int64_t now_mono_ms)
{
    double v = 0, i = 0, t = NAN;
    int bad = battery_input(b, b->vkey, &v);
    const char *missing = b->vkey;
    for (size_t k = 0; k < b->nterms && bad == 0; k++) {
        double x;
        if ((bad = battery_input(b, b->terms[k].key, &x)) == 0)
            i += b->terms[k].sign * x;
        else
            missing = b->terms[k].key;
    }
    if (bad == 0 && b->tkey[0] && battery_input(b, b->tkey, &t) != 0)
        t = NAN; /* temperature is optional: without it, 20 °C */
    if (bad != 0) {
        /* No integration without inputs; the published values go stale, never a guess. */
        if (b->inputs_ok || b->last_mono_ms == 0) {
            store_device_stale(b->store, b->dev);
            char why[160];
            util_snprintf(why, sizeof(why), "input %.100s is not available", missing);
            store_device_set_state(b->store, b->dev, DEV_CONN_LOST, why);
        }
        b->inputs_ok = false;
        b->last_mono_ms = -1;
    } else {
        int64_t dt = b->last_mono_ms > 0 ? now_mono_ms - b->last_mono_ms : 0;
        if (dt > BATTERY_MAX_DT_MS)
            dt = BATTERY_MAX_DT_MS;
        if (dt > 0) {
            unsigned ev = soc_step(&b->st, &b->p, v, i, t, dt);
            struct battery_history_sample hs = {.dt_ms = dt,
                                                .v = v,
                                                .i = b->st.last_current,
                                                .soc_pct = b->st.soc_pct,
                                                .charge_efficiency = b->p.charge_efficiency,
                                                .events = ev};
            battery_history_update(&b->h, &b->hc, &hs);
            if (ev & SOC_EV_SYNC)
                log_msg(LOG_INFO, "battery[%s]: synchronised to 100 %%", b->name);
            if (ev & SOC_EV_OCV)
                log_msg(LOG_INFO, "battery[%s]: recalibrated from rest voltage %.2f V: %.1f %%",
                        b->name, v, b->st.soc_pct);
            if (ev & SOC_EV_OFFSET)
                log_msg(LOG_NOTICE, "battery[%s]: current sensor offset estimated at %.3f A",
                        b->name, b->st.offset_a);
        }
        b->last_mono_ms = now_mono_ms > 0 ? now_mono_ms : 1;
        if (!b->inputs_ok)
            store_device_set_state(b->store, b->dev, DEV_CONN_OK, "counting");
        b->inputs_ok = true;
        battery_publish(b, v, i, t);
    }
    if (b->next_save_ms == 0)
        b->next_save_ms = now_mono_ms + b->save_ms;
    if (now_mono_ms >= b->next_save_ms) {
        battery_save(b);
        b->next_save_ms = now_mono_ms + b->save_ms;
    }
}

void battery_free(struct battery *b)
{
    if (!b)
        return;
    battery_save(b);
    /* a reload starts it again at once; a removed section leaves stale points, never old ones */
    store_device_stale(b->store, b->dev);
    store_device_set_state(b->store, b->dev, DEV_CONN_STOPPED, "stopped");
    free(b);
}

/* The service: one ticker for every [battery NAME] section. */
struct battery_service {
    struct battery *b[64];
    size_t n;
    struct ticker *ticker;
};

static void battery_service_tick(void *arg)
{
    struct battery_service *bs = arg;
    int64_t now = util_mono_ms();
    for (size_t k = 0; k < bs->n; k++)
        battery_tick(bs->b[k], now);
}

static void battery_service_stop(void *inst)
{
    struct battery_service *bs = inst;
    if (!bs)
        return;
    ticker_stop(bs->ticker);
    for (size_t k = 0; k < bs->n; k++)
        battery_free(bs->b[k]);
    free(bs);
}

static int battery_service_start(struct core *core, void **inst)
{
    *inst = NULL;
    if (!conf_section_nth(core->conf, "battery", 0))
        return 0;
    struct battery_service *bs = xcalloc(1, sizeof(*bs));
    const struct conf_section *sec;
    for (size_t k = 0; (sec = conf_section_nth(core->conf, "battery", k)) != NULL; k++) {
        for (size_t d = 0; d < core->conf->ndevices; d++)
            if (strcmp(core->conf->devices[d].name, sec->name) == 0) {
                log_msg(LOG_ERR, "%s:%d: [battery %s]: a [device] has that name already", sec->file,
                        sec->line, sec->name);
                battery_service_stop(bs);
                return -EEXIST;
            }
        if (bs->n == UTIL_ARRAY_SIZE(bs->b)) {
            log_msg(LOG_ERR, "battery: at most %zu [battery] sections", UTIL_ARRAY_SIZE(bs->b));
            battery_service_stop(bs);
            return -E2BIG;
        }
        struct battery *b = battery_new(core->store, sec, core->conf->state_dir);
        if (!b) {
            battery_service_stop(bs);
            return -EINVAL;
        }
        bs->b[bs->n++] = b;
    }
    bs->ticker = ticker_start("battery", 1000, battery_service_tick, bs);
    if (!bs->ticker) {
        battery_service_stop(bs);
        return -EAGAIN;
    }
    *inst = bs;
    return 0;
}

const struct service service_battery = {
    .name = "battery", .start = battery_service_start, .stop = battery_service_stop};
