/* emu_vebus: an MK3-USB interface with a MultiPlus system (1 or 3 phases, N units per phase)
 * behind it, on a pty. Answers 'A', 'V', 'F' 0..5, 'L', 'S' and 'W' 0x0E/0x30/0x36 with the frame
 * layouts of the real captures (shared/testdata/vebus), sends 'V' heartbeats when idle, and
 * follows the site model: charging from AC input, inverting when the grid is lost. */
#include "emu_vebus.h"
#include "core/log.h"
#include "core/util.h"
#include "drivers/vebus_proto.h"
#include "emu.h"
#include "emu_port.h"
#include "emu_rand.h"
#include "emu_site.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* izak mk2.py: the MK2 sends a 'V' frame every second when nothing else happens */
#define VBE_HEARTBEAT_MS 1000
#define VBE_BAUD 2400
#define VBE_VERSION 1170216u /* the MK3 of xcellsior_mk3_bench_frames.txt */
#define VBE_LIMIT_MIN 6.0
#define VBE_LIMIT_MAX 50.0
#define VBE_UNIT_VA 3000.0 /* a MultiPlus 24/3000 */

enum vbe_fault {
    VBE_FAULT_NONE,
    VBE_FAULT_SILENCE,  /* nothing at all: an unplugged MK2 */
    VBE_FAULT_CHECKSUM, /* every 3rd reply with a wrong checksum */
    VBE_FAULT_TRUNCATE, /* every 3rd reply cut short */
    VBE_FAULT_NOBUS,    /* the MK2 answers ('V', 'A'), no VE.Bus device does */
};

/* Scale replies for RAM variables 0..13, as the real MultiPlus of invertergui_basic_rx sent them
 * (scale field, offset field). Higher ids answer "variable not supported" (0x90). */
static const uint16_t vbe_scales[][2] = {
    {0x7F9C, 0x0000}, /* 0 UMains 1/100 */
    {0x8064, 0x0000}, /* 1 IMains signed 1/100 */
    {0x7F9C, 0x0000}, /* 2 UInverter */
    {0x7F9C, 0x0000}, /* 3 IInverter */
    {0x7F9C, 0x0000}, /* 4 UBat */
    {0x8064, 0x0000}, /* 5 IBat signed */
    {0x7F9C, 0x0000}, /* 6 UBat ripple */
    {0x7857, 0x0100}, /* 7 inverter period 1/1961, offset 256 */
    {0x7C2F, 0x0000}, /* 8 mains period 1/977 */
    {0x8064, 0x0000}, /* 9 signed AC load current */
    {0x0004, 0x8000}, /* 10 virtual switch: bit 3 */
    {0x0001, 0x8000}, /* 11 ignore AC input: bit 0 */
    {0x0002, 0x8000}, /* 12 relay: bit 1 */
    {0x7F38, 0x0000}, /* 13 charge state 1/200 */
};

struct vbe_opts {
    const char *pty;
    unsigned phases;
    unsigned units;
    bool grid;
    enum vbe_fault fault;
    bool pace;
    double speed;
    double start_hour;
    uint64_t seed;
};

struct vbe {
    struct vbe_opts o;
    struct emu_port *port;
    struct emu_site *site;
    struct emu_rand rnd;
    atomic_bool stop;
    atomic_int grid;   /* 1: AC input present (SIGUSR2 toggles) */
    atomic_int silent; /* SIGUSR1 */
    unsigned sw;       /* switch position (enum vebus_switch), driver thread only */
    double limit;      /* AC input current limit, A */
    long replies;
    int64_t last_tx_ms;
};

/* What the system shows now. */
struct vbe_now {
    double bat_v, soc;
    double out_v, out_i; /* per phase, all units */
    double in_v, in_i;
    double bat_i_inv, bat_i_chg;
    uint8_t state, sub;
    uint8_t led_on, led_blink;
};

