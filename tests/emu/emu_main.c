/* emu_main: the sitewatch-emu command line: one VE.Direct device or a whole site, and signals. */
#include "core/log.h"
#include "core/util.h"
#include "emu.h"
#include "emu_modem.h"
#include "emu_port.h"
#include "emu_site.h"
#include "emu_sunspec.h"
#include "emu_vebus.h"
#include "emu_ved_kinds.h"
#include "emu_vedirect.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EMU_MAX_BMV 8
#define EMU_MAX_DEVICES (EMU_MAX_BMV + EMU_SITE_MAX_MPPT)
#define EMU_THREAD_STACK (512u * 1024u)
#define EMU_SIGNAL_POLL_NS 100000000L

/* The MPPTs of a site, in turn: mppt1 is a 100/30 with 400 W, mppt2 a 150/35 with 600 W, ... */
static const struct {
    uint16_t pid;
    const char *model;
    struct emu_site_mppt_conf phys;
} site_mppts[] = {
    {0xA056, "SmartSolar Charger MPPT 100/30", {.peak_w = 400, .max_a = 30, .vmp_v = 62}},
    {0xA058, "SmartSolar Charger MPPT 150/35", {.peak_w = 600, .max_a = 35, .vmp_v = 93}},
};

enum emu_mode {
    EMU_MODE_VEDIRECT,
    EMU_MODE_SITE,
};

struct emu_opts {
    enum emu_mode mode;
    const char *pty;
    const char *tcp;
    const char *dir;
    const struct emu_kind *kind;
    uint16_t pid;
    const char *serial;
    const char *fw;
    const char *replay;
    double speed;
    double start_hour; /* < 0: local time of day (refused under SITEWATCH_TEST=1) */
    uint64_t seed;
    double pv_peak; /* <= 0: defaults */
    enum emu_fault fault;
    long fault_after;
    long blocks;
    bool async;
    bool log_hex;
    long n_mppt;
    long n_bmv;
};

struct emu_slot {
    char name[32];
    struct emu_port *port;
    struct emu_ved *ved;
    pthread_t thread;
    bool started;
    atomic_bool done;
    int rc;
};

enum {
    OPT_PTY = 256,
    OPT_TCP,
    OPT_DIR,
    OPT_KIND,
    OPT_PID,
    OPT_SERIAL,
    OPT_FW,
    OPT_REPLAY,
    OPT_SPEED,
    OPT_START_HOUR,
    OPT_SEED,
    OPT_PV_PEAK,
    OPT_FAULT,
    OPT_FAULT_AFTER,
    OPT_BLOCKS,
    OPT_NO_ASYNC,
    OPT_LOG_HEX,
    OPT_MPPT,
    OPT_BMV,
};

static const struct option long_opts[] = {
    {"pty",         required_argument, NULL, OPT_PTY        },
    {"tcp",         required_argument, NULL, OPT_TCP        },
    {"dir",         required_argument, NULL, OPT_DIR        },
    {"kind",        required_argument, NULL, OPT_KIND       },
    {"pid",         required_argument, NULL, OPT_PID        },
    {"serial",      required_argument, NULL, OPT_SERIAL     },
    {"fw",          required_argument, NULL, OPT_FW         },
    {"replay",      required_argument, NULL, OPT_REPLAY     },
    {"speed",       required_argument, NULL, OPT_SPEED      },
    {"start-hour",  required_argument, NULL, OPT_START_HOUR },
    {"seed",        required_argument, NULL, OPT_SEED       },
    {"pv-peak",     required_argument, NULL, OPT_PV_PEAK    },
    {"fault",       required_argument, NULL, OPT_FAULT      },
    {"fault-after", required_argument, NULL, OPT_FAULT_AFTER},
    {"blocks",      required_argument, NULL, OPT_BLOCKS     },
    {"no-async",    no_argument,       NULL, OPT_NO_ASYNC   },
    {"log-hex",     no_argument,       NULL, OPT_LOG_HEX    },
    {"mppt",        required_argument, NULL, OPT_MPPT       },
    {"bmv",         required_argument, NULL, OPT_BMV        },
    {"help",        no_argument,       NULL, 'h'            },
    {NULL,          0,                 NULL, 0              },
};

