/* vebus: driver for Victron MultiPlus / Quattro inverter/chargers on VE.Bus, through an MK2 or
 * MK3-USB interface (MK2 host protocol, 2400 8N1): start-up, polling, Venus vebus points and the
 * mode / AC input current limit commands. Protocol facts: vebus_proto.h, protocols.md §3. */
#include "core/driver.h"
#include "core/log.h"
#include "core/port.h"
#include "core/util.h"
#include "vebus_proto.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define VB_BAUD 2400
#define VB_READ_SLICE_MS 100 /* also the idle gap after which a partial frame is given up */
#define VB_REPLY_MS 1000     /* a reply of 20 bytes takes 83 ms at 2400 baud; leave room for load */
#define VB_PHASES_MAX 4

static const struct drv_key vb_keys[] = {
    {"port",          DRV_KEY_PORT,     NULL,     NULL,        "MK2/MK3 tty, by-id link, or tcp://host:port"},
    {"address",       DRV_KEY_INT,      "0",      "0..255",    "VE.Bus address of the master ('A' command)" },
    {"interval",      DRV_KEY_DURATION, "1s",     "100ms..1h", "time between two polling rounds"            },
    {"timeout",       DRV_KEY_DURATION, "2500ms", "100ms..1m", "no answer this long: stale, reopen"         },
    {"allow_control", DRV_KEY_BOOL,     "no",     NULL,        "accept mode and current limit commands"     },
    {"ac_input",      DRV_KEY_BOOL,     "yes",    NULL,        "AC source normally present: GridLost alarm" },
    {NULL,            0,                NULL,     NULL,        NULL                                         },
};

/* Points with one instance per system. */
enum vb_pt {
    VB_PT_DC_V,
    VB_PT_DC_I,
    VB_PT_DC_P,
    VB_PT_DC_T,
    VB_PT_SOC,
    VB_PT_STATE,
    VB_PT_MODE,
    VB_PT_LIMIT,
    VB_PT_ACTIVE_IN,
    VB_PT_NPHASES,
    VB_PT_AL_TEMP,
    VB_PT_AL_LOWBAT,
    VB_PT_AL_OVERLOAD,
    VB_PT_AL_RIPPLE,
    VB_PT_AL_GRIDLOST,
    VB_PT_LED0, /* 8 LEDs follow, in bit order */
    VB_PT_COUNT = VB_PT_LED0 + 8,
};

struct vb_point_def {
    const char *path; /* per-phase points: the part before "/L<n>/" */
    const char *name; /* per-phase points: the part after it */
    const char *unit;
    const char *help;
};