static void vbe_model(struct vbe *e, struct vbe_now *n)
{
    struct emu_values bat, inv;
    emu_site_view(e->site, EMU_ROLE_BATTERY, 0, &bat);
    emu_site_view(e->site, EMU_ROLE_INVERTER, 0, &inv);
    memset(n, 0, sizeof(*n));
    n->bat_v = isfinite(bat.q[EMU_Q_BAT_V]) ? bat.q[EMU_Q_BAT_V] : 26.0;
    n->soc = isfinite(bat.q[EMU_Q_SOC]) ? bat.q[EMU_Q_SOC] : 80.0;
    double load_va = isfinite(inv.q[EMU_Q_AC_S]) && inv.q[EMU_Q_AC_S] > 0 ? inv.q[EMU_Q_AC_S] : 220;
    /* the site's AC loads are spread over the phases; a little noise per phase */
    double per_phase = load_va / e->o.phases;
    double v = 230.0 + (double)emu_rand_below(&e->rnd, 100) / 100.0;
    bool grid = atomic_load(&e->grid) != 0;
    bool may_charge = e->sw == VEBUS_SW_ON || e->sw == VEBUS_SW_CHARGER_ONLY;
    bool may_invert = e->sw == VEBUS_SW_ON || e->sw == VEBUS_SW_INVERTER_ONLY;
    bool passthru = grid && may_charge;
    if (passthru) {
        /* charging from the AC input, loads passed through, input current under the limit */
        n->in_v = v;
        n->out_v = v;
        n->out_i = per_phase / v;
        double room_w = e->limit * v - per_phase;
        double chg_w = fmin(fmax(room_w, 0), 1200.0 * e->o.units) * e->o.phases;
        if (n->soc >= 99.5)
            chg_w = fmin(chg_w, 30.0); /* float: a trickle */
        n->bat_i_chg = chg_w * 0.93 / n->bat_v;
        n->in_i = (per_phase + chg_w / e->o.phases) / v;
        n->state = VEBUS_ST_CHARGE;
        n->sub = n->soc < 85 ? 1 : n->soc < 99.5 ? 2 : 3;
        n->led_on = VEBUS_LED_MAINS | (n->sub == 1   ? VEBUS_LED_BULK
                                       : n->sub == 2 ? VEBUS_LED_ABSORPTION
                                                     : VEBUS_LED_FLOAT);
    } else if (may_invert) {
        n->out_v = v;
        n->out_i = per_phase / v;
        n->bat_i_inv = load_va / 0.9 / n->bat_v;
        n->state = VEBUS_ST_INVERT_FULL;
        n->led_on = VEBUS_LED_INVERTER;
        if (grid)
            n->in_v = v; /* inverter only: the grid is there but ignored */
    } else {
        n->state = VEBUS_ST_OFF;
        if (grid)
            n->in_v = v;
    }
    if (grid && !passthru)
        n->led_blink |= VEBUS_LED_MAINS; /* AC present, not accepted */
    if (n->bat_v < 23.0)
        n->led_blink |= VEBUS_LED_LOW_BATTERY;
    if (per_phase > VBE_UNIT_VA * e->o.units)
        n->led_on |= VEBUS_LED_OVERLOAD;
}

static void vbe_le16(uint8_t *p, double v)
{
    long r = lround(v);
    uint16_t u = (uint16_t)(r < -32768 ? -32768 : r > 65535 ? 65535 : r);
    p[0] = (uint8_t)(u & 0xFF);
    p[1] = (uint8_t)(u >> 8);
}

static void vbe_le24(uint8_t *p, double v)
{
    uint32_t u = (uint32_t)lround(fmax(0, fmin(v, 0x7FFFFF)));
    p[0] = (uint8_t)u;
    p[1] = (uint8_t)(u >> 8);
    p[2] = (uint8_t)(u >> 16);
}

/* Writes one frame, with the fault applied, paced as on a 2400 baud line (10 bits a byte). */
static int vbe_write(struct vbe *e, uint8_t *buf, size_t n, size_t req_len, bool bus)
{
    if (atomic_load(&e->silent) != 0 || e->o.fault == VBE_FAULT_SILENCE)
        return 0;
    if (bus && e->o.fault == VBE_FAULT_NOBUS)
        return 0;
    if (e->o.pace)
        util_sleep_ms((int64_t)((req_len + n) * 10 * 1000 / VBE_BAUD));
    e->replies++;
    if (e->replies % 3 == 0 && e->o.fault == VBE_FAULT_CHECKSUM)
        buf[n - 1] ^= 0x55;
    if (e->replies % 3 == 0 && e->o.fault == VBE_FAULT_TRUNCATE)
        n = n / 2;
    e->last_tx_ms = util_mono_ms();
    return emu_port_write(e->port, buf, n);
}

