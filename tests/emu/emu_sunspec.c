/* emu_sunspec: the sunspec subcommand of sitewatch-emu: options, the libmodbus server loop over
 * every client, the fault modes (stop, delay, rst, exception, garbage, night) and what a unit id
 * nobody serves gets (--unknown-unit). */
#include "emu_sunspec.h"

#include "core/log.h"
#include "core/util.h"
#include "drivers/sunspec_proto.h"
#include "emu_site.h"
#include "emu_sunspec_model.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <modbus.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define EMU_SS_UNITS_MAX 128
#define EMU_SS_CLIENTS_MAX 256
#define EMU_SS_SELECT_US 100000

enum emu_ss_fault {
    EMU_SS_NONE,
    EMU_SS_STOP,      /* requests read, never answered: a half-open link */
    EMU_SS_DELAY,     /* answers after --delay ms */
    EMU_SS_RST,       /* the connection is reset (SO_LINGER 0) on every request */
    EMU_SS_EXCEPTION, /* exception 4 (server device failure) to every request */
    EMU_SS_GARBAGE,   /* bytes that are no Modbus reply */
    EMU_SS_NIGHT,     /* the inverter model is the Fronius null frame */
};
static const char *const emu_ss_fault_names[] = {"none",      "stop",    "delay", "rst",
                                                 "exception", "garbage", "night"};

/* What a request for a unit id nobody serves gets. Real servers differ: a data manager answers
 * exception 0x0B (gateway target failed to respond), some gateways and devices close or reset
 * the TCP connection, others never answer (issue 14). */
enum emu_ss_unknown {
    EMU_SS_UNKNOWN_EXCEPTION, /* exception 0x0B, the connection stays */
    EMU_SS_UNKNOWN_RESET,     /* the connection is reset (RST) */
    EMU_SS_UNKNOWN_CLOSE,     /* the connection is closed (FIN: the client reads end of file) */
    EMU_SS_UNKNOWN_SILENT,    /* the request is read and never answered */
};
static const char *const emu_ss_unknown_names[] = {"exception", "reset", "close", "silent"};

struct emu_ss {
    const struct emu_ss_kind *kind; /* NULL: dump */
    struct sunspec_image dump;
    uint32_t base;
    struct emu_ss_inv inv[EMU_SS_UNITS_MAX];
    size_t ninv;
    enum emu_ss_fault fault;
    enum emu_ss_unknown unknown_unit;
    bool fault_on;
    long delay_ms;
    struct emu_site *site;
    uint16_t img[EMU_SS_IMAGE_MAX];
    unsigned long long requests, registers; /* served, for benchmarks (SIGUSR2 logs them) */
};

static void emu_ss_usage(FILE *f)
{
    fprintf(
        f, "usage: sitewatch-emu sunspec --listen 127.0.0.1:PORT (0 = pick)\n"
           "         [--dump FILE | --model fronius-float|fronius-int|sma|three-phase]\n"
           "         [--units 1,2,3 | 1-100] [--base 40000|50000|0] [--start-hour H (local time)]\n"
           "         [--fault none|stop|delay|rst|exception|garbage|night] [--fault-idle]\n"
           "         [--delay MS] [--unknown-unit exception|reset|close|silent]\n"
           "Prints \"ready 127.0.0.1:<port>\". SIGUSR1 toggles the fault on and off, SIGUSR2 logs\n"
           "the number of requests and registers served. --unknown-unit: what a request for a\n"
           "unit id not served gets (default exception 0x0B, like a data manager).\n");
}