static const struct vb_point_def vb_points[VB_PT_COUNT] = {
    [VB_PT_DC_V] = {"Dc/0/Voltage",             NULL, "V",   "battery voltage (DC info frame)"                      },
    [VB_PT_DC_I] = {"Dc/0/Current",             NULL, "A",   "battery current, + = charging"                        },
    [VB_PT_DC_P] = {"Dc/0/Power",               NULL, "W",   "battery power, voltage x current"                     },
    [VB_PT_DC_T] = {"Dc/0/Temperature",         NULL, "°C", "not in the MK2 frames: always not available"          },
    [VB_PT_SOC] = {"Soc",                      NULL, "%",   "the Multi's own state of charge (RAM variable 13)"    },
    [VB_PT_STATE] = {"State",                    NULL, "",    "Venus state: 0 off, 1 low power, 2 fault, 3 bulk, ..."},
    [VB_PT_MODE] = {"Mode",                     NULL, "",    "1 charger only, 2 inverter only, 3 on, 4 off"         },
    [VB_PT_LIMIT] = {"Ac/ActiveIn/CurrentLimit", NULL, "A",   "AC input current limit in force"                      },
    [VB_PT_ACTIVE_IN] = {"Ac/ActiveIn/ActiveInput",  NULL, "",
                    "0 AC in 1, 1 AC in 2, 240 disconnected"                                                        },
    [VB_PT_NPHASES] = {"Ac/NumberOfPhases",        NULL, "",    "phases of the VE.Bus system"                          },
    [VB_PT_AL_TEMP] = {"Alarms/HighTemperature",   NULL, "",    "0 ok, 1 warning, 2 alarm"                             },
    [VB_PT_AL_LOWBAT] = {"Alarms/LowBattery",        NULL, "",    "0 ok, 1 warning, 2 alarm"                             },
    [VB_PT_AL_OVERLOAD] = {"Alarms/Overload",          NULL, "",    "0 ok, 1 warning, 2 alarm"                             },
    [VB_PT_AL_RIPPLE] = {"Alarms/Ripple",            NULL, "",    "0 ok, 1 warning, 2 alarm"                             },
    [VB_PT_AL_GRIDLOST] = {"Alarms/GridLost",          NULL, "",    "0 ok, 2 alarm"                                        },
    [VB_PT_LED0 + 0] = {"Leds/Mains",               NULL, "",    "0 off, 1 on, 2 blinking"                              },
    [VB_PT_LED0 + 1] = {"Leds/Absorption",          NULL, "",    "0 off, 1 on, 2 blinking"                              },
    [VB_PT_LED0 + 2] = {"Leds/Bulk",                NULL, "",    "0 off, 1 on, 2 blinking"                              },
    [VB_PT_LED0 + 3] = {"Leds/Float",               NULL, "",    "0 off, 1 on, 2 blinking"                              },
    [VB_PT_LED0 + 4] = {"Leds/Inverter",            NULL, "",    "0 off, 1 on, 2 blinking"                              },
    [VB_PT_LED0 + 5] = {"Leds/Overload",            NULL, "",    "0 off, 1 on, 2 blinking"                              },
    [VB_PT_LED0 + 6] = {"Leds/LowBattery",          NULL, "",    "0 off, 1 on, 2 blinking"                              },
    [VB_PT_LED0 + 7] = {"Leds/Temperature",         NULL, "",    "0 off, 1 on, 2 blinking"                              },
};

/* Points per phase: "Ac/ActiveIn/L<n>/V" ... */
enum vb_ph {
    VB_PH_IN_V,
    VB_PH_IN_I,
    VB_PH_IN_F,
    VB_PH_IN_P,
    VB_PH_OUT_V,
    VB_PH_OUT_I,
    VB_PH_OUT_F,
    VB_PH_OUT_P,
    VB_PH_COUNT,
};

static const struct vb_point_def vb_phase_points[VB_PH_COUNT] = {
    [VB_PH_IN_V] = {"Ac/ActiveIn", "V", "V",  "AC input voltage"                          },
    [VB_PH_IN_I] = {"Ac/ActiveIn", "I", "A",  "AC input current (all units of the phase)" },
    [VB_PH_IN_F] = {"Ac/ActiveIn", "F", "Hz", "AC input frequency"                        },
    [VB_PH_IN_P] = {"Ac/ActiveIn", "P", "W",  "AC input power, V x I (apparent)"          },
    [VB_PH_OUT_V] = {"Ac/Out",      "V", "V",  "AC output voltage"                         },
    [VB_PH_OUT_I] = {"Ac/Out",      "I", "A",  "AC output current (all units of the phase)"},
    [VB_PH_OUT_F] = {"Ac/Out",      "F", "Hz", "AC output frequency"                       },
    [VB_PH_OUT_P] = {"Ac/Out",      "P", "W",  "AC output power, V x I (apparent)"         },
};

/* The RAM variables whose scale the start-up asks for: the info frames' (0-5, 7, 8) and the
 * SoC read every poll. */
static const uint8_t vb_scale_vars[] = {
    VEBUS_RAM_UMAINS,     VEBUS_RAM_IMAINS,       VEBUS_RAM_UINV,
    VEBUS_RAM_IINV,       VEBUS_RAM_UBAT,         VEBUS_RAM_IBAT,
    VEBUS_RAM_INV_PERIOD, VEBUS_RAM_MAINS_PERIOD, VEBUS_RAM_CHARGE_STATE,
};