static int vbe_reply(struct vbe *e, const uint8_t *data, size_t dlen, size_t req_len, bool bus)
{
    uint8_t buf[VEBUS_FRAME_MAX];
    size_t n = vebus_build(data[0], data + 1, dlen - 1, buf, sizeof(buf));
    return n ? vbe_write(e, buf, n, req_len, bus) : -EINVAL;
}

static int vbe_marked(struct vbe *e, uint8_t marker, const uint8_t *data, size_t dlen,
                      size_t req_len)
{
    uint8_t buf[VEBUS_FRAME_MAX];
    size_t n = vebus_build_marked(marker, data, dlen, buf, sizeof(buf));
    return n ? vbe_write(e, buf, n, req_len, true) : -EINVAL;
}

static int vbe_version(struct vbe *e, size_t req_len)
{
    uint8_t d[] = {VEBUS_CMD_VERSION,
                   (uint8_t)VBE_VERSION,
                   (uint8_t)(VBE_VERSION >> 8),
                   (uint8_t)(VBE_VERSION >> 16),
                   (uint8_t)(VBE_VERSION >> 24),
                   0x00};
    return vbe_reply(e, d, sizeof(d), req_len, false);
}

static int vbe_info(struct vbe *e, unsigned which, size_t req_len)
{
    struct vbe_now n;
    vbe_model(e, &n);
    uint8_t d[14] = {0};
    if (which == VEBUS_INFO_DC) {
        /* 0F 20 <3 bytes> <1 byte> 0C <UBat u16> <I inverting u24> <I charging u24> <period> */
        d[0] = 0xF3;
        d[2] = 0xC8;
        d[3] = 0x02;
        d[4] = 0x0C;
        vbe_le16(d + 5, n.bat_v * 100);
        vbe_le24(d + 7, n.bat_i_inv * 100);
        vbe_le24(d + 10, n.bat_i_chg * 100);
        d[13] = n.out_v > 0 ? 136 : 0; /* 10 / ((136 + 256) / 1961) = 50.03 Hz */
        return vbe_marked(e, VEBUS_MARK_INFO, d, sizeof(d), req_len);
    }
    if (which > e->o.phases)
        return 0; /* no such phase: no answer */
    /* <mains factor> <inverter factor> 00 <state> <phase> <UMains> <IMains> <UInv> <IInv> <period>;
     * the currents are per unit, the factors the number of units in parallel */
    unsigned u = e->o.units;
    d[0] = (uint8_t)u;
    d[1] = (uint8_t)u;
    d[3] = n.state;
    d[4] = which == 1 ? (uint8_t)(7 + e->o.phases) : (uint8_t)(9 - which);
    vbe_le16(d + 5, n.in_v * 100);
    vbe_le16(d + 7, n.in_i / u * 100);
    vbe_le16(d + 9, n.out_v * 100);
    vbe_le16(d + 11, n.out_i / u * 100);
    d[13] = n.in_v > 0 ? 195 : 0; /* 10 / (195 / 977) = 50.10 Hz */
    return vbe_marked(e, VEBUS_MARK_INFO, d, sizeof(d), req_len);
}

static int vbe_config(struct vbe *e, size_t req_len)
{
    struct vbe_now n;
    vbe_model(e, &n);
    /* j9brown ConfigFrame: LEDs, flags (1 AC input), min, max, actual limit ×10, switch register */
    uint8_t d[12] = {n.led_on, n.led_blink, 0, 0, 0x10};
    vbe_le16(d + 5, VBE_LIMIT_MIN * 10);
    vbe_le16(d + 7, VBE_LIMIT_MAX * 10);
    vbe_le16(d + 9, e->limit * 10);
    static const uint8_t reg[] = {0, 0x10, 0x20, 0x30, 0x00}; /* by switch position 1..4 */
    d[11] = (uint8_t)(reg[e->sw <= 4 ? e->sw : 0] | 0x04 | 0x40);
    return vbe_marked(e, VEBUS_MARK_CONFIG, d, sizeof(d), req_len);
}

