/* sunspec_scan: address ranges, the per-address SunSpec probe (libmodbus TCP client), and what
 * the probe and the driver share: the answers of a unit, the remembered unit. */
#include "sunspec_scan.h"

#include "core/util.h"
#include "sunspec_proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <modbus.h>
#include <stdio.h>
#include <string.h>

const int sunspec_scan_units[3] = {1, 2, 126};

/* SunSpec probes these bases in this order (protocols.md §4.1). */
static const uint32_t scan_bases[] = {40000, 50000, 0};

static const struct {
    const char *text;
    bool reconnect;
} scan_answers[SUNSPEC_ANS_MAX] = {
    [SUNSPEC_ANS_FOUND] = {"SunSpec found",    false},
    [SUNSPEC_ANS_NONE] = {"no SunSpec",       false},
    [SUNSPEC_ANS_NO_UNIT] = {"no such unit",     false},
    [SUNSPEC_ANS_EXCEPTION] = {"Modbus exception", false},
    [SUNSPEC_ANS_TIMEOUT] = {"timeout",          true },
    [SUNSPEC_ANS_RESET] = {"connection reset", true },
    [SUNSPEC_ANS_GARBAGE] = {"garbage reply",    true },
    [SUNSPEC_ANS_IO] = {"I/O error",        true },
};

/* What each error of a probe means. libmodbus reports a peer that closed the connection (read
 * returned 0) as ECONNRESET, a write to a reset one as EPIPE (it sends with MSG_NOSIGNAL). */
static const struct {
    int err;
    enum sunspec_answer answer;
} scan_errors[] = {
    {ENODEV,      SUNSPEC_ANS_NONE   },
    {EMBXILADD,   SUNSPEC_ANS_NONE   },
    {EMBMDATA,    SUNSPEC_ANS_NONE   },
    {EMBXGPATH,   SUNSPEC_ANS_NO_UNIT},
    {EMBXGTAR,    SUNSPEC_ANS_NO_UNIT},
    {ETIMEDOUT,   SUNSPEC_ANS_TIMEOUT},
    {EAGAIN,      SUNSPEC_ANS_TIMEOUT},
    {ECONNRESET,  SUNSPEC_ANS_RESET  },
    {EPIPE,       SUNSPEC_ANS_RESET  },
    {EBADF,       SUNSPEC_ANS_RESET  },
    {ENOTCONN,    SUNSPEC_ANS_RESET  },
    {EMBBADDATA,  SUNSPEC_ANS_GARBAGE},
    {EMBBADCRC,   SUNSPEC_ANS_GARBAGE},
    {EMBBADEXC,   SUNSPEC_ANS_GARBAGE},
    {EMBUNKEXC,   SUNSPEC_ANS_GARBAGE},
    {EMBBADSLAVE, SUNSPEC_ANS_GARBAGE},
};

enum sunspec_answer sunspec_answer_of(int r)
{
    if (r == 0)
        return SUNSPEC_ANS_FOUND;
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(scan_errors); i++)
        if (-r == scan_errors[i].err)
            return scan_errors[i].answer;
    if (-r >= EMBXILFUN && -r <= EMBXGTAR)
        return SUNSPEC_ANS_EXCEPTION;
    return SUNSPEC_ANS_IO;
}

const char *sunspec_answer_text(enum sunspec_answer a)
{
    return (unsigned)a < SUNSPEC_ANS_MAX ? scan_answers[a].text : "?";
}

bool sunspec_answer_reconnects(enum sunspec_answer a)
{
    return (unsigned)a < SUNSPEC_ANS_MAX && scan_answers[a].reconnect;
}

void sunspec_tried_append(char *text, size_t len, int unit, enum sunspec_answer a, int r)
{
    static const char more[] = "...";
    size_t used = strlen(text);
    if (len < sizeof(more) || used + sizeof(more) > len ||
        (used >= 3 && strcmp(text + used - 3, more) == 0))
        return;
    char entry[64];
    int code = -r - MODBUS_ENOBASE;
    if (a == SUNSPEC_ANS_NO_UNIT && code > 0 && code < 0x100)
        snprintf(entry, sizeof(entry), "%s%d: %s (exception 0x%02X)", used ? ", " : "", unit,
                 sunspec_answer_text(a), (unsigned)code);
    else if (a == SUNSPEC_ANS_EXCEPTION && code > 0 && code < 0x100)
        snprintf(entry, sizeof(entry), "%s%d: %s 0x%02X", used ? ", " : "", unit,
                 sunspec_answer_text(a), (unsigned)code);
    else
        snprintf(entry, sizeof(entry), "%s%d: %s", used ? ", " : "", unit, sunspec_answer_text(a));
    if (used + strlen(entry) + sizeof(more) <= len)
        util_strlcpy(text + used, entry, len - used);
    else
        util_strlcpy(text + used, more, len - used);
}

