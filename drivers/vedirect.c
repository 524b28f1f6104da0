/* vedirect: driver for Victron VE.Direct devices (BMV/SmartShunt, MPPT, Phoenix, chargers, Orion):
 * reads the text protocol, and polls HEX registers for what the text lacks. */
#include "core/driver.h"
#include "core/log.h"
#include "core/port.h"
#include "core/util.h"
#include "vedirect_fields.h"
#include "vedirect_hex.h"
#include "vedirect_products.h"
#include "vedirect_proto.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define VED_BAUD 19200
#define VED_READ_SLICE_MS 200
#define VED_HEX_REPLY_MS 1000
#define VED_HEX_MAX_MISSES 3
#define VED_HEX_RETRY_MS (10 * 60 * 1000)
#define VED_MAP_MAX 64
#define VED_BITS_MAX 16
#define VED_HEXREG_MAX 16
#define VED_HISTF_MAX 16

static const struct drv_key ved_keys[] = {
    {"port",          DRV_KEY_PORT,     NULL,     NULL,        "serial device, by-id link, or tcp://host:port"   },
    {"hex",           DRV_KEY_BOOL,     "yes",    NULL,        "poll HEX registers for settings and history"     },
    {"hex_interval",  DRV_KEY_DURATION, "30s",    "1s..1d",
     "how often the HEX registers are read again"                                                                },
    {"timeout",       DRV_KEY_DURATION, "2500ms", "100ms..1m",
     "no valid block for this long: stale, reopen"                                                               },
    {"allow_control", DRV_KEY_BOOL,     "no",     NULL,        "accept commands that change the device (HEX Set)"},
    {NULL,            0,                NULL,     NULL,        NULL                                              },
};

struct ved_priv {
    struct port *port;
    struct ved_framer fr;
    uint8_t rx[256];
    unsigned cls; /* VED_CLS_* once identified, 0 before */
    uint16_t pid;
    int64_t timeout_ms;
    int64_t last_good_ms;
    /* point ids + 1 (0 = not defined yet), indexed like the tables */
    int map_id[VED_MAP_MAX];
    int bit_id[VED_BITS_MAX];
    int hex_id[VED_HEXREG_MAX];
    int hist_id[VED_HIST_DAYS][VED_HISTF_MAX];
    /* HEX polling */
    bool hex_on;
    int64_t hex_interval_ms;
    int64_t hex_next_ms;
    size_t hex_step; /* index into the round: table rows, then history days */
    bool hex_pending;
    uint16_t hex_pending_reg;
    int64_t hex_sent_ms;
    int hex_misses;
    uint32_t hex_unsupported; /* bit per table row the device refused */
    bool pinged;              /* a ping answered: HEX works on this port */
    /* a Set sent by a command, waiting for its echo */
    bool set_pending;
    uint16_t set_reg;
    int set_result;
};

_Static_assert(VED_HEXREG_MAX >= 13, "ved_hex_regs fits hex_id");

static int ved_point_id(struct drv_instance *di, int *slot, const char *path, const char *unit,
                        int64_t ttl)
{
    if (*slot == 0) {
        int id = drv_point(di, path, unit, ttl);
        if (id < 0)
            return id;
        *slot = id + 1;
    }
    return *slot - 1;
}

static int ved_open(struct drv_instance *di)
{
    struct ved_priv *p = drv_priv(di);
    char err[256];
    const char *spec = drv_conf(di, "port");
    p->timeout_ms = drv_conf_ms(di, "timeout");
    p->hex_on = drv_conf_bool(di, "hex");
    p->hex_interval_ms = drv_conf_ms(di, "hex_interval");
    if (strncmp(spec, "tcp://", 6) != 0)
        drv_set_backoff_max(di, 1000); /* a local port is cheap to reopen: come back fast */
    int r = port_open(spec, VED_BAUD, 3000, &p->port, err, sizeof(err));
    if (r < 0) {
        drv_status(di, "%s", err);
        return r;
    }
    drv_set_connection(di, port_where(p->port));
    /* Bytes queued while nobody read the port are old: start from fresh data. */
    port_flush_input(p->port);
    ved_framer_init(&p->fr);
    p->last_good_ms = util_mono_ms();
    p->hex_next_ms = p->last_good_ms + 1500; /* let the first text blocks identify the device */
    drv_log(di, LOG_DEBUG, "opened %s", port_where(p->port));
    return 0;
}

static void ved_close(struct drv_instance *di)
{
    struct ved_priv *p = drv_priv(di);
    port_close(p->port);
    p->port = NULL;
}