static int vbe_winmon(struct vbe *e, const struct vebus_frame *f, size_t req_len)
{
    uint8_t c = f->data[0]; /* 'W', 'X', 'Y' or 'Z': the reply comes back under the same letter */
    uint8_t sub = f->len >= 2 ? f->data[1] : 0;
    if (sub == VEBUS_W_RAM_INFO && f->len >= 3) {
        uint8_t id = f->data[2];
        if (id >= UTIL_ARRAY_SIZE(vbe_scales)) {
            uint8_t d[] = {c, VEBUS_WR_VAR_NOT_SUPPORTED};
            return vbe_reply(e, d, sizeof(d), req_len, true);
        }
        uint8_t d[8] = {c, VEBUS_WR_RAM_INFO, 0, 0, VEBUS_WR_RAM_INFO2};
        vbe_le16(d + 2, vbe_scales[id][0]);
        vbe_le16(d + 5, vbe_scales[id][1]);
        return vbe_reply(e, d, 7, req_len, true);
    }
    if (sub == VEBUS_W_READ_RAM && f->len >= 3) {
        struct vbe_now n;
        vbe_model(e, &n);
        /* one id: "W 30 <id> 00"; several: "W 30 <id> <id> ..." */
        size_t nid = f->len == 4 && f->data[3] == 0 ? 1 : f->len - 2;
        uint8_t d[2 + 2 * 6] = {c, VEBUS_WR_RAM};
        size_t k = 0;
        for (; k < nid && k < 6; k++) {
            uint8_t id = f->data[2 + k];
            double raw = id == VEBUS_RAM_CHARGE_STATE ? n.soc / 100.0 * 200
                         : id == VEBUS_RAM_UBAT       ? n.bat_v * 100
                         : id == VEBUS_RAM_UMAINS     ? n.in_v * 100
                         : id == VEBUS_RAM_UINV       ? n.out_v * 100
                                                      : 0;
            vbe_le16(d + 2 + 2 * k, raw);
        }
        return vbe_reply(e, d, 2 + 2 * k, req_len, true);
    }
    if (sub == VEBUS_W_GET_STATE) {
        struct vbe_now n;
        vbe_model(e, &n);
        uint8_t d[] = {c, VEBUS_WR_STATE, n.state, n.sub};
        return vbe_reply(e, d, sizeof(d), req_len, true);
    }
    uint8_t d[] = {c, VEBUS_WR_NOT_SUPPORTED};
    return vbe_reply(e, d, sizeof(d), req_len, true);
}

static int vbe_request(struct vbe *e, const struct vebus_frame *f)
{
    if (f->marker != VEBUS_MARK_CMD || f->len < 1)
        return 0;
    size_t req_len = f->len + 3;
    switch (f->data[0]) {
    case VEBUS_CMD_ADDRESS: {
        uint8_t d[] = {VEBUS_CMD_ADDRESS, 0x01, f->len >= 3 ? f->data[2] : 0};
        return vbe_reply(e, d, sizeof(d), req_len, false); /* the MK2 echoes it */
    }
    case VEBUS_CMD_VERSION:
        return vbe_version(e, req_len);
    case VEBUS_CMD_INFO:
        if (f->len < 2)
            return 0;
        return f->data[1] == VEBUS_INFO_CONFIG ? vbe_config(e, req_len)
               : f->data[1] <= 4               ? vbe_info(e, f->data[1], req_len)
                                               : 0;
    case VEBUS_CMD_LED: {
        struct vbe_now n;
        vbe_model(e, &n);
        uint8_t d[] = {VEBUS_CMD_LED, n.led_on, n.led_blink, 0, 0};
        return vbe_reply(e, d, sizeof(d), req_len, true);
    }
    case VEBUS_CMD_SWITCH:
        if (f->len >= 4 && f->data[1] >= 1 && f->data[1] <= 4) {
            unsigned v = f->data[2] | f->data[3] << 8;
            e->sw = f->data[1];
            if (v != 0x8000)
                e->limit = fmax(VBE_LIMIT_MIN, fmin(VBE_LIMIT_MAX, v / 10.0));
            log_msg(LOG_INFO, "vebus: switch %u, current limit %.1f A", e->sw, e->limit);
        }
        {
            uint8_t d[] = {VEBUS_CMD_SWITCH, 0x88};
            return vbe_reply(e, d, sizeof(d), req_len, true);
        }
    case 'W':
    case 'X':
    case 'Y':
    case 'Z':
        return vbe_winmon(e, f, req_len);
    default:
        return 0;
    }
}