enum vb_expect {
    VB_X_NONE, /* just read: between rounds */
    VB_X_ADDRESS,
    VB_X_VERSION,
    VB_X_RAM_INFO,
    VB_X_RAM,
    VB_X_STATE,
    VB_X_LED,
    VB_X_DC,
    VB_X_AC, /* arg: phase */
    VB_X_CONFIG,
    VB_X_SWITCH,
};

struct vb_priv {
    struct port *port;
    struct vebus_framer fr;
    uint8_t rx[256];
    size_t rx_off, rx_len;
    uint8_t reply[VEBUS_FRAME_MAX]; /* the awaited reply, copied out of the framer */
    struct vebus_frame rf;
    int64_t timeout_ms, interval_ms;
    int64_t last_mk2_ms; /* any valid frame (the MK2's 'V' heartbeat included) */
    int64_t last_bus_ms; /* a reply that came from the VE.Bus devices */
    int64_t next_poll_ms;
    bool allow_control, ac_input;
    struct vebus_scale scale[VEBUS_RAM_COUNT];
    unsigned nphases, units;
    uint32_t version;
    bool have_config;
    struct vebus_config cfg;
    int pt[VB_PT_COUNT];                /* point id + 1, 0 = not defined yet */
    int ph[VB_PHASES_MAX][VB_PH_COUNT]; /* same, per phase */
};

static int vb_id(struct drv_instance *di, struct vb_priv *p, enum vb_pt k)
{
    if (p->pt[k] == 0) {
        int id = drv_point(di, vb_points[k].path, vb_points[k].unit, p->timeout_ms);
        if (id < 0)
            return id;
        p->pt[k] = id + 1;
    }
    return p->pt[k] - 1;
}

static void vb_set(struct drv_instance *di, struct vb_priv *p, enum vb_pt k, double v)
{
    int id = vb_id(di, p, k);
    if (id < 0)
        return;
    if (isfinite(v))
        drv_set(di, id, v);
    else
        drv_set_na(di, id);
}

static void vb_set_phase(struct drv_instance *di, struct vb_priv *p, unsigned phase, enum vb_ph k,
                         double v)
{
    int *slot = &p->ph[phase - 1][k];
    if (*slot == 0) {
        char path[48];
        snprintf(path, sizeof(path), "%s/L%u/%s", vb_phase_points[k].path, phase,
                 vb_phase_points[k].name);
        int id = drv_point(di, path, vb_phase_points[k].unit, p->timeout_ms);
        if (id < 0)
            return;
        *slot = id + 1;
    }
    if (isfinite(v))
        drv_set(di, *slot - 1, v);
    else
        drv_set_na(di, *slot - 1);
}

static bool vb_matches(const struct vebus_frame *f, enum vb_expect x, unsigned arg)
{
    switch (x) {
    case VB_X_NONE:
        return false;
    case VB_X_ADDRESS:
        return f->marker == VEBUS_MARK_CMD && f->len >= 1 && f->data[0] == VEBUS_CMD_ADDRESS;
    case VB_X_VERSION:
        return f->marker == VEBUS_MARK_CMD && f->len >= 5 && f->data[0] == VEBUS_CMD_VERSION;
    case VB_X_RAM_INFO:
        return vebus_is_w_reply(f, VEBUS_WR_RAM_INFO) ||
               vebus_is_w_reply(f, VEBUS_WR_VAR_NOT_SUPPORTED) ||
               vebus_is_w_reply(f, VEBUS_WR_NOT_SUPPORTED);
    case VB_X_RAM:
        return vebus_is_w_reply(f, VEBUS_WR_RAM) ||
               vebus_is_w_reply(f, VEBUS_WR_VAR_NOT_SUPPORTED) ||
               vebus_is_w_reply(f, VEBUS_WR_NOT_SUPPORTED);
    case VB_X_STATE:
        return vebus_is_w_reply(f, VEBUS_WR_STATE) || vebus_is_w_reply(f, VEBUS_WR_NOT_SUPPORTED);
    case VB_X_LED:
        return f->marker == VEBUS_MARK_CMD && f->len >= 3 && f->data[0] == VEBUS_CMD_LED;
    case VB_X_DC:
        return f->marker == VEBUS_MARK_INFO && f->len >= 14 && f->data[4] == 0x0C;
    case VB_X_AC:
        if (f->marker != VEBUS_MARK_INFO || f->len < 14 || f->data[4] < 5 || f->data[4] > 0x0B)
            return false;
        return (f->data[4] >= 8 ? 1u : 9u - f->data[4]) == arg;
    case VB_X_CONFIG:
        return f->marker == VEBUS_MARK_CONFIG;
    case VB_X_SWITCH:
        return f->marker == VEBUS_MARK_CMD && f->len >= 1 && f->data[0] == VEBUS_CMD_SWITCH;
    }
    return false;
}

