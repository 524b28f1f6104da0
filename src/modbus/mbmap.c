/* mbmap: the GX-compatible SCADA register map: CSV loading, lookups, GX conversions, the sheet. */
#include "mbmap.h"

#include "core/util.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MBMAP_PREFIX "com.victronenergy."
#define MBMAP_FILE_MAX (1u << 20)

struct mbmap {
    struct mbmap_entry *e;
    size_t n;
    struct mbmap_idx *by_reg;  /* rows sorted by (register, file order) for binary search */
    struct mbmap_service *svc; /* per service class: register → row, for the server's reads */
    size_t nsvc;
};

struct mbmap_service {
    char *name;
    unsigned lo, hi; /* registers covered: lo .. hi - 1 */
    int32_t *row;    /* row index per register from lo, -1 for none */
    struct mbmap *map;
};

struct mbmap_idx {
    uint16_t reg;
    size_t i;
};

static int mbmap_fail(char *err, size_t errlen, const char *name, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int mbmap_fail(char *err, size_t errlen, const char *name, int line, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "%s:%d: %s", name, line, msg);
    return -EINVAL;
}

/* "int16" ... "string[8]" → type and register count. */
static int mbmap_parse_type(const char *s, enum mbmap_type *t, uint16_t *n)
{
    static const struct {
        const char *name;
        enum mbmap_type type;
        uint16_t nregs; /* 0: from the [n] suffix */
    } types[] = {
        {"int16",     MBMAP_INT16,    1},
        {"uint16",    MBMAP_UINT16,   1},
        {"int32",     MBMAP_INT32,    2},
        {"uint32",    MBMAP_UINT32,   2},
        {"uint64",    MBMAP_UINT64,   4},
        {"string[",   MBMAP_STRING,   0},
        {"reserved[", MBMAP_RESERVED, 0},
        {"INTERNAL[", MBMAP_RESERVED, 0},
    };
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(types); i++) {
        size_t len = strlen(types[i].name);
        if (types[i].nregs) {
            if (strcmp(s, types[i].name) == 0) {
                *t = types[i].type;
                *n = types[i].nregs;
                return 0;
            }
        } else if (strncmp(s, types[i].name, len) == 0) {
            char num[8];
            size_t sl = strlen(s);
            long v;
            if (sl < len + 2 || s[sl - 1] != ']' || sl - len - 1 >= sizeof(num))
                return -EINVAL;
            memcpy(num, s + len, sl - len - 1);
            num[sl - len - 1] = '\0';
            if (util_parse_long(num, 10, 1, 125, &v) != 0)
                return -EINVAL;
            *t = types[i].type;
            *n = (uint16_t)v;
            return 0;
        }
    }
    return -EINVAL;
}

static int mbmap_parse_line(struct mbmap_entry *e, const char *line)
{
    char *f[8];
    char *copy = xstrdup(line);
    char *p = copy;
    size_t nf = 0;
    for (;;) {
        char *c = strchr(p, ',');
        if (nf == 8) {
            free(copy);
            return -EINVAL;
        }
        f[nf++] = p;
        if (!c)
            break;
        *c = '\0';
        p = c + 1;
    }
    int rc = -EINVAL;
    long reg;
    if (nf != 8 || strncmp(f[0], MBMAP_PREFIX, strlen(MBMAP_PREFIX)) != 0 ||
        util_parse_long(f[4], 10, 0, 65535, &reg) != 0 ||
        mbmap_parse_type(f[5], &e->type, &e->nregs) != 0 || reg + e->nregs > 65536 ||
        (strcmp(f[7], "R") != 0 && strcmp(f[7], "W") != 0))
        goto out;
    e->scale = 1;
    if (*f[6] && (util_parse_double(f[6], -1e9, 1e9, &e->scale) != 0 || e->scale == 0))
        goto out;
    e->reg = (uint16_t)reg;
    e->writable = f[7][0] == 'W';
    e->line = xstrdup(line);
    e->service = xstrdup(f[0] + strlen(MBMAP_PREFIX));
    e->path = xstrdup(f[1][0] == '/' ? f[1] + 1 : (e->type == MBMAP_RESERVED ? "" : f[1]));
    e->dbus_type = xstrdup(f[2]);
    e->text = xstrdup(f[3]);
    rc = 0;
out:
    free(copy);
    return rc;
}