static void usage(FILE *f)
{
    fprintf(f, "usage: sitewatch-emu vedirect (--pty PATH | --tcp 127.0.0.1:PORT) [options]\n"
               "       sitewatch-emu site --dir DIR [--mppt N] [--bmv N] [options]\n"
               "       sitewatch-emu modem --pty PATH [--log FILE] [--fail N]   (GSM modem, SMS)\n"
               "       sitewatch-emu sunspec --listen 127.0.0.1:PORT ...  (SunSpec, see --help)\n"
               "\n"
               "vedirect plays one VE.Direct device; site plays a BMV-712 at DIR/bmv and MPPTs at\n"
               "DIR/mppt1 (100/30, 400 W), DIR/mppt2 (150/35, 600 W), ... from one shared model.\n"
               "\n"
               "  --pty PATH            pty behind the symlink PATH (19200 8N1, raw)\n"
               "  --tcp HOST:PORT       listen on loopback TCP instead (PORT 0: pick a free one)\n"
               "  --kind KIND           ");
    for (size_t i = 0; emu_kind_at(i); i++)
        fprintf(f, "%s%s", i ? "|" : "", emu_kind_at(i)->name);
    fprintf(f, " (default bmv712)\n"
               "  --pid 0xA053          product id override\n"
               "  --serial HQ...        serial number (default: made up from seed and name)\n"
               "  --fw TEXT             firmware text (FW 0416 / 161, FWE 0342FF)\n"
               "  --replay FILE         replay a capture byte for byte, paced, in a loop\n"
               "  --speed X             simulated time runs X times the wall clock (default 1)\n"
               "  --start-hour H        simulated time of day at start (default: local time;\n"
               "                        required when SITEWATCH_TEST=1, as under the tests)\n"
               "  --seed N              model and fault randomness (default 1)\n"
               "  --pv-peak W           PV peak power of the MPPT(s) (default 400 / 600)\n"
               "  --fault none|garbage|silence|corrupt\n"
               "  --fault-after N       blocks sent normally before the fault starts (default 0)\n"
               "  --blocks N            stop after N text blocks\n"
               "  --no-async            no unsolicited :A history frames from MPPTs\n"
               "  --log-hex             log HEX traffic to stderr\n"
               "  --mppt N, --bmv N     site size (default 2 and 1)\n"
               "\n"
               "Prints 'ready ENDPOINT' per device (and 'ready site') once the endpoints exist.\n"
               "SIGUSR1 toggles silence; SIGINT/SIGTERM remove the symlinks and exit.\n");
}

static int opt_long(const char *name, const char *s, long min, long max, long *out)
{
    if (util_parse_long(s, 0, min, max, out) != 0) {
        log_msg(LOG_ERR, "--%s: '%s' is not a whole number in %ld..%ld", name, s, min, max);
        return -EINVAL;
    }
    return 0;
}

static int opt_double(const char *name, const char *s, double min, double max, double *out)
{
    if (util_parse_double(s, min, max, out) != 0) {
        log_msg(LOG_ERR, "--%s: '%s' is not a number in %g..%g", name, s, min, max);
        return -EINVAL;
    }
    return 0;
}