/* Whether the frame came from the VE.Bus side (not just the MK2 itself). */
static bool vb_from_bus(const struct vebus_frame *f)
{
    if (f->marker != VEBUS_MARK_CMD)
        return true;
    return f->len >= 1 && f->data[0] != VEBUS_CMD_VERSION && f->data[0] != VEBUS_CMD_ADDRESS;
}

/* Reads until a frame of kind x arrives (copied into p->rf) or timeout_ms pass. Other frames
 * (the MK2's 'V' heartbeat, late replies) only prove the link alive. 0, -ETIMEDOUT or the
 * port's -errno. */
static int vb_wait(struct drv_instance *di, struct vb_priv *p, enum vb_expect x, unsigned arg,
                   int64_t timeout_ms)
{
    int64_t deadline = util_mono_ms() + timeout_ms;
    for (;;) {
        for (;;) {
            enum vebus_event ev;
            size_t used = vebus_framer_feed(&p->fr, p->rx + p->rx_off, p->rx_len - p->rx_off, &ev);
            p->rx_off += used;
            if (ev == VEBUS_EV_NONE)
                break;
            if (ev == VEBUS_EV_BAD_SUM) {
                drv_count(di, DEV_CNT_CHECKSUM_ERRORS, 1);
                continue;
            }
            if (ev == VEBUS_EV_GARBAGE) {
                drv_count(di, DEV_CNT_FRAME_ERRORS, 1);
                continue;
            }
            const struct vebus_frame *f = vebus_framer_frame(&p->fr);
            drv_count(di, DEV_CNT_FRAMES_OK, 1);
            int64_t now = util_mono_ms();
            p->last_mk2_ms = now;
            if (vb_from_bus(f))
                p->last_bus_ms = now;
            if (!vb_matches(f, x, arg))
                continue;
            size_t n = (size_t)(p->fr.out[0] & 0x7F) + 2;
            memcpy(p->reply, p->fr.out, n);
            return vebus_frame_check(p->reply, n, &p->rf) == 0 ? 0 : -EBADMSG;
        }
        int64_t left = deadline - util_mono_ms();
        if (left <= 0) {
            if (x != VB_X_NONE)
                drv_count(di, DEV_CNT_TIMEOUTS, 1);
            return -ETIMEDOUT;
        }
        ssize_t n = port_read(p->port, p->rx, sizeof(p->rx),
                              (int)(left < VB_READ_SLICE_MS ? left : VB_READ_SLICE_MS));
        if (n < 0) {
            drv_status(di, "MK2 not found: %s: %s", port_where(p->port),
                       n == -ENODEV ? "device disconnected" : strerror((int)-n));
            return (int)n;
        }
        p->rx_off = 0;
        p->rx_len = (size_t)n;
        if (n == 0)
            vebus_framer_flush(&p->fr); /* the line went idle: a partial frame is truncated */
        drv_count(di, DEV_CNT_BYTES, (uint64_t)n);
    }
}

static int vb_send(struct drv_instance *di, struct vb_priv *p, const uint8_t *req, size_t n)
{
    int r = n ? port_write(p->port, req, n, 1000) : -EINVAL;
    if (r < 0)
        drv_status(di, "cannot write to %s: %s", port_where(p->port), strerror(-r));
    return r;
}