static int mbmap_cmp(const void *a, const void *b)
{
    const struct mbmap_idx *x = a, *y = b;
    if (x->reg != y->reg)
        return x->reg < y->reg ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Dense register → row tables per service class: a read looks each register up in O(1). */
static void mbmap_index_services(struct mbmap *m)
{
    for (size_t i = 0; i < m->n; i++) {
        const struct mbmap_entry *e = &m->e[i];
        size_t k = 0;
        while (k < m->nsvc && strcmp(m->svc[k].name, e->service) != 0)
            k++;
        if (k == m->nsvc) {
            m->svc = xrealloc(m->svc, (m->nsvc + 1) * sizeof(*m->svc));
            m->svc[m->nsvc++] = (struct mbmap_service){
                .name = e->service, .lo = e->reg, .hi = (unsigned)e->reg + e->nregs, .map = m};
        }
        struct mbmap_service *sv = &m->svc[k];
        if (e->reg < sv->lo)
            sv->lo = e->reg;
        if ((unsigned)e->reg + e->nregs > sv->hi)
            sv->hi = (unsigned)e->reg + e->nregs;
    }
    for (size_t k = 0; k < m->nsvc; k++) {
        struct mbmap_service *sv = &m->svc[k];
        sv->row = xmalloc((sv->hi - sv->lo) * sizeof(*sv->row));
        for (unsigned r = 0; r < sv->hi - sv->lo; r++)
            sv->row[r] = -1;
    }
    for (size_t i = m->n; i-- > 0;) { /* backwards: the first row of the file wins */
        const struct mbmap_entry *e = &m->e[i];
        struct mbmap_service *sv = m->svc;
        while (strcmp(sv->name, e->service) != 0)
            sv++;
        for (unsigned r = e->reg; r < (unsigned)e->reg + e->nregs; r++)
            sv->row[r - sv->lo] = (int32_t)i;
    }
}

int mbmap_parse(const char *name, const char *text, struct mbmap **out, char *err, size_t errlen)
{
    struct mbmap *m = xcalloc(1, sizeof(*m));
    int lineno = 0;
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        lineno++;
        char line[4096];
        if (len >= sizeof(line)) {
            mbmap_free(m);
            return mbmap_fail(err, errlen, name, lineno, "line too long");
        }
        memcpy(line, p, len);
        line[len] = '\0';
        if (len && line[len - 1] == '\r')
            line[len - 1] = '\0';
        p += len + (nl != NULL);
        if (!line[0] || line[0] == '#')
            continue;
        struct mbmap_entry e = {0};
        if (mbmap_parse_line(&e, line) != 0) {
            mbmap_free(m);
            return mbmap_fail(err, errlen, name, lineno,
                              "expected service,path,type,text,register,modbus type,scale,R|W");
        }
        m->e = xrealloc(m->e, (m->n + 1) * sizeof(*m->e));
        m->e[m->n++] = e;
    }
    m->by_reg = xmalloc((m->n ? m->n : 1) * sizeof(*m->by_reg));
    for (size_t i = 0; i < m->n; i++)
        m->by_reg[i] = (struct mbmap_idx){m->e[i].reg, i};
    qsort(m->by_reg, m->n, sizeof(*m->by_reg), mbmap_cmp);
    mbmap_index_services(m);
    *out = m;
    return 0;
}

int mbmap_load(const char *path, struct mbmap **out, char *err, size_t errlen)
{
    char *text;
    size_t len;
    int rc = util_read_file(path, MBMAP_FILE_MAX, &text, &len);
    if (rc != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(-rc));
        return rc;
    }
    rc = mbmap_parse(path, text, out, err, errlen);
    free(text);
    return rc;
}