/* "1,2,3" or "1-100" → unit ids. */
static int emu_ss_units(const char *s, int *units, size_t *n)
{
    *n = 0;
    while (*s) {
        size_t len = strcspn(s, ",");
        char tok[16];
        if (len == 0 || len >= sizeof(tok))
            return -EINVAL;
        memcpy(tok, s, len);
        tok[len] = '\0';
        char *dash = strchr(tok, '-');
        long a, b;
        if (dash) {
            *dash = '\0';
            if (util_parse_long(tok, 10, 1, 247, &a) || util_parse_long(dash + 1, 10, a, 247, &b))
                return -EINVAL;
        } else if (util_parse_long(tok, 10, 1, 247, &a) == 0) {
            b = a;
        } else {
            return -EINVAL;
        }
        for (long u = a; u <= b; u++) {
            if (*n == EMU_SS_UNITS_MAX)
                return -E2BIG;
            units[(*n)++] = (int)u;
        }
        s += len;
        if (*s == ',')
            s++;
    }
    return *n ? 0 : -EINVAL;
}

static struct emu_ss_inv *emu_ss_unit(struct emu_ss *e, int unit)
{
    for (size_t i = 0; i < e->ninv; i++)
        if (e->inv[i].unit == unit)
            return &e->inv[i];
    return NULL;
}

/* True when unit is served: one of the inverters, or SMA's proprietary unit 3. */
static bool emu_ss_serves(const struct emu_ss *e, int unit)
{
    for (size_t i = 0; i < e->ninv; i++)
        if (e->inv[i].unit == unit)
            return true;
    return e->kind && emu_ss_kind_sma(e->kind) && unit == 3 && e->ninv > 0;
}

static double emu_ss_now(void)
{
    return (double)util_mono_ms() / 1000.0;
}

/* Reads n registers at addr of unit into out: 0 or a Modbus exception code. */
static int emu_ss_regs(struct emu_ss *e, int unit, uint32_t addr, uint16_t n, uint16_t *out)
{
    struct emu_ss_inv *inv = emu_ss_unit(e, unit);
    if (!inv && e->kind && emu_ss_kind_sma(e->kind) && unit == 3 && e->ninv > 0) {
        /* SMA's proprietary profile of the first inverter on unit 3 (protocols.md §4.4) */
        for (uint16_t i = 0; i < n; i++)
            if (emu_ss_sma_reg(&e->inv[0], addr + i, &out[i]) != 0)
                return MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS;
        return 0;
    }
    if (!inv)
        return MODBUS_EXCEPTION_GATEWAY_TARGET; /* a data manager: no such inverter */
    if (!e->kind) {
        int r = sunspec_image_read(&e->dump, addr, n, out);
        return r == 0 ? 0 : MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS;
    }
    size_t len;
    bool night = e->fault_on && e->fault == EMU_SS_NIGHT;
    emu_ss_build(inv, emu_site_sun(e->site), emu_ss_now(), night, e->img, &len);
    /* SMA answers the end-model read with an error (dbus-fronius sunspec_detector.cpp) */
    if (!emu_ss_serves_end(e->kind))
        len -= 2;
    if (addr < e->base || addr + n > e->base + len)
        return MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS;
    memcpy(out, e->img + (addr - e->base), n * sizeof(*out));
    return 0;
}

static void emu_ss_reset(int fd)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd);
}

enum { EMU_SS_KEEP, EMU_SS_CLOSE, EMU_SS_GONE };