static int opt_pid(const char *s, uint16_t *out)
{
    long v;
    const char *digits = (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ? s + 2 : s;
    if (util_parse_long(digits, 16, 1, 0xFFFF, &v) != 0) {
        log_msg(LOG_ERR, "--pid: '%s' is not a product id like 0xA053", s);
        return -EINVAL;
    }
    *out = (uint16_t)v;
    return 0;
}

static int parse_opt(struct emu_opts *o, int c, const char *arg)
{
    long l;
    int rc = 0;
    switch (c) {
    case OPT_PTY:
        o->pty = arg;
        break;
    case OPT_TCP:
        o->tcp = arg;
        break;
    case OPT_DIR:
        o->dir = arg;
        break;
    case OPT_KIND:
        o->kind = emu_kind_find(arg);
        if (!o->kind) {
            log_msg(LOG_ERR, "--kind: unknown kind '%s'", arg);
            rc = -EINVAL;
        }
        break;
    case OPT_PID:
        rc = opt_pid(arg, &o->pid);
        break;
    case OPT_SERIAL:
        o->serial = arg;
        break;
    case OPT_FW:
        o->fw = arg;
        break;
    case OPT_REPLAY:
        o->replay = arg;
        break;
    case OPT_SPEED:
        rc = opt_double("speed", arg, 0.001, 1e6, &o->speed);
        break;
    case OPT_START_HOUR:
        rc = opt_double("start-hour", arg, 0, 23.9999, &o->start_hour);
        break;
    case OPT_SEED:
        if ((rc = opt_long("seed", arg, 0, LONG_MAX, &l)) == 0)
            o->seed = (uint64_t)l;
        break;
    case OPT_PV_PEAK:
        rc = opt_double("pv-peak", arg, 0, 100000, &o->pv_peak);
        break;
    case OPT_FAULT:
        if ((rc = emu_fault_parse(arg, &o->fault)) != 0)
            log_msg(LOG_ERR, "--fault: unknown fault '%s'", arg);
        break;
    case OPT_FAULT_AFTER:
        rc = opt_long("fault-after", arg, 0, LONG_MAX, &o->fault_after);
        break;
    case OPT_BLOCKS:
        rc = opt_long("blocks", arg, 0, LONG_MAX, &o->blocks);
        break;
    case OPT_NO_ASYNC:
        o->async = false;
        break;
    case OPT_LOG_HEX:
        o->log_hex = true;
        break;
    case OPT_MPPT:
        rc = opt_long("mppt", arg, 0, EMU_SITE_MAX_MPPT, &o->n_mppt);
        break;
    case OPT_BMV:
        rc = opt_long("bmv", arg, 0, EMU_MAX_BMV, &o->n_bmv);
        break;
    default:
        rc = -EINVAL;
        break;
    }
    return rc;
}

/* 0, 1 (help shown) or -EINVAL. */
static int parse_args(int argc, char **argv, struct emu_opts *o)
{
    *o = (struct emu_opts){
        .speed = 1.0,
        .start_hour = -1.0,
        .seed = 1,
        .async = true,
        .n_mppt = 2,
        .n_bmv = 1,
    };
    if (argc < 2) {
        usage(stderr);
        return -EINVAL;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 1;
    }
    if (strcmp(argv[1], "vedirect") == 0) {
        o->mode = EMU_MODE_VEDIRECT;
    } else if (strcmp(argv[1], "site") == 0) {
        o->mode = EMU_MODE_SITE;
    } else {
        log_msg(LOG_ERR, "unknown command '%s' (vedirect or site)", argv[1]);
        return -EINVAL;
    }
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return 1;
        }
        if (parse_opt(o, c, optarg) != 0)
            return -EINVAL;
    }
    if (optind < argc) {
        log_msg(LOG_ERR, "unexpected argument '%s'", argv[optind]);
        return -EINVAL;
    }
    if (o->mode == EMU_MODE_VEDIRECT && (!o->pty == !o->tcp)) {
        log_msg(LOG_ERR, "vedirect needs exactly one of --pty PATH or --tcp 127.0.0.1:PORT");
        return -EINVAL;
    }
    if (o->mode == EMU_MODE_SITE && (!o->dir || o->pty || o->tcp || o->replay)) {
        log_msg(LOG_ERR, "site needs --dir DIR (and takes no --pty, --tcp or --replay)");
        return -EINVAL;
    }
    if (o->mode == EMU_MODE_SITE && o->n_mppt + o->n_bmv == 0) {
        log_msg(LOG_ERR, "site: no devices (--mppt 0 --bmv 0)");
        return -EINVAL;
    }
    return 0;
}

/* 0 or -EINVAL (no --start-hour under SITEWATCH_TEST=1). */
static int site_conf(const struct emu_opts *o, struct emu_site_conf *c)
{
    emu_site_conf_defaults(c);
    c->seed = o->seed;
    c->speed = o->speed;
    int rc = emu_site_conf_start_hour(c, o->start_hour);
    if (rc != 0)
        return rc;
    if (o->mode == EMU_MODE_SITE)
        c->n_mppt = (size_t)o->n_mppt;
    for (size_t i = 0; i < c->n_mppt; i++) {
        c->mppt[i] = site_mppts[i % UTIL_ARRAY_SIZE(site_mppts)].phys;
        /* site: every MPPT; a single device: the one it shows (MPPT 0) */
        if (o->pv_peak > 0 && (o->mode == EMU_MODE_SITE || i == 0))
            c->mppt[i].peak_w = o->pv_peak;
    }
    const struct emu_kind *k = o->kind;
    c->has_charger = k && k->role == EMU_ROLE_CHARGER;
    c->has_dcdc = k && k->role == EMU_ROLE_DCDC;
    return 0;
}