void mbmap_free(struct mbmap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        free(m->e[i].line);
        free(m->e[i].service);
        free(m->e[i].path);
        free(m->e[i].dbus_type);
        free(m->e[i].text);
    }
    for (size_t k = 0; k < m->nsvc; k++)
        free(m->svc[k].row);
    free(m->svc);
    free(m->e);
    free(m->by_reg);
    free(m);
}

size_t mbmap_count(const struct mbmap *m)
{
    return m->n;
}

const struct mbmap_entry *mbmap_at(const struct mbmap *m, size_t i)
{
    return i < m->n ? &m->e[i] : NULL;
}

/* A row of any service covering reg. Rows are at most 125
 * registers long, so the search starts at the last row starting at or before reg and walks
 * back while a row could still cover it. */
static const struct mbmap_entry *mbmap_lookup(const struct mbmap *m, unsigned reg)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m->by_reg[mid].reg <= reg)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i-- > 0;) {
        const struct mbmap_entry *e = &m->e[m->by_reg[i].i];
        if (e->reg + 125u < reg)
            break;
        if (reg < (unsigned)e->reg + e->nregs)
            return e;
    }
    return NULL;
}

const struct mbmap_service *mbmap_service(const struct mbmap *m, const char *service)
{
    for (size_t k = 0; k < m->nsvc; k++)
        if (strcmp(m->svc[k].name, service) == 0)
            return &m->svc[k];
    return NULL;
}

const struct mbmap_entry *mbmap_service_find(const struct mbmap_service *sv, unsigned reg)
{
    if (!sv || reg < sv->lo || reg >= sv->hi || sv->row[reg - sv->lo] < 0)
        return NULL;
    return &sv->map->e[sv->row[reg - sv->lo]];
}

void mbmap_service_range(const struct mbmap_service *sv, unsigned *lo, unsigned *hi)
{
    *lo = sv->lo;
    *hi = sv->hi;
}

const struct mbmap_entry *mbmap_find(const struct mbmap *m, const char *service, unsigned reg)
{
    return mbmap_service_find(mbmap_service(m, service), reg);
}

const struct mbmap_entry *mbmap_find_any(const struct mbmap *m, unsigned reg)
{
    return mbmap_lookup(m, reg);
}

const char *mbmap_type_name(const struct mbmap_entry *e, char *buf, size_t len)
{
    static const char *const names[] = {
        [MBMAP_INT16] = "int16",   [MBMAP_UINT16] = "uint16", [MBMAP_INT32] = "int32",
        [MBMAP_UINT32] = "uint32", [MBMAP_UINT64] = "uint64",
    };
    if (e->type == MBMAP_STRING)
        snprintf(buf, len, "string[%u]", (unsigned)e->nregs);
    else if (e->type == MBMAP_RESERVED)
        snprintf(buf, len, "reserved[%u]", (unsigned)e->nregs);
    else
        snprintf(buf, len, "%s", names[e->type]);
    return buf;
}

/* Writes v (already saturated to the type) as nregs words, high word first. */
static void mbmap_put(uint16_t *regs, unsigned nregs, uint64_t v)
{
    for (unsigned i = 0; i < nregs; i++)
        regs[i] = (uint16_t)(v >> (16 * (nregs - 1 - i)));
}