/* Answers one request: EMU_SS_KEEP, EMU_SS_CLOSE (drop the connection) or EMU_SS_GONE (reset). */
static int emu_ss_request(struct emu_ss *e, modbus_t *mb, int fd, const uint8_t *req, int len)
{
    if (len < 8)
        return EMU_SS_CLOSE;
    if (e->fault_on) {
        switch (e->fault) {
        case EMU_SS_STOP:
            return EMU_SS_KEEP;
        case EMU_SS_RST:
            emu_ss_reset(fd);
            return EMU_SS_GONE;
        case EMU_SS_EXCEPTION:
            modbus_reply_exception(mb, req, MODBUS_EXCEPTION_SLAVE_OR_SERVER_FAILURE);
            return EMU_SS_KEEP;
        case EMU_SS_GARBAGE: {
            /* a well-framed reply of another transaction with junk inside */
            uint8_t junk[] = {0xDE, 0xAD, 0x00, 0x00, 0x00, 0x07, req[6],
                              0x03, 0x04, 0x13, 0x37, 0x00, 0x42};
            return write(fd, junk, sizeof(junk)) == (ssize_t)sizeof(junk) ? EMU_SS_KEEP
                                                                          : EMU_SS_CLOSE;
        }
        case EMU_SS_DELAY:
            util_sleep_ms(e->delay_ms);
            break;
        default:
            break;
        }
    }
    int unit = req[6], fn = req[7];
    if (!emu_ss_serves(e, unit)) {
        switch (e->unknown_unit) {
        case EMU_SS_UNKNOWN_RESET:
            emu_ss_reset(fd);
            return EMU_SS_GONE;
        case EMU_SS_UNKNOWN_CLOSE:
            return EMU_SS_CLOSE;
        case EMU_SS_UNKNOWN_SILENT:
            return EMU_SS_KEEP;
        case EMU_SS_UNKNOWN_EXCEPTION:
            modbus_reply_exception(mb, req, MODBUS_EXCEPTION_GATEWAY_TARGET);
            return EMU_SS_KEEP;
        }
    }
    if ((fn != MODBUS_FC_READ_HOLDING_REGISTERS && fn != MODBUS_FC_READ_INPUT_REGISTERS) ||
        len < 12) {
        modbus_reply_exception(mb, req, MODBUS_EXCEPTION_ILLEGAL_FUNCTION);
        return EMU_SS_KEEP;
    }
    uint32_t addr = (uint32_t)req[8] << 8 | req[9];
    uint16_t n = (uint16_t)(req[10] << 8 | req[11]);
    uint16_t regs[MODBUS_MAX_READ_REGISTERS];
    int exc = n == 0 || n > MODBUS_MAX_READ_REGISTERS ? MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE
                                                      : emu_ss_regs(e, unit, addr, n, regs);
    if (exc) {
        modbus_reply_exception(mb, req, (unsigned)exc);
        return EMU_SS_KEEP;
    }
    /* a mapping of exactly the requested registers lets libmodbus frame the reply */
    modbus_mapping_t *map = modbus_mapping_new_start_address(0, 0, 0, 0, addr, n, addr, n);
    if (!map)
        return EMU_SS_CLOSE;
    e->requests++;
    e->registers += n;
    memcpy(map->tab_registers, regs, n * sizeof(*regs));
    memcpy(map->tab_input_registers, regs, n * sizeof(*regs));
    modbus_set_slave(mb, unit);
    int r = modbus_reply(mb, req, len, map);
    modbus_mapping_free(map);
    return r >= 0 ? EMU_SS_KEEP : EMU_SS_CLOSE;
}

static int emu_ss_listen(const char *spec, int *port_out)
{
    char host[64];
    int port;
    if (util_parse_hostport(spec, host, sizeof(host), &port) != 0)
        return -EINVAL;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return -EINVAL;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    socklen_t sl = sizeof(sa);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    *port_out = ntohs(sa.sin_port);
    return fd;
}

/* SIGINT/SIGTERM → true; SIGUSR1 toggles the fault. */
static bool emu_ss_signals(struct emu_ss *e, const sigset_t *set)
{
    struct timespec zero = {0, 0};
    int sig;
    while ((sig = sigtimedwait(set, NULL, &zero)) > 0) {
        if (sig == SIGUSR2) {
            log_msg(LOG_NOTICE, "served %llu requests, %llu registers", e->requests, e->registers);
        } else if (sig == SIGUSR1) {
            e->fault_on = !e->fault_on;
            log_msg(LOG_INFO, "fault %s %s", emu_ss_fault_names[e->fault],
                    e->fault_on ? "on" : "off");
        } else if (sig == SIGINT || sig == SIGTERM) {
            return true;
        }
    }
    return false;
}