static void *vbe_thread(void *arg)
{
    struct vbe *e = arg;
    struct vebus_framer fr;
    vebus_framer_init(&fr);
    uint8_t buf[256];
    while (!atomic_load(&e->stop)) {
        size_t got = 0;
        int r = emu_port_read(e->port, buf, sizeof(buf), 50, &got);
        if (r < 0) {
            log_msg(LOG_ERR, "vebus: read: %s", strerror(-r));
            util_sleep_ms(50);
            continue;
        }
        if (got == 0)
            vebus_framer_flush(&fr);
        size_t off = 0;
        for (;;) {
            enum vebus_event ev;
            off += vebus_framer_feed(&fr, buf + off, got - off, &ev);
            if (ev == VEBUS_EV_NONE)
                break;
            if (ev == VEBUS_EV_FRAME && vbe_request(e, vebus_framer_frame(&fr)) < 0)
                log_msg(LOG_WARNING, "vebus: cannot answer");
        }
        if (util_mono_ms() - e->last_tx_ms >= VBE_HEARTBEAT_MS)
            vbe_version(e, 0); /* idle: the MK2's heartbeat */
    }
    return NULL;
}

static void vbe_usage(FILE *f)
{
    fprintf(f, "usage: sitewatch-emu vebus --pty PATH [options]\n"
               "An MK3-USB with a MultiPlus system behind it (MK2 protocol, 2400 8N1 pacing).\n"
               "  --phases 1|3          single or three-phase system (default 1)\n"
               "  --units N             units in parallel per phase (default 1)\n"
               "  --grid on|lost        AC input present at start (default on)\n"
               "  --fault none|silence|checksum|truncate|nobus\n"
               "  --no-pace             answer at once instead of at 2400 baud speed\n"
               "  --speed X --start-hour H --seed N   site model (as for site)\n"
               "SIGUSR2 toggles the grid, SIGUSR1 silence (an unplugged MK2); SIGINT/SIGTERM "
               "exit.\n");
}