static double mbmap_clamp(double v, double lo, double hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

void mbmap_encode(const struct mbmap_entry *e, bool valid, double value, enum mbmap_invalid inv,
                  uint16_t *regs)
{
    bool zero = inv == MBMAP_INVALID_ZERO;
    if (e->type == MBMAP_STRING || e->type == MBMAP_RESERVED) {
        /* The GX reads reserved registers as 0xFFFF whatever the mode. */
        uint16_t fill = e->type == MBMAP_RESERVED ? 0xFFFF : 0;
        for (unsigned i = 0; i < e->nregs; i++)
            regs[i] = fill;
        return;
    }
    double raw = round(value * e->scale);
    if (!valid || !isfinite(raw)) {
        switch (e->type) {
        case MBMAP_INT16:
            mbmap_put(regs, 1, zero ? 0 : 0x8000);
            return;
        case MBMAP_INT32:
            mbmap_put(regs, 2, zero ? 0 : 0x80000000u);
            return;
        default:
            mbmap_put(regs, e->nregs, zero ? 0 : UINT64_MAX);
            return;
        }
    }
    /* Saturation (the GX clamps integers with qBound). In sentinel mode the sentinel itself is
     * kept out of the valid range so that a real value never reads as "invalid". */
    double s = zero ? 0 : 1;
    switch (e->type) {
    case MBMAP_INT16:
        mbmap_put(regs, 1, (uint16_t)(int16_t)mbmap_clamp(raw, -32768 + s, 32767));
        return;
    case MBMAP_UINT16:
        mbmap_put(regs, 1, (uint16_t)mbmap_clamp(raw, 0, 65535 - s));
        return;
    case MBMAP_INT32:
        mbmap_put(regs, 2, (uint32_t)(int32_t)mbmap_clamp(raw, -2147483648.0 + s, 2147483647.0));
        return;
    case MBMAP_UINT32:
        mbmap_put(regs, 2, (uint32_t)mbmap_clamp(raw, 0, 4294967295.0 - s));
        return;
    default:
        /* uint64: doubles hold 53 bits; clamp below 2^64 (the largest double under it). */
        mbmap_put(regs, 4, (uint64_t)mbmap_clamp(raw, 0, 18446744073709549568.0));
        return;
    }
}

void mbmap_encode_string(const struct mbmap_entry *e, const char *text, uint16_t *regs)
{
    size_t len = text ? strlen(text) : 0;
    for (unsigned i = 0; i < e->nregs; i++) {
        uint8_t hi = 2 * i < len ? (uint8_t)text[2 * i] : 0;
        uint8_t lo = 2 * i + 1 < len ? (uint8_t)text[2 * i + 1] : 0;
        regs[i] = (uint16_t)(hi << 8 | lo);
    }
}

int mbmap_decode16(const struct mbmap_entry *e, uint16_t raw, double *out)
{
    if (e->type == MBMAP_INT16)
        *out = (int16_t)raw / e->scale;
    else if (e->type == MBMAP_UINT16)
        *out = raw / e->scale;
    else
        return -EINVAL;
    return 0;
}

const char *mbmap_enum_label(const struct mbmap_entry *e, long value, char *buf, size_t len)
{
    const char *p = e->text;
    while (p && *p) {
        const char *end = strchr(p, ';');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        if (eq) {
            char num[24];
            size_t nl = (size_t)(eq - p);
            long v;
            if (nl < sizeof(num)) {
                memcpy(num, p, nl);
                num[nl] = '\0';
                if (util_parse_long(num, 10, -1000000, 1000000, &v) == 0 && v == value) {
                    snprintf(buf, len, "%.*s", (int)(n - nl - 1), eq + 1);
                    return buf;
                }
            }
        }
        p = end ? end + 1 : NULL;
    }
    return NULL;
}

/* Writes s with the characters HTML gives meaning to escaped. */
static void mbmap_html(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

/* Markdown: a '|' inside a cell would split it. */
static void mbmap_md(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputc('\\', f);
        fputc(*s, f);
    }
}

int mbmap_print(const struct mbmap *m, const char *format, FILE *f)
{
    static const char *const head[] = {"service", "register", "type",         "scale",
                                       "access",  "path",     "unit / values"};
    bool md = strcmp(format, "md") == 0, html = strcmp(format, "html") == 0;
    if (strcmp(format, "csv") == 0) {
        fputs("# service,dbus path,dbus type,unit or enum,register,modbus type,scale,R|W\n", f);
        for (size_t i = 0; i < m->n; i++)
            fprintf(f, "%s\n", m->e[i].line);
        return 0;
    }
    if (!md && !html)
        return -EINVAL;
    if (md) {
        fputs("| service | register | type | scale | access | path | unit / values |\n", f);
        fputs("|---|---:|---|---:|---|---|---|\n", f);
    } else {
        fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>sitewatch Modbus-TCP "
              "register map</title></head><body>\n<table>\n<tr>",
              f);
        for (size_t i = 0; i < UTIL_ARRAY_SIZE(head); i++)
            fprintf(f, "<th>%s</th>", head[i]);
        fputs("</tr>\n", f);
    }
    for (size_t i = 0; i < m->n; i++) {
        const struct mbmap_entry *e = &m->e[i];
        char type[24], scale[32], reg[8], path[128];
        mbmap_type_name(e, type, sizeof(type));
        snprintf(scale, sizeof(scale), "%g", e->scale);
        snprintf(reg, sizeof(reg), "%u", (unsigned)e->reg);
        snprintf(path, sizeof(path), "%s%s", e->path[0] ? "/" : "",
                 e->path[0] ? e->path : "RESERVED");
        const char *cells[] = {e->service, reg,    type, scale, e->writable ? "R/W" : "R",
                               path,       e->text};
        fputs(md ? "|" : "<tr>", f);
        for (size_t c = 0; c < UTIL_ARRAY_SIZE(cells); c++) {
            if (md) {
                fputc(' ', f);
                mbmap_md(f, cells[c]);
                fputs(" |", f);
            } else {
                fputs("<td>", f);
                mbmap_html(f, cells[c]);
                fputs("</td>", f);
            }
        }
        fputs(md ? "\n" : "</tr>\n", f);
    }
    if (html)
        fputs("</table>\n</body></html>\n", f);
    return 0;
}