static unsigned ved_class_bit(const char *service)
{
    static const struct {
        const char *service;
        unsigned cls;
    } map[] = {
        {"battery",      VED_CLS_BATTERY },
        {"solarcharger", VED_CLS_SOLAR   },
        {"inverter",     VED_CLS_INVERTER},
        {"charger",      VED_CLS_CHARGER },
        {"dcdc",         VED_CLS_DCDC    },
    };
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(map); i++)
        if (service && strcmp(map[i].service, service) == 0)
            return map[i].cls;
    return 0;
}

/* PID, serial and firmware from a main block. */
static void ved_identify(struct drv_instance *di, struct ved_priv *p, const struct ved_block *b)
{
    const char *pidtxt = ved_block_get(b, "PID");
    unsigned long pid;
    if (!pidtxt || ved_parse_hex(pidtxt, &pid) != 0 || pid > 0xFFFF)
        return;
    if (pid != p->pid || p->cls == 0) {
        const char *service = ved_product_service((uint16_t)pid);
        const struct ved_product *prod = ved_product_find((uint16_t)pid);
        char name[64];
        if (prod)
            util_strlcpy(name, prod->name, sizeof(name));
        else
            snprintf(name, sizeof(name), "%s (PID 0x%04lX)", ved_product_family((uint16_t)pid),
                     pid);
        if (!service) {
            drv_status(di, "unknown product id 0x%04lX: cannot tell its service class", pid);
            return;
        }
        p->pid = (uint16_t)pid;
        p->cls = ved_class_bit(service);
        drv_set_service(di, service);
        drv_set_identity(di, (uint32_t)pid, name, NULL, NULL);
        drv_log(di, LOG_INFO, "%s (PID 0x%04lX, %s)", name, pid, service);
    }
    const char *ser = ved_block_get(b, "SER#");
    const char *fw = ved_block_get(b, "FWE");
    char fwtext[24] = "";
    if (fw)
        ved_firmware_text(fw, true, fwtext, sizeof(fwtext));
    else if ((fw = ved_block_get(b, "FW")) != NULL)
        ved_firmware_text(fw, false, fwtext, sizeof(fwtext));
    if (ser || fwtext[0])
        drv_set_identity(di, 0, NULL, ser, fwtext[0] ? fwtext : NULL);
}

static void ved_publish_field(struct drv_instance *di, struct ved_priv *p,
                              const struct ved_field *f)
{
    for (size_t i = 0; i < ved_map_len && i < VED_MAP_MAX; i++) {
        const struct ved_map *m = &ved_map[i];
        if (!(m->classes & p->cls) || strcmp(m->label, f->label) != 0)
            continue;
        int id = ved_point_id(di, &p->map_id[i], m->path, m->unit, p->timeout_ms);
        double v;
        int r = ved_field_value(m, f->value, &v);
        if (r > 0)
            drv_set(di, id, v);
        else if (r == 0)
            drv_set_na(di, id);
        return; /* first matching row only */
    }
}

/* AR (alarm) and WARN (warning) bit masks → the Venus Alarms paths as 0 ok, 1 warning, 2 alarm. */
static void ved_publish_alarms(struct drv_instance *di, struct ved_priv *p,
                               const struct ved_block *b)
{
    const char *ar = ved_block_get(b, "AR");
    const char *warn = ved_block_get(b, "WARN");
    if (!ar && !warn)
        return;
    long arv = 0, warnv = 0;
    if ((ar && ved_parse_int(ar, &arv) != 0) || (warn && ved_parse_int(warn, &warnv) != 0))
        return;
    for (size_t i = 0; i < ved_alarm_bits_len && i < VED_BITS_MAX; i++) {
        const struct ved_alarm_bit *ab = &ved_alarm_bits[i];
        if (!(ab->classes & p->cls))
            continue;
        int id = ved_point_id(di, &p->bit_id[i], ab->path, "", p->timeout_ms);
        drv_set(di, id, ((uint32_t)arv & ab->bit) ? 2 : ((uint32_t)warnv & ab->bit) ? 1 : 0);
    }
}

static void ved_on_block(struct drv_instance *di, struct ved_priv *p, const struct ved_block *b)
{
    drv_count(di, DEV_CNT_FRAMES_OK, 1);
    p->last_good_ms = util_mono_ms();
    ved_identify(di, p, b);
    if (p->cls == 0)
        return; /* a history block before the first main block: wait for the PID */
    for (size_t i = 0; i < b->n; i++)
        ved_publish_field(di, p, &b->f[i]);
    ved_publish_alarms(di, p, b);
    drv_link_ok(di);
}