static int vbe_parse(int argc, char **argv, struct vbe_opts *o)
{
    static const struct option lo[] = {
        {"pty",        required_argument, NULL, 'p'},
        {"phases",     required_argument, NULL, 'P'},
        {"units",      required_argument, NULL, 'u'},
        {"grid",       required_argument, NULL, 'g'},
        {"fault",      required_argument, NULL, 'f'},
        {"no-pace",    no_argument,       NULL, 'n'},
        {"speed",      required_argument, NULL, 's'},
        {"start-hour", required_argument, NULL, 'H'},
        {"seed",       required_argument, NULL, 'S'},
        {"help",       no_argument,       NULL, 'h'},
        {NULL,         0,                 NULL, 0  },
    };
    static const char *const faults[] = {"none", "silence", "checksum", "truncate", "nobus"};
    *o = (struct vbe_opts){.phases = 1,
                           .units = 1,
                           .grid = true,
                           .pace = true,
                           .speed = 1,
                           .start_hour = -1,
                           .seed = 1};
    optind = 1;
    int c;
    long l;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'p':
            o->pty = optarg;
            break;
        case 'P':
            bad = util_parse_long(optarg, 10, 1, 3, &l) != 0 || l == 2;
            o->phases = (unsigned)l;
            break;
        case 'u':
            bad = util_parse_long(optarg, 10, 1, 10, &l) != 0;
            o->units = (unsigned)l;
            break;
        case 'g':
            bad = strcmp(optarg, "on") != 0 && strcmp(optarg, "lost") != 0;
            o->grid = strcmp(optarg, "on") == 0;
            break;
        case 'f':
            bad = 1;
            for (size_t i = 0; i < UTIL_ARRAY_SIZE(faults); i++)
                if (strcmp(optarg, faults[i]) == 0) {
                    o->fault = (enum vbe_fault)i;
                    bad = 0;
                }
            break;
        case 'n':
            o->pace = false;
            break;
        case 's':
            bad = util_parse_double(optarg, 0.001, 1e6, &o->speed) != 0;
            break;
        case 'H':
            bad = util_parse_double(optarg, 0, 23.9999, &o->start_hour) != 0;
            break;
        case 'S':
            bad = util_parse_long(optarg, 10, 0, 0x7FFFFFFF, &l) != 0;
            o->seed = (uint64_t)l;
            break;
        case 'h':
            vbe_usage(stdout);
            return 1;
        default:
            bad = 1;
            break;
        }
        if (bad) {
            log_msg(LOG_ERR, "vebus: bad option or value (see --help)");
            return -EINVAL;
        }
    }
    if (!o->pty || optind < argc) {
        vbe_usage(stderr);
        return -EINVAL;
    }
    return 0;
}

int emu_vebus_main(int argc, char **argv, const sigset_t *set)
{
    struct vbe *e = xcalloc(1, sizeof(*e));
    int rc = vbe_parse(argc, argv, &e->o);
    if (rc != 0) {
        free(e);
        return rc > 0 ? 0 : 2;
    }
    sigset_t sigs = *set;
    sigaddset(&sigs, SIGUSR2);
    sigaddset(&sigs, SIGUSR1);
    if (pthread_sigmask(SIG_BLOCK, &sigs, NULL) != 0) {
        free(e);
        return 1;
    }
    struct emu_site_conf sc;
    emu_site_conf_defaults(&sc);
    sc.seed = e->o.seed;
    sc.speed = e->o.speed;
    if (emu_site_conf_start_hour(&sc, e->o.start_hour) != 0) {
        free(e);
        return 2;
    }
    emu_rand_init(&e->rnd, e->o.seed);
    atomic_init(&e->stop, false);
    atomic_init(&e->grid, e->o.grid ? 1 : 0);
    atomic_init(&e->silent, 0);
    e->sw = VEBUS_SW_ON;
    e->limit = 16.0;
    int status = 1;
    pthread_t th;
    if ((rc = emu_site_new(&sc, &e->site)) != 0) {
        log_msg(LOG_ERR, "vebus: site model: %s", strerror(-rc));
    } else if ((rc = emu_port_open_pty(e->o.pty, &e->port)) != 0) {
        log_msg(LOG_ERR, "vebus: cannot create %s: %s", e->o.pty, strerror(-rc));
    } else if ((rc = pthread_create(&th, NULL, vbe_thread, e)) != 0) {
        log_msg(LOG_ERR, "vebus: thread: %s", strerror(rc));
    } else {
        printf("ready %s\n", emu_port_name(e->port));
        fflush(stdout);
        status = 0;
        while (!atomic_load(&e->stop)) {
            struct timespec ts = {.tv_sec = 0, .tv_nsec = 100000000L};
            int sig = sigtimedwait(&sigs, NULL, &ts);
            if (sig == SIGUSR2) {
                int was = atomic_fetch_xor(&e->grid, 1);
                log_msg(LOG_INFO, "SIGUSR2: grid %s", was ? "lost" : "back");
            } else if (sig == SIGUSR1) {
                int was = atomic_fetch_xor(&e->silent, 1);
                log_msg(LOG_INFO, "SIGUSR1: MK2 %s", was ? "back" : "silent");
            } else if (sig > 0) {
                atomic_store(&e->stop, true);
            }
        }
        pthread_join(th, NULL);
    }
    emu_port_free(e->port);
    emu_site_free(e->site);
    free(e);
    return status;
}