/* The tree the binary was built from (Makefile: SOURCE_DIR; empty in packages). */
#ifndef SITEWATCH_SOURCE_DIR
#define SITEWATCH_SOURCE_DIR ""
#endif

const char *mbmap_built_source_dir(void)
{
    return SITEWATCH_SOURCE_DIR;
}

int mbmap_default_path(const char *installed, const char *source_dir, const char *conf_path,
                       char *out, size_t n, char *tried, size_t triedlen)
{
    char cand[3][PATH_MAX];
    size_t nc = 0;
    if (!source_dir)
        source_dir = SITEWATCH_SOURCE_DIR;
    if (installed && installed[0] && util_strlcpy(cand[nc], installed, PATH_MAX) < PATH_MAX)
        nc++;
    if (source_dir[0] &&
        util_snprintf(cand[nc], PATH_MAX, "%s/etc/modbus-map.csv", source_dir) == 0)
        nc++;
    if (conf_path) {
        char dir[PATH_MAX];
        util_strlcpy(dir, conf_path, sizeof(dir));
        if (util_snprintf(cand[nc], PATH_MAX, "%s/modbus-map.csv", dirname(dir)) == 0)
            nc++;
    }
    size_t len = 0;
    if (triedlen)
        tried[0] = '\0';
    for (size_t i = 0; i < nc; i++) {
        if (access(cand[i], R_OK) == 0 && util_strlcpy(out, cand[i], n) < n)
            return 0;
        if (len < triedlen) {
            int w = snprintf(tried + len, triedlen - len, "%s%s", i ? ", " : "", cand[i]);
            len += w > 0 ? (size_t)w : 0;
        }
    }
    return -ENOENT;
}

int mbmap_sheet_main(int argc, char **argv, const char *default_map)
{
    const char *format = "md", *path = NULL;
    for (int i = 0; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--format") == 0)
            format = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--map") == 0)
            path = argv[++i];
        else {
            fprintf(stderr, "usage: sitewatch modbus-map [--format csv|md|html] [--map FILE]\n");
            return 2;
        }
    }
    /* The installed map, else the one of the source tree it was built from, else the one of a
     * source tree it runs in. */
    char found[PATH_MAX], tried[3 * PATH_MAX];
    if (!path)
        path = mbmap_default_path(default_map, NULL, NULL, found, sizeof(found), tried,
                                  sizeof(tried)) == 0
                   ? found
                   : "etc/modbus-map.csv";
    struct mbmap *m;
    char err[300];
    if (mbmap_load(path, &m, err, sizeof(err)) != 0) {
        fprintf(stderr, "sitewatch: %s\n", err);
        return 1;
    }
    int rc = mbmap_print(m, format, stdout);
    mbmap_free(m);
    if (rc != 0) {
        fprintf(stderr, "sitewatch: unknown format '%s' (csv, md or html)\n", format);
        return 2;
    }
    return 0;
}