static void ved_on_history(struct drv_instance *di, struct ved_priv *p, unsigned day,
                           const uint8_t *val, size_t len)
{
    if (day >= VED_HIST_DAYS || len != VED_HIST_RECORD_LEN)
        return;
    for (size_t i = 0; i < ved_hist_fields_len && i < VED_HISTF_MAX; i++) {
        const struct ved_hist_field *hf = &ved_hist_fields[i];
        char path[64];
        snprintf(path, sizeof(path), "History/Daily/%u/%s", day, hf->name);
        /* History changes once a day at most: it stays valid for a few polling rounds. */
        int id = ved_point_id(di, &p->hist_id[day][i], path, hf->unit, 4 * p->hex_interval_ms);
        drv_set(di, id, ved_hist_field_value(hf, val));
    }
}

static void ved_on_hex(struct drv_instance *di, struct ved_priv *p, const struct ved_hex_frame *fr)
{
    drv_count(di, DEV_CNT_HEX_FRAMES, 1);
    uint16_t reg;
    uint8_t flags;
    const uint8_t *val;
    size_t vlen;
    if (fr->cmd == VED_RSP_PING && fr->len == 2) {
        /* Ping answer: the application version, 0x1nnn = v n.nn (go-victron ping). */
        char fw[16];
        unsigned v = ved_le_u32(fr->data, 2) & 0x0FFF;
        snprintf(fw, sizeof(fw), "%x.%02x", v >> 8, v & 0xFF);
        if (!p->pinged)
            drv_log(di, LOG_DEBUG, "HEX ping answered, application version %s", fw);
        p->pinged = true;
        p->hex_misses = 0;
        if (p->hex_pending && p->hex_pending_reg == 0)
            p->hex_pending = false;
        return;
    }
    if (fr->cmd == VED_RSP_DONE) {
        p->hex_misses = 0;
        return;
    }
    if (ved_hex_frame_register(fr, &reg, &flags, &val, &vlen) != 0)
        return;
    if (fr->cmd == VED_CMD_SET && p->set_pending && reg == p->set_reg) {
        p->set_pending = false;
        p->set_result = flags == VED_FLAG_OK            ? 0
                        : flags == VED_FLAG_PARAM_ERROR ? -ERANGE
                                                        : -EOPNOTSUPP;
        return;
    }
    if (p->hex_pending && reg == p->hex_pending_reg && fr->cmd != VED_CMD_ASYNC) {
        p->hex_pending = false;
        p->hex_misses = 0;
    }
    if (p->cls == 0)
        return;
    if (reg >= VED_HIST_REG_FIRST && reg < VED_HIST_REG_FIRST + VED_HIST_DAYS &&
        (p->cls & VED_CLS_SOLAR)) {
        if (flags == VED_FLAG_OK)
            ved_on_history(di, p, reg - VED_HIST_REG_FIRST, val, vlen);
        return;
    }
    for (size_t i = 0; i < ved_hex_regs_len && i < VED_HEXREG_MAX; i++) {
        const struct ved_hex_reg *r = &ved_hex_regs[i];
        if (r->reg != reg || !(r->classes & p->cls))
            continue;
        if (flags != VED_FLAG_OK) {
            p->hex_unsupported |= 1u << i; /* the device has no such register: stop asking */
            return;
        }
        int id = ved_point_id(di, &p->hex_id[i], r->path, r->unit, 4 * p->hex_interval_ms);
        double v;
        int k = ved_hex_reg_value(r, val, vlen, &v);
        if (k > 0)
            drv_set(di, id, v);
        else if (k == 0)
            drv_set_na(di, id);
        return;
    }
}

/* The next register of the HEX round, or 0 when the round is over. */
static uint16_t ved_hex_next_reg(struct ved_priv *p)
{
    while (p->hex_step < ved_hex_regs_len) {
        size_t i = p->hex_step++;
        if ((ved_hex_regs[i].classes & p->cls) && !(p->hex_unsupported & (1u << i)))
            return ved_hex_regs[i].reg;
    }
    if ((p->cls & VED_CLS_SOLAR) && p->hex_step < ved_hex_regs_len + VED_HIST_DAYS)
        return (uint16_t)(VED_HIST_REG_FIRST + (p->hex_step++ - ved_hex_regs_len));
    return 0;
}