/* Sends a request and waits for its reply; no reply: one retry (a frame lost to noise). */
static int vb_ask(struct drv_instance *di, struct vb_priv *p, const uint8_t *req, size_t n,
                  enum vb_expect x, unsigned arg)
{
    int r = -ETIMEDOUT;
    for (int attempt = 0; attempt < 2 && r == -ETIMEDOUT && !drv_stopping(di); attempt++) {
        if (attempt > 0 && util_mono_ms() - p->last_bus_ms > p->timeout_ms)
            break; /* the bus is gone, not one frame: let the caller say so now */
        if ((r = vb_send(di, p, req, n)) < 0)
            return r;
        r = vb_wait(di, p, x, arg, VB_REPLY_MS);
    }
    return r;
}

/* Why the link is down, in the words of the device state. */
static int vb_link_down(struct drv_instance *di, struct vb_priv *p, int r)
{
    if (r != -ETIMEDOUT)
        return r;
    int64_t now = util_mono_ms();
    if (now - p->last_mk2_ms > p->timeout_ms)
        drv_status(di, "MK2 not found: no data from %s for %lld ms", port_where(p->port),
                   (long long)(now - p->last_mk2_ms));
    else
        drv_status(di, "no response from VE.Bus (the MK2 on %s answers, no device does)",
                   port_where(p->port));
    return -ETIMEDOUT;
}

/* Start-up: address, version, scale discovery, phase and unit count. */
static int vb_startup(struct drv_instance *di, struct vb_priv *p)
{
    uint8_t req[16];
    int64_t t0 = util_mono_ms();
    p->last_mk2_ms = p->last_bus_ms = t0;
    int r;
    /* The MK2 echoes the address frame; it is also its own proof of life. */
    while ((r = vb_ask(di, p, req,
                       vebus_req_address((uint8_t)drv_conf_long(di, "address"), req, sizeof(req)),
                       VB_X_ADDRESS, 0)) == -ETIMEDOUT &&
           util_mono_ms() - t0 < p->timeout_ms && !drv_stopping(di))
        ;
    if (r < 0) {
        if (p->last_mk2_ms == t0)
            p->last_mk2_ms = t0 - p->timeout_ms - 1; /* nothing at all came back */
        return vb_link_down(di, p, r);
    }
    if ((r = vb_ask(di, p, req, vebus_build(VEBUS_CMD_VERSION, NULL, 0, req, sizeof(req)),
                    VB_X_VERSION, 0)) < 0)
        return vb_link_down(di, p, r);
    uint8_t mode;
    if (vebus_decode_version(&p->rf, &p->version, &mode) == 0) {
        char fw[24];
        snprintf(fw, sizeof(fw), "%lu", (unsigned long)p->version);
        drv_set_identity(di, 0, NULL, NULL, fw);
    }
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(vb_scale_vars); i++) {
        uint8_t id = vb_scale_vars[i];
        if ((r = vb_ask(di, p, req, vebus_req_ram_info(id, req, sizeof(req)), VB_X_RAM_INFO, 0)) <
            0)
            return vb_link_down(di, p, r);
        int k = vebus_decode_ram_info(&p->rf, &p->scale[id]);
        if (k < 0 && k != -ENOTSUP)
            return -EPROTO;
        /* j9brown: a MultiPlus II reports negative inverter currents although the variable
         * info says unsigned; take IInverterRMS as signed. */
        if (id == VEBUS_RAM_IINV)
            p->scale[id].is_signed = true;
    }
    if ((r = vb_ask(di, p, req, vebus_req_info(VEBUS_INFO_AC_L1, req, sizeof(req)), VB_X_AC, 1)) <
        0)
        return vb_link_down(di, p, r);
    struct vebus_ac ac;
    if (vebus_decode_ac(&p->rf, p->scale, &ac) != 0)
        return -EPROTO;
    p->nphases = ac.nphases >= 1 && ac.nphases <= VB_PHASES_MAX ? ac.nphases : 1;
    p->units = ac.inverter_factor ? ac.inverter_factor : 1;
    char name[64];
    snprintf(name, sizeof(name), "VE.Bus system, %u unit%s per phase, %u phase%s", p->units,
             p->units == 1 ? "" : "s", p->nphases, p->nphases == 1 ? "" : "s");
    drv_set_identity(di, 0, name, NULL, NULL);
    drv_set_service(di, "vebus");
    drv_log(di, LOG_INFO, "%s, version %lu", name, (unsigned long)p->version);
    return 0;
}