static int emu_ss_serve(struct emu_ss *e, int lfd, const sigset_t *set)
{
    modbus_t *mb = modbus_new_tcp("127.0.0.1", 502); /* framing only: sockets are ours */
    if (!mb)
        return 1;
    int clients[EMU_SS_CLIENTS_MAX];
    size_t nc = 0;
    uint8_t req[MODBUS_TCP_MAX_ADU_LENGTH];
    while (!emu_ss_signals(e, set)) {
        fd_set rd;
        FD_ZERO(&rd);
        FD_SET(lfd, &rd);
        int maxfd = lfd;
        for (size_t i = 0; i < nc; i++) {
            FD_SET(clients[i], &rd);
            maxfd = clients[i] > maxfd ? clients[i] : maxfd;
        }
        struct timeval tv = {0, EMU_SS_SELECT_US};
        int r = select(maxfd + 1, &rd, NULL, NULL, &tv);
        if (r < 0 && errno != EINTR)
            break;
        if (r <= 0)
            continue;
        if (FD_ISSET(lfd, &rd)) {
            int fd = accept(lfd, NULL, NULL);
            if (fd >= 0 && (nc == EMU_SS_CLIENTS_MAX || fd >= FD_SETSIZE))
                close(fd);
            else if (fd >= 0)
                clients[nc++] = fd;
        }
        for (size_t i = 0; i < nc;) {
            int fd = clients[i];
            bool keep = true;
            if (FD_ISSET(fd, &rd)) {
                modbus_set_socket(mb, fd);
                int len = modbus_receive(mb, req);
                int st = len < 0   ? EMU_SS_CLOSE
                         : len > 0 ? emu_ss_request(e, mb, fd, req, len)
                                   : EMU_SS_KEEP;
                if (st == EMU_SS_CLOSE)
                    close(fd);
                keep = st == EMU_SS_KEEP;
            }
            if (keep)
                i++;
            else
                clients[i] = clients[--nc];
        }
    }
    for (size_t i = 0; i < nc; i++)
        close(clients[i]);
    modbus_free(mb);
    return 0;
}