static struct emu_ved_conf ved_conf(const struct emu_opts *o, const char *name)
{
    return (struct emu_ved_conf){
        .name = name,
        .kind = o->kind,
        .pid = o->pid,
        .serial = o->serial,
        .fw = o->fw,
        .replay_path = o->replay,
        .fault = o->fault,
        .fault_after = o->fault_after,
        .blocks = o->blocks,
        .async = o->async,
        .log_hex = o->log_hex,
        .seed = o->seed,
    };
}

/* Opens the endpoint and creates the device of slot s. */
static int slot_open(struct emu_slot *s, const char *pty, const char *tcp,
                     const struct emu_ved_conf *vc, struct emu_site *site, struct emu_ctl *ctl)
{
    int rc = pty ? emu_port_open_pty(pty, &s->port) : emu_port_open_tcp(tcp, &s->port);
    if (rc != 0)
        return rc;
    return emu_ved_new(vc, site, s->port, ctl, &s->ved);
}

/* Builds the devices: one for vedirect, the BMVs then the MPPTs for site. Returns the count or
 * -errno. */
static int build(const struct emu_opts *o, struct emu_site *site, struct emu_ctl *ctl,
                 struct emu_slot *slots)
{
    char path[PATH_MAX];
    if (o->mode == EMU_MODE_VEDIRECT) {
        const char *base = o->pty ? strrchr(o->pty, '/') : NULL;
        util_strlcpy(slots[0].name,
                     base     ? base + 1
                     : o->pty ? o->pty
                              : "vedirect",
                     sizeof(slots[0].name));
        struct emu_ved_conf vc = ved_conf(o, slots[0].name);
        if (!vc.kind && !o->replay)
            vc.kind = emu_kind_find("bmv712");
        int rc = slot_open(&slots[0], o->pty, o->tcp, &vc, site, ctl);
        return rc != 0 ? rc : 1;
    }
    int rc = util_mkdirs(o->dir, 0755);
    if (rc != 0) {
        log_msg(LOG_ERR, "cannot create %s: %s", o->dir, strerror(-rc));
        return rc;
    }
    size_t n = 0;
    for (long b = 0; b < o->n_bmv; b++, n++) {
        if (b == 0)
            util_strlcpy(slots[n].name, "bmv", sizeof(slots[n].name));
        else if (util_snprintf(slots[n].name, sizeof(slots[n].name), "bmv%ld", b + 1) != 0)
            return -ENAMETOOLONG;
        struct emu_ved_conf vc = ved_conf(o, slots[n].name);
        vc.kind = emu_kind_find("bmv712");
        vc.serial = NULL;
        vc.pid = 0;
        vc.fw = NULL;
        if (util_snprintf(path, sizeof(path), "%s/%s", o->dir, slots[n].name) != 0)
            return -ENAMETOOLONG;
        if ((rc = slot_open(&slots[n], path, NULL, &vc, site, ctl)) != 0)
            return rc;
    }
    for (long m = 0; m < o->n_mppt; m++, n++) {
        if (util_snprintf(slots[n].name, sizeof(slots[n].name), "mppt%ld", m + 1) != 0)
            return -ENAMETOOLONG;
        struct emu_ved_conf vc = ved_conf(o, slots[n].name);
        vc.kind = emu_kind_find("mppt");
        vc.index = (size_t)m;
        vc.pid = site_mppts[(size_t)m % UTIL_ARRAY_SIZE(site_mppts)].pid;
        vc.model = site_mppts[(size_t)m % UTIL_ARRAY_SIZE(site_mppts)].model;
        vc.serial = NULL;
        vc.fw = NULL;
        if (util_snprintf(path, sizeof(path), "%s/%s", o->dir, slots[n].name) != 0)
            return -ENAMETOOLONG;
        if ((rc = slot_open(&slots[n], path, NULL, &vc, site, ctl)) != 0)
            return rc;
    }
    return (int)n;
}