static int vb_open(struct drv_instance *di)
{
    struct vb_priv *p = drv_priv(di);
    char err[256];
    const char *spec = drv_conf(di, "port");
    p->timeout_ms = drv_conf_ms(di, "timeout");
    p->interval_ms = drv_conf_ms(di, "interval");
    p->allow_control = drv_conf_bool(di, "allow_control");
    p->ac_input = drv_conf_bool(di, "ac_input");
    if (strncmp(spec, "tcp://", 6) != 0)
        drv_set_backoff_max(di, 1000); /* a replugged MK2 must be back within 5 s */
    int r = port_open(spec, VB_BAUD, 3000, &p->port, err, sizeof(err));
    if (r < 0) {
        drv_status(di, "MK2 not found: %s", err);
        return r;
    }
    drv_set_connection(di, port_where(p->port));
    port_flush_input(p->port);
    vebus_framer_init(&p->fr);
    return vb_startup(di, p);
}

static void vb_close(struct drv_instance *di)
{
    struct vb_priv *p = drv_priv(di);
    port_close(p->port);
    p->port = NULL;
}

static double vb_led(uint8_t on, uint8_t blink, unsigned bit)
{
    return (on & (1u << bit)) ? 1 : (blink & (1u << bit)) ? 2 : 0;
}

/* LED on = alarm, blinking = pre-alarm (warning). Overload and low battery together mean high DC
 * ripple (MultiPlus manual, LED indications), not two alarms. */
static void vb_publish_leds(struct drv_instance *di, struct vb_priv *p, uint8_t on, uint8_t blink,
                            unsigned state)
{
    for (unsigned b = 0; b < 8; b++)
        vb_set(di, p, (enum vb_pt)(VB_PT_LED0 + b), vb_led(on, blink, b));
    uint8_t any = on | blink;
    bool ripple = (any & VEBUS_LED_OVERLOAD) && (any & VEBUS_LED_LOW_BATTERY);
    int lvl_ripple = ripple ? ((on & (VEBUS_LED_OVERLOAD | VEBUS_LED_LOW_BATTERY)) ? 2 : 1) : 0;
    int lvl_over = ripple                         ? 0
                   : (on & VEBUS_LED_OVERLOAD)    ? 2
                   : (blink & VEBUS_LED_OVERLOAD) ? 1
                                                  : 0;
    int lvl_low = ripple                            ? 0
                  : (on & VEBUS_LED_LOW_BATTERY)    ? 2
                  : (blink & VEBUS_LED_LOW_BATTERY) ? 1
                                                    : 0;
    int lvl_temp = (on & VEBUS_LED_TEMPERATURE) ? 2 : (blink & VEBUS_LED_TEMPERATURE) ? 1 : 0;
    vb_set(di, p, VB_PT_AL_RIPPLE, lvl_ripple);
    vb_set(di, p, VB_PT_AL_OVERLOAD, lvl_over);
    vb_set(di, p, VB_PT_AL_LOWBAT, lvl_low);
    vb_set(di, p, VB_PT_AL_TEMP, lvl_temp);
    bool grid = any & VEBUS_LED_MAINS;
    vb_set(di, p, VB_PT_AL_GRIDLOST, p->ac_input && !grid ? 2 : 0);
    /* a unit that switched itself off after an alarm is in fault */
    bool alarm = lvl_ripple == 2 || lvl_over == 2 || lvl_low == 2 || lvl_temp == 2;
    vb_set(di, p, VB_PT_STATE, alarm && state == 0 ? 2 : state);
}