int sunspec_memo_format(char *buf, size_t len, const char *address, int unit)
{
    return util_snprintf(buf, len,
                         "# the unit id this device last answered SunSpec on, tried first\n"
                         "unit = %d\naddress = %s\n",
                         unit, address);
}

int sunspec_memo_parse(const char *text, const char *address, int *unit)
{
    long u = -1;
    bool same_address = false, have_address = false;
    while (*text) {
        size_t n = strcspn(text, "\n");
        char line[200];
        if (n >= sizeof(line))
            return -EINVAL;
        memcpy(line, text, n);
        line[n] = '\0';
        text += n + (text[n] == '\n');
        char *eq = strstr(line, " = ");
        if (line[0] == '#' || line[0] == '\0')
            continue;
        if (!eq)
            return -EINVAL;
        *eq = '\0';
        const char *value = eq + 3;
        if (strcmp(line, "unit") == 0) {
            if (util_parse_long(value, 10, 1, 247, &u) != 0)
                return -EINVAL;
        } else if (strcmp(line, "address") == 0) {
            have_address = true;
            same_address = strcmp(value, address) == 0;
        } else {
            return -EINVAL;
        }
    }
    if (u < 0 || !have_address)
        return -EINVAL;
    if (!same_address)
        return -ESRCH;
    *unit = (int)u;
    return 0;
}

bool sunspec_units_prefer(int *units, size_t n, int unit)
{
    for (size_t i = 0; i < n; i++) {
        if (units[i] == unit) {
            memmove(units + 1, units, i * sizeof(*units));
            units[0] = unit;
            return true;
        }
    }
    return false;
}

int sunspec_scan_range(const char *cidr, uint32_t *first, uint32_t *count)
{
    char ip[INET_ADDRSTRLEN];
    const char *slash = strchr(cidr, '/');
    size_t len = slash ? (size_t)(slash - cidr) : strlen(cidr);
    long prefix = 32;
    if (len >= sizeof(ip))
        return -EINVAL;
    memcpy(ip, cidr, len);
    ip[len] = '\0';
    struct in_addr a;
    if (inet_pton(AF_INET, ip, &a) != 1)
        return -EINVAL;
    if (slash && util_parse_long(slash + 1, 10, 0, 32, &prefix) != 0)
        return -EINVAL;
    uint32_t host = ntohl(a.s_addr);
    uint32_t mask = prefix == 0 ? 0 : 0xFFFFFFFFu << (32 - prefix);
    uint64_t size = (uint64_t)1 << (32 - prefix);
    uint32_t net = host & mask;
    if (prefix <= 30) { /* leave out the network and broadcast addresses */
        net += 1;
        size -= 2;
    }
    if (size > SUNSPEC_SCAN_MAX_HOSTS)
        return -E2BIG;
    *first = net;
    *count = (uint32_t)size;
    return 0;
}

struct scan_ctx {
    modbus_t *mb;
};

static int scan_read(void *ctx, uint32_t addr, uint16_t n, uint16_t *out)
{
    struct scan_ctx *c = ctx;
    int r = modbus_read_registers(c->mb, (int)addr, n, out);
    if (r < 0)
        return -errno;
    return r == n ? 0 : -EIO;
}

/* Finds the marker and reads model 1 on the current unit. 0, -ENODEV, or a link error. */
static int scan_unit(struct scan_ctx *c, struct sunspec_found *f)
{
    uint16_t regs[2 + 68];
    for (size_t b = 0; b < UTIL_ARRAY_SIZE(scan_bases); b++) {
        int r = scan_read(c, scan_bases[b], 2, regs);
        if (sunspec_answer_reconnects(sunspec_answer_of(r)) ||
            sunspec_answer_of(r) == SUNSPEC_ANS_NO_UNIT)
            return r; /* not this unit */
        if (r < 0 || !sunspec_is_marker(regs))
            continue;
        f->base = scan_bases[b];
        /* model 1 comes first (SunSpec); its L is 65 (Fronius) or 66 */
        r = scan_read(c, scan_bases[b] + 2, 2, regs);
        if (r < 0)
            return r;
        if (regs[0] != 1 || regs[1] < 64 || regs[1] > 66)
            return 0; /* SunSpec, but no identity where it should be */
        uint16_t len = regs[1];
        r = scan_read(c, scan_bases[b] + 2, (uint16_t)(len + 2), regs);
        if (r < 0)
            return r;
        struct sunspec_common cm;
        sunspec_decode_common(regs, (size_t)len + 2, &cm);
        util_strlcpy(f->manufacturer, cm.manufacturer, sizeof(f->manufacturer));
        util_strlcpy(f->model, cm.model, sizeof(f->model));
        util_strlcpy(f->serial, cm.serial, sizeof(f->serial));
        util_strlcpy(f->version, cm.version, sizeof(f->version));
        return 0;
    }
    return -ENODEV;
}