static void *slot_thread(void *arg)
{
    struct emu_slot *s = arg;
    s->rc = emu_ved_run(s->ved);
    atomic_store(&s->done, true);
    return NULL;
}

static int start_threads(struct emu_slot *slots, int n)
{
    pthread_attr_t attr;
    int rc = pthread_attr_init(&attr);
    if (rc != 0)
        return -rc;
    rc = pthread_attr_setstacksize(&attr, EMU_THREAD_STACK);
    for (int i = 0; i < n && rc == 0; i++) {
        rc = pthread_create(&slots[i].thread, &attr, slot_thread, &slots[i]);
        slots[i].started = rc == 0;
    }
    pthread_attr_destroy(&attr);
    return -rc;
}

/* Waits for the devices to finish, turning signals into run-control flags. Only this thread
 * takes signals: all of them are blocked everywhere and fetched with sigtimedwait. */
static void wait_devices(struct emu_slot *slots, int n, struct emu_ctl *ctl, const sigset_t *set)
{
    for (;;) {
        int running = 0;
        for (int i = 0; i < n; i++)
            running += slots[i].started && !atomic_load(&slots[i].done);
        if (running == 0)
            return;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = EMU_SIGNAL_POLL_NS};
        int sig = sigtimedwait(set, NULL, &ts);
        if (sig == SIGUSR1) {
            int was = atomic_fetch_xor(&ctl->silence, 1);
            log_msg(LOG_INFO, "SIGUSR1: text output %s", was & 1 ? "resumed" : "silenced");
        } else if (sig > 0) {
            atomic_store(&ctl->stop, true);
        }
    }
}

static int run(const struct emu_opts *o, const sigset_t *set)
{
    struct emu_ctl ctl;
    atomic_init(&ctl.stop, false);
    atomic_init(&ctl.silence, 0);
    struct emu_site_conf sc;
    if (site_conf(o, &sc) != 0)
        return 2;
    struct emu_site *site;
    int rc = emu_site_new(&sc, &site);
    if (rc != 0) {
        log_msg(LOG_ERR, "cannot create the site model: %s", strerror(-rc));
        return 1;
    }
    struct emu_slot *slots = xcalloc(EMU_MAX_DEVICES, sizeof(*slots));
    for (int i = 0; i < EMU_MAX_DEVICES; i++)
        atomic_init(&slots[i].done, false);
    int n = build(o, site, &ctl, slots);
    int status = n > 0 ? 0 : 1;
    if (n > 0) {
        for (int i = 0; i < n; i++)
            printf("ready %s\n", emu_port_name(slots[i].port));
        if (o->mode == EMU_MODE_SITE)
            printf("ready site\n");
        fflush(stdout);
        rc = start_threads(slots, n);
        if (rc != 0) {
            log_msg(LOG_ERR, "cannot start device threads: %s", strerror(-rc));
            atomic_store(&ctl.stop, true);
            status = 1;
        }
        wait_devices(slots, n, &ctl, set);
    }
    for (int i = 0; i < EMU_MAX_DEVICES; i++) {
        if (slots[i].started && pthread_join(slots[i].thread, NULL) != 0)
            status = 1;
        if (slots[i].rc != 0)
            status = 1;
        emu_ved_free(slots[i].ved);
        emu_port_free(slots[i].port);
    }
    free(slots);
    emu_site_free(site);
    return status;
}

int main(int argc, char **argv)
{
    /* Block the signals first, so that a test's SIGTERM right after "ready" still leads to a
     * clean exit that removes the symlinks. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
        return 1;
    struct sigaction ign = {.sa_handler = SIG_IGN};
    if (sigaction(SIGPIPE, &ign, NULL) != 0)
        return 1;
    log_init("sitewatch-emu", LOG_INFO, false);

    if (argc >= 2 && strcmp(argv[1], "sunspec") == 0)
        exit(emu_sunspec_main(argc - 1, argv + 1, &set));
    if (argc >= 2 && strcmp(argv[1], "modem") == 0)
        exit(emu_modem_main(argc - 1, argv + 1, &set));
    if (argc >= 2 && strcmp(argv[1], "vebus") == 0)
        exit(emu_vebus_main(argc - 1, argv + 1, &set));
    struct emu_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc != 0)
        exit(rc > 0 ? 0 : 2);
    exit(run(&o, &set));
}