static int emu_ss_parse(struct emu_ss *e, int argc, char **argv, const char **listen_spec,
                        double *start_hour)
{
    enum {
        O_LISTEN = 256,
        O_DUMP,
        O_MODEL,
        O_UNITS,
        O_BASE,
        O_FAULT,
        O_IDLE,
        O_DELAY,
        O_HOUR,
        O_UNKNOWN
    };
    static const struct option opts[] = {
        {"listen",           required_argument, NULL, O_LISTEN},
        {"dump",              required_argument, NULL, O_DUMP},
        {"model",                  required_argument, NULL, O_MODEL},
        {"units",required_argument, NULL, O_UNITS},
        {"base",            required_argument, NULL, O_BASE},
        {"fault",            required_argument, NULL, O_FAULT},
        {"fault-idle",              no_argument, NULL, O_IDLE},
        {"delay",                  required_argument, NULL, O_DELAY},
        {"start-hour",              required_argument, NULL, O_HOUR},
        {"unknown-unit",           required_argument, NULL, O_UNKNOWN},
        {"help",             no_argument, NULL, 'h'},
        {0             },
    };
    const char *dump = NULL, *model = NULL, *units = NULL;
    long base = 40000;
    bool idle = false;
    int c;
    optind = 1;
    e->delay_ms = 3000;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case O_LISTEN:
            *listen_spec = optarg;
            break;
        case O_DUMP:
            dump = optarg;
            break;
        case O_MODEL:
            model = optarg;
            break;
        case O_UNITS:
            units = optarg;
            break;
        case O_BASE:
            bad = util_parse_long(optarg, 10, 0, 65000, &base) ||
                  (base != 0 && base != 40000 && base != 50000);
            break;
        case O_FAULT:
            bad = 1;
            for (size_t i = 0; i < UTIL_ARRAY_SIZE(emu_ss_fault_names); i++)
                if (strcmp(optarg, emu_ss_fault_names[i]) == 0) {
                    e->fault = (enum emu_ss_fault)i;
                    bad = 0;
                }
            break;
        case O_UNKNOWN:
            bad = 1;
            for (size_t i = 0; i < UTIL_ARRAY_SIZE(emu_ss_unknown_names); i++)
                if (strcmp(optarg, emu_ss_unknown_names[i]) == 0) {
                    e->unknown_unit = (enum emu_ss_unknown)i;
                    bad = 0;
                }
            break;
        case O_IDLE:
            idle = true;
            break;
        case O_DELAY:
            bad = util_parse_long(optarg, 10, 0, 600000, &e->delay_ms);
            break;
        case O_HOUR:
            bad = util_parse_double(optarg, 0, 24, start_hour);
            break;
        case 'h':
            emu_ss_usage(stdout);
            return 1;
        default:
            bad = 1;
        }
        if (bad) {
            emu_ss_usage(stderr);
            return -EINVAL;
        }
    }
    if (!*listen_spec || (!dump == !model) || optind < argc) {
        emu_ss_usage(stderr);
        return -EINVAL;
    }
    e->fault_on = e->fault != EMU_SS_NONE && !idle;
    if (model && !(e->kind = emu_ss_kind_find(model))) {
        log_msg(LOG_ERR, "unknown --model '%s'", model);
        return -EINVAL;
    }
    e->base = (uint32_t)base;
    if (dump) {
        char *text;
        size_t len;
        int r = util_read_file(dump, 4u << 20, &text, &len);
        if (r == 0) {
            r = sunspec_image_parse(text, len, &e->dump);
            free(text);
        }
        if (r != 0) {
            log_msg(LOG_ERR, "%s: cannot read a register dump: %s", dump, strerror(-r));
            return r;
        }
        e->base = e->dump.base;
    }
    int ids[EMU_SS_UNITS_MAX];
    size_t n = 1;
    ids[0] = e->kind ? emu_ss_kind_default_unit(e->kind) : 126;
    if (units && emu_ss_units(units, ids, &n) != 0) {
        log_msg(LOG_ERR, "bad --units '%s' (1,2,3 or 1-100, ids 1..247)", units);
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++)
        emu_ss_inv_init(&e->inv[i], e->kind, ids[i], i);
    e->ninv = n;
    return 0;
}

int emu_sunspec_main(int argc, char **argv, const sigset_t *main_set)
{
    sigset_t sigs = *main_set;
    const sigset_t *set = &sigs;
    sigaddset(&sigs, SIGUSR2); /* logs the served counters */
    if (pthread_sigmask(SIG_BLOCK, &sigs, NULL) != 0)
        return 1;
    struct emu_ss *e = xcalloc(1, sizeof(*e));
    const char *listen_spec = NULL;
    double start_hour = -1.0; /* < 0: the local time of day (refused under SITEWATCH_TEST=1) */
    int rc = emu_ss_parse(e, argc, argv, &listen_spec, &start_hour);
    if (rc == 0) {
        struct emu_site_conf sc;
        emu_site_conf_defaults(&sc);
        rc = emu_site_conf_start_hour(&sc, start_hour);
        if (rc == 0)
            rc = emu_site_new(&sc, &e->site);
    }
    int port = 0, lfd = -1;
    if (rc == 0 && (lfd = emu_ss_listen(listen_spec, &port)) < 0) {
        log_msg(LOG_ERR, "cannot listen on %s: %s", listen_spec, strerror(-lfd));
        rc = lfd;
    }
    if (rc == 0) {
        printf("ready 127.0.0.1:%d\n", port);
        fflush(stdout);
        rc = emu_ss_serve(e, lfd, set);
        close(lfd);
    }
    emu_site_free(e->site);
    sunspec_image_free(&e->dump);
    free(e);
    return rc > 0 ? 0 : rc < 0 ? 2 : 0;
}