/* One polling round: DC, AC per phase, config (limits, switch), LEDs, state, RAM variables. */
static int vb_round(struct drv_instance *di, struct vb_priv *p)
{
    uint8_t req[16];
    int r;
    if ((r = vb_ask(di, p, req, vebus_req_info(VEBUS_INFO_DC, req, sizeof(req)), VB_X_DC, 0)) < 0)
        return r;
    struct vebus_dc dc = {.inverter_hz = NAN};
    if (vebus_decode_dc(&p->rf, p->scale, &dc) == 0) {
        vb_set(di, p, VB_PT_DC_V, dc.voltage);
        vb_set(di, p, VB_PT_DC_I, dc.current);
        vb_set(di, p, VB_PT_DC_P, dc.voltage * dc.current);
    }
    vb_set(di, p, VB_PT_NPHASES, p->nphases);
    vb_set(di, p, VB_PT_DC_T, NAN); /* the MK2 frames carry no battery temperature */
    uint8_t dev_state = VEBUS_ST_OFF;
    bool mains = false;
    for (unsigned ph = 1; ph <= p->nphases; ph++) {
        if ((r = vb_ask(di, p, req, vebus_req_info((uint8_t)ph, req, sizeof(req)), VB_X_AC, ph)) <
            0)
            return r;
        struct vebus_ac ac;
        if (vebus_decode_ac(&p->rf, p->scale, &ac) != 0)
            continue;
        if (ph == 1)
            dev_state = ac.state;
        vb_set_phase(di, p, ph, VB_PH_IN_V, ac.mains_v);
        vb_set_phase(di, p, ph, VB_PH_IN_I, ac.mains_i);
        vb_set_phase(di, p, ph, VB_PH_IN_F, ac.mains_hz);
        vb_set_phase(di, p, ph, VB_PH_IN_P, ac.mains_v * ac.mains_i);
        vb_set_phase(di, p, ph, VB_PH_OUT_V, ac.inverter_v);
        vb_set_phase(di, p, ph, VB_PH_OUT_I, ac.inverter_i);
        vb_set_phase(di, p, ph, VB_PH_OUT_F, dc.inverter_hz);
        vb_set_phase(di, p, ph, VB_PH_OUT_P, ac.inverter_v * ac.inverter_i);
    }
    if ((r = vb_ask(di, p, req, vebus_req_info(VEBUS_INFO_CONFIG, req, sizeof(req)), VB_X_CONFIG,
                    0)) < 0)
        return r;
    if (vebus_decode_config(&p->rf, &p->cfg) == 0) {
        p->have_config = true;
        vb_set(di, p, VB_PT_LIMIT, p->cfg.limit);
        vb_set(di, p, VB_PT_MODE, vebus_mode_from_switch(p->cfg.switch_reg));
    }
    if ((r = vb_ask(di, p, req, vebus_req_led(req, sizeof(req)), VB_X_LED, 0)) < 0)
        return r;
    uint8_t on = 0, blink = 0;
    vebus_decode_led(&p->rf, &on, &blink);
    mains = on & VEBUS_LED_MAINS; /* blinking: AC present but not (yet) accepted */
    vb_set(di, p, VB_PT_ACTIVE_IN,
           mains ? (double)(p->have_config ? p->cfg.active_input : 0) : 240);
    uint8_t sub = 0;
    if ((r = vb_ask(di, p, req, vebus_req_state(req, sizeof(req)), VB_X_STATE, 0)) < 0)
        return r;
    uint8_t st2;
    if (vebus_decode_state(&p->rf, &st2, &sub) == 0)
        dev_state = st2;
    vb_publish_leds(di, p, on, blink, vebus_venus_state(dev_state, sub));
    const uint8_t soc_id = VEBUS_RAM_CHARGE_STATE;
    if ((r = vb_ask(di, p, req, vebus_req_ram(&soc_id, 1, req, sizeof(req)), VB_X_RAM, 0)) < 0)
        return r;
    uint16_t raw;
    if (vebus_decode_ram(&p->rf, &raw, 1) == 1 && p->scale[soc_id].supported)
        vb_set(di, p, VB_PT_SOC, vebus_scale_percent(&p->scale[soc_id], raw, 16));
    else
        vb_set(di, p, VB_PT_SOC, NAN);
    return 0;
}