int sunspec_scan_host(const char *ip, int port, const int *units, size_t n, int64_t timeout_ms,
                      const atomic_bool *stop,
                      void (*found)(const struct sunspec_found *f, void *ctx), void *ctx)
{
    char portstr[8];
    snprintf(portstr, sizeof(portstr), "%d", port);
    struct scan_ctx c = {.mb = modbus_new_tcp_pi(ip, portstr)};
    if (!c.mb)
        return -EINVAL;
    uint32_t sec = (uint32_t)(timeout_ms / 1000), usec = (uint32_t)(timeout_ms % 1000) * 1000;
    modbus_set_response_timeout(c.mb, sec, usec);
    modbus_set_byte_timeout(c.mb, sec, usec);
    int nfound = 0;
    if (modbus_connect(c.mb) == 0) {
        for (size_t i = 0; i < n && !(stop && atomic_load(stop)); i++) {
            struct sunspec_found f = {.port = port, .unit = units[i]};
            util_strlcpy(f.address, ip, sizeof(f.address));
            modbus_set_slave(c.mb, units[i]);
            int r = scan_unit(&c, &f);
            if (r == 0) {
                found(&f, ctx);
                nfound++;
            } else if (sunspec_answer_reconnects(sunspec_answer_of(r)) && i + 1 < n) {
                /* Some devices and gateways reset or close the connection on a unit id they do
                 * not serve, others stay silent: not this unit, so on with the next one on a
                 * new connection (a late answer must not pass for the next unit's). */
                modbus_close(c.mb);
                if (modbus_connect(c.mb) != 0)
                    break; /* the address is gone */
            }
        }
        modbus_close(c.mb);
    }
    modbus_free(c.mb);
    return nfound;
}

static void scan_print(const struct sunspec_found *f, void *ctx)
{
    (void)ctx;
    printf("%-15s %5d %4d  %-10s %-20s %-16s %s\n", f->address, f->port, f->unit,
           f->manufacturer[0] ? f->manufacturer : "-", f->model[0] ? f->model : "-",
           f->serial[0] ? f->serial : "-", f->version[0] ? f->version : "-");
    fflush(stdout);
}

int sunspec_scan_cli(int argc, char **argv)
{
    const char *cidr = NULL;
    long port = 502, timeout_ms = 1000;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            if (util_parse_long(argv[++i], 10, 1, 65535, &port) != 0)
                return -EINVAL;
        } else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            if (util_parse_long(argv[++i], 10, 10, 60000, &timeout_ms) != 0)
                return -EINVAL;
        } else if (!cidr && argv[i][0] != '-') {
            cidr = argv[i];
        } else {
            return -EINVAL;
        }
    }
    uint32_t first, count;
    if (!cidr || sunspec_scan_range(cidr, &first, &count) != 0) {
        fprintf(stderr,
                "sitewatch scan: need an IPv4 address or range a.b.c.d/nn (at most %d "
                "addresses)\n",
                SUNSPEC_SCAN_MAX_HOSTS);
        return -EINVAL;
    }
    printf("%-15s %5s %4s  %-10s %-20s %-16s %s\n", "ADDRESS", "PORT", "UNIT", "MAKER", "MODEL",
           "SERIAL", "FIRMWARE");
    int total = 0;
    for (uint32_t k = 0; k < count; k++) {
        struct in_addr a = {.s_addr = htonl(first + k)};
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &a, ip, sizeof(ip));
        int r = sunspec_scan_host(ip, (int)port, sunspec_scan_units,
                                  UTIL_ARRAY_SIZE(sunspec_scan_units), timeout_ms, NULL, scan_print,
                                  NULL);
        if (r > 0)
            total += r;
    }
    fprintf(stderr, "%d SunSpec device%s found on %u address%s\n", total, total == 1 ? "" : "s",
            count, count == 1 ? "" : "es");
    return total > 0 ? 0 : 1;
}