static int ved_hex_poll(struct drv_instance *di, struct ved_priv *p, int64_t now)
{
    if (!p->hex_on || p->cls == 0)
        return 0;
    if (p->hex_pending) {
        if (now - p->hex_sent_ms < VED_HEX_REPLY_MS)
            return 0;
        p->hex_pending = false;
        if (++p->hex_misses >= VED_HEX_MAX_MISSES) {
            /* A text-only device (old BMV-60x, or HEX disabled): try again much later. */
            drv_log(di, LOG_INFO, "no answer to HEX requests; text only for %d min",
                    VED_HEX_RETRY_MS / 60000);
            p->hex_misses = 0;
            p->hex_step = 0;
            p->hex_next_ms = now + VED_HEX_RETRY_MS;
            return 0;
        }
    }
    if (now < p->hex_next_ms)
        return 0;
    char frame[32];
    if (!p->pinged) {
        /* A ping first: it tells whether HEX works on this port at all. */
        size_t n = ved_hex_encode(VED_CMD_PING, NULL, 0, frame, sizeof(frame));
        int r = port_write(p->port, frame, n, 500);
        if (r < 0) {
            drv_status(di, "cannot write to %s: %s", port_where(p->port), strerror(-r));
            return r;
        }
        p->hex_pending = true;
        p->hex_pending_reg = 0;
        p->hex_sent_ms = now;
        return 0;
    }
    uint16_t reg = ved_hex_next_reg(p);
    if (reg == 0) {
        p->hex_step = 0;
        p->hex_next_ms = now + p->hex_interval_ms;
        return 0;
    }
    size_t n = ved_hex_get(reg, frame, sizeof(frame));
    int r = port_write(p->port, frame, n, 500);
    if (r < 0) {
        drv_status(di, "cannot write to %s: %s", port_where(p->port), strerror(-r));
        return r;
    }
    p->hex_pending = true;
    p->hex_pending_reg = reg;
    p->hex_sent_ms = now;
    return 0;
}

/* Reads what the port has (waiting up to wait_ms) and dispatches every event. 0 or -errno. */
static int ved_pump(struct drv_instance *di, struct ved_priv *p, int wait_ms)
{
    ssize_t n = port_read(p->port, p->rx, sizeof(p->rx), wait_ms);
    if (n < 0) {
        drv_status(di, "%s: %s", port_where(p->port),
                   n == -ENODEV ? "device disconnected" : strerror((int)-n));
        return (int)n;
    }
    drv_count(di, DEV_CNT_BYTES, (uint64_t)n);
    size_t off = 0;
    while (off < (size_t)n) {
        enum ved_event ev;
        off += ved_framer_feed(&p->fr, p->rx + off, (size_t)n - off, &ev);
        switch (ev) {
        case VED_EV_BLOCK:
            ved_on_block(di, p, ved_framer_block(&p->fr));
            break;
        case VED_EV_BAD_BLOCK:
            drv_count(di,
                      ved_framer_reject(&p->fr) == VED_REJECT_CHECKSUM ? DEV_CNT_CHECKSUM_ERRORS
                                                                       : DEV_CNT_FRAME_ERRORS,
                      1);
            break;
        case VED_EV_HEX:
            ved_on_hex(di, p, ved_framer_hex(&p->fr));
            break;
        case VED_EV_BAD_HEX:
            drv_count(di, DEV_CNT_FRAME_ERRORS, 1);
            break;
        case VED_EV_NONE:
            break;
        }
    }
    return 0;
}

static int ved_poll(struct drv_instance *di)
{
    struct ved_priv *p = drv_priv(di);
    int r = ved_pump(di, p, VED_READ_SLICE_MS);
    if (r < 0)
        return r;
    int64_t now = util_mono_ms();
    if (now - p->last_good_ms > p->timeout_ms) {
        drv_count(di, DEV_CNT_TIMEOUTS, 1);
        drv_status(di, "no valid VE.Direct block for %lld ms on %s",
                   (long long)(now - p->last_good_ms), port_where(p->port));
        return -ETIMEDOUT;
    }
    return ved_hex_poll(di, p, now);
}

/* Commands that write a register with HEX Set, as data: command, classes, register, width, and
 * the accepted values (go-victron veregister: 0x0200 device mode 1 on / 4 off; 0xEDAB load output
 * control 0 off, 1 auto, 4 on). */