static int vb_poll(struct drv_instance *di)
{
    struct vb_priv *p = drv_priv(di);
    int64_t now = util_mono_ms();
    if (now < p->next_poll_ms) {
        /* between rounds: keep reading (the MK2's heartbeat, and a port that vanished) */
        int64_t wait = p->next_poll_ms - now;
        int r = vb_wait(di, p, VB_X_NONE, 0, wait < 200 ? wait : 200);
        if (r < 0 && r != -ETIMEDOUT)
            return r;
        return 0;
    }
    p->next_poll_ms = now + p->interval_ms;
    int r = vb_round(di, p);
    if (r == 0) {
        drv_link_ok(di);
        return 0;
    }
    if (r != -ETIMEDOUT)
        return r == -EPROTO ? r : vb_link_down(di, p, r);
    /* a lost reply: try the next round, until nothing came back for `timeout` */
    if (util_mono_ms() - p->last_bus_ms > p->timeout_ms)
        return vb_link_down(di, p, r);
    return 0;
}

/* Commands (run on the driver thread between polls): mode on|off|charger_only|inverter_only,
 * current_limit <A>. Both go out as one 'S' frame, which carries the switch and the limit. */
static int vb_command(struct drv_instance *di, const char *name, const char *arg)
{
    struct vb_priv *p = drv_priv(di);
    static const struct {
        const char *word;
        unsigned sw;
    } modes[] = {
        {"on",            VEBUS_SW_ON           },
        {"off",           VEBUS_SW_OFF          },
        {"charger_only",  VEBUS_SW_CHARGER_ONLY },
        {"inverter_only", VEBUS_SW_INVERTER_ONLY},
    };
    if (!p->allow_control)
        return -EPERM;
    if (!p->have_config)
        return -EAGAIN; /* limits not known yet */
    unsigned sw = vebus_mode_from_switch(p->cfg.switch_reg);
    double limit = p->cfg.limit;
    if (strcmp(name, "mode") == 0) {
        size_t i = 0;
        while (i < UTIL_ARRAY_SIZE(modes) && strcmp(modes[i].word, arg) != 0)
            i++;
        if (i == UTIL_ARRAY_SIZE(modes))
            return -EINVAL;
        sw = modes[i].sw;
    } else if (strcmp(name, "current_limit") == 0) {
        if (util_parse_double(arg, -1e6, 1e6, &limit) != 0)
            return -EINVAL;
        if (limit < p->cfg.limit_min || limit > p->cfg.limit_max)
            return -ERANGE;
    } else {
        return -EINVAL;
    }
    uint8_t req[16];
    int r = vb_ask(di, p, req, vebus_req_switch(sw, limit, req, sizeof(req)), VB_X_SWITCH, 0);
    if (r < 0)
        return r == -ETIMEDOUT ? -EIO : r;
    drv_log(di, LOG_NOTICE, "command %s %s applied", name, arg);
    p->next_poll_ms = 0; /* show the result at once */
    return 0;
}

static void vb_list_points(void (*emit)(const struct drv_point_doc *doc, void *ctx), void *ctx)
{
    for (size_t i = 0; i < VB_PT_COUNT; i++)
        emit(&(struct drv_point_doc){"vebus", vb_points[i].path, vb_points[i].unit,
                                     vb_points[i].help},
             ctx);
    for (unsigned ph = 1; ph <= 3; ph++)
        for (size_t i = 0; i < VB_PH_COUNT; i++) {
            char path[48];
            snprintf(path, sizeof(path), "%s/L%u/%s", vb_phase_points[i].path, ph,
                     vb_phase_points[i].name);
            emit(&(struct drv_point_doc){"vebus", path, vb_phase_points[i].unit,
                                         vb_phase_points[i].help},
                 ctx);
        }
}

const struct driver driver_vebus = {
    .name = "vebus",
    .description = "Victron VE.Bus (MultiPlus, Quattro) through an MK2/MK3-USB interface",
    .keys = vb_keys,
    .priv_size = sizeof(struct vb_priv),
    .open = vb_open,
    .poll = vb_poll,
    .close = vb_close,
    .command = vb_command,
    .list_points = vb_list_points,
};