static const struct {
    const char *command;
    unsigned classes;
    uint16_t reg;
    uint8_t width;
    struct {
        const char *text;
        uint32_t raw;
    } values[4];
} ved_commands[] = {
    {"mode",
     VED_CLS_SOLAR | VED_CLS_CHARGER | VED_CLS_INVERTER | VED_CLS_DCDC,
     0x0200,                                                                    1,
     {{"on", 1}, {"off", 4}}                                                                                           },
    {"load_output", VED_CLS_SOLAR,                                      0xEDAB, 1, {{"off", 0}, {"auto", 1}, {"on", 4}}},
};

/* Runs on the driver thread (the runner calls it between polls): sends a Set and waits for the
 * device's echo, text keeps being processed meanwhile. */
static int ved_command(struct drv_instance *di, const char *name, const char *arg)
{
    struct ved_priv *p = drv_priv(di);
    if (!drv_conf_bool(di, "allow_control"))
        return -EPERM;
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(ved_commands); i++) {
        if (strcmp(ved_commands[i].command, name) != 0)
            continue;
        if (!(ved_commands[i].classes & p->cls))
            return -EOPNOTSUPP;
        for (size_t v = 0; v < UTIL_ARRAY_SIZE(ved_commands[i].values); v++) {
            if (!ved_commands[i].values[v].text || strcmp(ved_commands[i].values[v].text, arg) != 0)
                continue;
            char frame[32];
            size_t n = ved_hex_set(ved_commands[i].reg, ved_commands[i].values[v].raw,
                                   ved_commands[i].width, frame, sizeof(frame));
            p->set_pending = true;
            p->set_reg = ved_commands[i].reg;
            p->set_result = -ETIMEDOUT;
            int r = port_write(p->port, frame, n, 500);
            int64_t deadline = util_mono_ms() + VED_HEX_REPLY_MS;
            while (r == 0 && p->set_pending && util_mono_ms() < deadline)
                r = ved_pump(di, p, 50);
            p->set_pending = false;
            if (r < 0)
                return r;
            drv_log(di, LOG_NOTICE, "command %s %s: %s", name, arg,
                    p->set_result == 0 ? "done" : strerror(-p->set_result));
            return p->set_result;
        }
        return -EINVAL;
    }
    return -EOPNOTSUPP;
}

static void ved_list_points(void (*emit)(const struct drv_point_doc *doc, void *ctx), void *ctx)
{
    static const struct {
        unsigned cls;
        const char *service;
    } classes[] = {
        {VED_CLS_BATTERY,  "battery"     },
        {VED_CLS_SOLAR,    "solarcharger"},
        {VED_CLS_INVERTER, "inverter"    },
        {VED_CLS_CHARGER,  "charger"     },
        {VED_CLS_DCDC,     "dcdc"        },
    };
    for (size_t c = 0; c < UTIL_ARRAY_SIZE(classes); c++) {
        for (size_t i = 0; i < ved_map_len; i++)
            if (ved_map[i].classes & classes[c].cls)
                emit(&(struct drv_point_doc){classes[c].service, ved_map[i].path, ved_map[i].unit,
                                             ved_map[i].label},
                     ctx);
        for (size_t i = 0; i < ved_alarm_bits_len; i++)
            if (ved_alarm_bits[i].classes & classes[c].cls)
                emit(&(struct drv_point_doc){classes[c].service, ved_alarm_bits[i].path, "",
                                             "AR/WARN bit: 0 ok, 1 warning, 2 alarm"},
                     ctx);
        for (size_t i = 0; i < ved_hex_regs_len; i++)
            if (ved_hex_regs[i].classes & classes[c].cls)
                emit(&(struct drv_point_doc){classes[c].service, ved_hex_regs[i].path,
                                             ved_hex_regs[i].unit, "HEX register"},
                     ctx);
        if (classes[c].cls == VED_CLS_SOLAR)
            for (size_t i = 0; i < ved_hist_fields_len; i++) {
                char path[64];
                snprintf(path, sizeof(path), "History/Daily/<0..%d>/%s", VED_HIST_DAYS - 1,
                         ved_hist_fields[i].name);
                emit(&(struct drv_point_doc){"solarcharger", path, ved_hist_fields[i].unit,
                                             "HEX daily history"},
                     ctx);
            }
    }
}

const struct driver driver_vedirect = {
    .name = "vedirect",
    .description = "Victron VE.Direct (text + HEX): BMV/SmartShunt, MPPT, Phoenix, chargers, Orion",
    .keys = ved_keys,
    .priv_size = sizeof(struct ved_priv),
    .open = ved_open,
    .poll = ved_poll,
    .close = ved_close,
    .command = ved_command,
    .list_points = ved_list_points,
};
