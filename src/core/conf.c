/* conf: INI parsing through libinih, validated against key tables; errors carry file:line. */
#include "conf.h"

#include "drivers.h"
#include "log.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <ini.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct drv_key conf_daemon_keys[] = {
    {"state_dir", DRV_KEY_STRING, "/var/lib/sitewatch", NULL, "where state files live"                 },
    {"log_level", DRV_KEY_STRING, "info",               NULL, "error, warning, notice, info or debug"  },
    {"site_name", DRV_KEY_STRING, "sitewatch",          NULL, "shown in the console, the API and mails"},
    {NULL,        0,              NULL,                 NULL, NULL                                     },
};

static const struct drv_key conf_http_keys[] = {
    {"listen",   DRV_KEY_STRING, "127.0.0.1:8080",           NULL, "address:port of the console and JSON API"            },
    {"web_root", DRV_KEY_STRING, "/usr/share/sitewatch/web", NULL,
     "directory of the console files"                                                                                    },
    {"tls_cert", DRV_KEY_STRING, "",                         NULL, "PEM certificate (chain): serve HTTPS instead of HTTP"},
    {"tls_key",  DRV_KEY_STRING, "",                         NULL, "PEM private key of tls_cert"                         },
    {NULL,       0,              NULL,                       NULL, NULL                                                  },
};

const struct drv_key conf_device_keys[] = {
    {"driver",   DRV_KEY_STRING, NULL,   NULL,       "which driver reads this device"           },
    {"instance", DRV_KEY_INT,    "auto", "0..65535",
     "device instance; auto = the devices of each driver numbered from 0 in configuration order"},
    {NULL,       0,              NULL,   NULL,       NULL                                       },
};

static int conf_check_daemon(const struct conf_section *s, struct conf_error *e)
{
    const struct conf_kv *kv = conf_get_kv(s, "log_level");
    if (kv && log_level_parse(kv->value) < 0)
        return conf_error_at(
            e, s, kv, "log_level = %s: expected error, warning, notice, info or debug", kv->value);
    return 0;
}

static int conf_check_http(const struct conf_section *s, struct conf_error *e)
{
    const struct conf_kv *kv = conf_get_kv(s, "listen");
    char host[64];
    int port;
    if (kv && (util_parse_hostport(kv->value, host, sizeof(host), &port) != 0 || port == 0))
        return conf_error_at(e, s, kv, "listen = %s: expected address:port, e.g. 127.0.0.1:8080",
                             kv->value);
    return 0;
}

const struct conf_section_type conf_section_daemon = {
    .type = "daemon", .keys = conf_daemon_keys, .check = conf_check_daemon};
const struct conf_section_type conf_section_http = {
    .type = "http", .keys = conf_http_keys, .check = conf_check_http};

#define SECTION(n) extern const struct conf_section_type conf_section_##n;
#include "sections.def"
#undef SECTION

static const struct conf_section_type *const conf_types[] = {
#define SECTION(n) &conf_section_##n,
#include "sections.def"
#undef SECTION
};

const struct conf_section_type *conf_section_type_find(const char *type)
{
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(conf_types); i++)
        if (strcmp(conf_types[i]->type, type) == 0)
            return conf_types[i];
    return NULL;
}

const struct drv_key *conf_section_keys(const char *type)
{
    const struct conf_section_type *t = conf_section_type_find(type);
    return t ? t->keys : NULL;
}

static const struct drv_key *conf_key_find(const struct drv_key *keys, const char *name)
{
    for (; keys && keys->name; keys++)
        if (strcmp(keys->name, name) == 0)
            return keys;
    return NULL;
}

/* Every error found, in the order found; sorted by file and line before they are reported. */
struct conf_err {
    const char *file; /* owned by conf */
    int line;         /* 0: the file as a whole */
    char msg[400];
};
struct conf_errs {
    struct conf_err *v;
    size_t n, cap;
    size_t total; /* also those not kept (beyond CONF_ERRORS_KEPT) */
};
/* --check-config shows at most CONF_ERRORS_SHOWN; a few more are kept to sort them by line. */
#define CONF_ERRORS_SHOWN 20
#define CONF_ERRORS_KEPT 200

/* Parser state shared by the line reader and the inih handler. */
struct conf_parse {
    const char *file; /* name used in messages, owned by conf */
    const char *text; /* remaining input */
    int line;         /* number of the line inih is handling */
    struct conf_errs *errs;
    struct conf *conf;
    struct conf_kv **kv; /* key/values of the current section */
    size_t *nkv;
    bool in_bad_section;
};

static void conf_fail(struct conf_parse *p, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void conf_fail(struct conf_parse *p, const char *file, int line, const char *fmt, ...)
{
    struct conf_errs *e = p->errs;
    e->total++;
    if (e->n == CONF_ERRORS_KEPT)
        return;
    if (e->n == e->cap) {
        e->cap = e->cap ? 2 * e->cap : 8;
        e->v = xrealloc(e->v, e->cap * sizeof(*e->v));
    }
    struct conf_err *x = &e->v[e->n++];
    x->file = file;
    x->line = line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->msg, sizeof(x->msg), fmt, ap);
    va_end(ap);
}

static size_t conf_file_index(const struct conf *c, const char *file)
{
    for (size_t i = 0; i < c->nfiles; i++)
        if (c->files[i] == file)
            return i;
    return c->nfiles;
}

/* Writes the errors, sorted by file (in reading order) then line, one "file:line: msg" per line,
 * at most CONF_ERRORS_SHOWN of them, into err. */
static void conf_errs_format(const struct conf *c, struct conf_errs *e, char *err, size_t errlen)
{
    /* insertion sort: stable, and the list is short */
    for (size_t i = 1; i < e->n; i++) {
        struct conf_err x = e->v[i];
        size_t fx = conf_file_index(c, x.file), j = i;
        for (; j > 0; j--) {
            size_t fj = conf_file_index(c, e->v[j - 1].file);
            if (fj < fx || (fj == fx && e->v[j - 1].line <= x.line))
                break;
            e->v[j] = e->v[j - 1];
        }
        e->v[j] = x;
    }
    size_t len = 0;
    err[0] = '\0';
    for (size_t i = 0; i < e->n && i < CONF_ERRORS_SHOWN && len + 1 < errlen; i++) {
        const struct conf_err *x = &e->v[i];
        int w = x->line > 0
                    ? snprintf(err + len, errlen - len, "%s%s:%d: %s", i ? "\n" : "", x->file,
                               x->line, x->msg)
                    : snprintf(err + len, errlen - len, "%s%s: %s", i ? "\n" : "", x->file, x->msg);
        if (w < 0)
            break;
        len += (size_t)w;
    }
    if (e->total > CONF_ERRORS_SHOWN && len + 1 < errlen)
        snprintf(err + len, errlen - len, "\n(%zu more errors not shown)",
                 e->total - CONF_ERRORS_SHOWN);
}

static void conf_errs_free(struct conf_errs *e)
{
    free(e->v);
    *e = (struct conf_errs){0};
}

int conf_error_at(struct conf_error *e, const struct conf_section *s, const struct conf_kv *kv,
                  const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    e->file = kv ? kv->file : s->file;
    e->line = kv ? kv->line : s->line;
    return -EINVAL;
}

static bool conf_name_ok(const char *s)
{
    if (!*s || strlen(s) >= STORE_NAME_MAX)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
            return false;
    return true;
}

static void conf_open_device(struct conf_parse *p, const char *name)
{
    struct conf *c = p->conf;
    if (!conf_name_ok(name)) {
        conf_fail(p, p->file, p->line,
                  "[device NAME] needs a name of letters, digits, '_' or '-' (at most %d)",
                  STORE_NAME_MAX - 1);
        return;
    }
    for (size_t i = 0; i < c->ndevices; i++)
        if (strcmp(c->devices[i].name, name) == 0) {
            conf_fail(p, p->file, p->line, "device '%s' is already defined at %s:%d", name,
                      c->devices[i].file, c->devices[i].line);
            return;
        }
    c->devices = xrealloc(c->devices, (c->ndevices + 1) * sizeof(*c->devices));
    struct conf_device *d = &c->devices[c->ndevices++];
    memset(d, 0, sizeof(*d));
    d->name = xstrdup(name);
    d->file = p->file;
    d->line = p->line;
    d->instance = -1;
    p->kv = &d->kv;
    p->nkv = &d->nkv;
}

static void conf_open_section(struct conf_parse *p, const char *type, const char *name)
{
    struct conf *c = p->conf;
    const struct conf_section_type *t = conf_section_type_find(type);
    if (!t) {
        conf_fail(p, p->file, p->line, "unknown section [%s]", type);
        return;
    }
    if (t->named && !conf_name_ok(name)) {
        conf_fail(p, p->file, p->line,
                  "[%s NAME] needs a name of letters, digits, '_' or '-' (at most %d)", type,
                  STORE_NAME_MAX - 1);
        return;
    }
    if (!t->named && *name) {
        conf_fail(p, p->file, p->line, "section [%s] takes no name", type);
        return;
    }
    for (size_t i = 0; i < c->nsections; i++) {
        const struct conf_section *o = &c->sections[i];
        if (o->type == t && (!t->named || strcmp(o->name, name) == 0)) {
            if (t->named)
                conf_fail(p, p->file, p->line, "[%s %s] is already defined at %s:%d", type, name,
                          o->file, o->line);
            else
                conf_fail(p, p->file, p->line, "[%s] is already defined at %s:%d", type, o->file,
                          o->line);
            return;
        }
    }
    c->sections = xrealloc(c->sections, (c->nsections + 1) * sizeof(*c->sections));
    struct conf_section *s = &c->sections[c->nsections++];
    memset(s, 0, sizeof(*s));
    s->type = t;
    s->name = t->named ? xstrdup(name) : NULL;
    s->file = p->file;
    s->line = p->line;
    p->kv = &s->kv;
    p->nkv = &s->nkv;
}

/* A "[...]" line: validates the section header and opens the section. */
static void conf_section_line(struct conf_parse *p, const char *line, size_t len)
{
    char hdr[128];
    p->kv = NULL;
    p->nkv = NULL;
    p->in_bad_section = true;
    const char *close = memchr(line, ']', len);
    if (!close || (size_t)(close - line) >= sizeof(hdr)) {
        conf_fail(p, p->file, p->line, "section header without ']'");
        return;
    }
    size_t n = (size_t)(close - line - 1);
    memcpy(hdr, line + 1, n);
    hdr[n] = '\0';
    char *type = hdr;
    while (isspace((unsigned char)*type))
        type++;
    char *name = type;
    while (*name && !isspace((unsigned char)*name))
        name++;
    if (*name) {
        *name++ = '\0';
        while (isspace((unsigned char)*name))
            name++;
        char *e = name + strlen(name);
        while (e > name && isspace((unsigned char)e[-1]))
            *--e = '\0';
    }
    if (strcmp(type, "device") == 0)
        conf_open_device(p, name);
    else
        conf_open_section(p, type, name);
    p->in_bad_section = p->kv == NULL;
}

/* inih line reader: counts lines so the handler knows where it is, and sees section headers. */
static char *conf_reader(char *str, int num, void *stream)
{
    struct conf_parse *p = stream;
    if (!*p->text)
        return NULL;
    const char *nl = strchr(p->text, '\n');
    size_t len = nl ? (size_t)(nl - p->text) + 1 : strlen(p->text);
    size_t copy = len;
    p->line++;
    if (copy >= (size_t)num) {
        conf_fail(p, p->file, p->line, "line longer than %d characters", num - 3);
        copy = 0; /* hand inih an empty line instead */
    }
    memcpy(str, p->text, copy);
    str[copy] = '\0';
    p->text += len;
    const char *s = str;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s == '[') {
        conf_section_line(p, s, strlen(s));
    } else if (*s && *s != '\r' && *s != '\n' && *s != ';' && *s != '#' && !strpbrk(s, "=:")) {
        /* inih reports only its first syntax error: find each one here and hide it from inih */
        conf_fail(p, p->file, p->line,
                  "syntax error: expected [section], key = value, or a ; or # comment");
        str[0] = '\0';
    }
    return str;
}

static int conf_handler(void *user, const char *section, const char *name, const char *value)
{
    struct conf_parse *p = user;
    if (!*section) {
        conf_fail(p, p->file, p->line, "'%s' outside any section", name);
        return 1;
    }
    if (p->in_bad_section || !p->kv)
        return 1; /* the section header already failed */
    for (size_t i = 0; i < *p->nkv; i++)
        if (strcmp((*p->kv)[i].key, name) == 0) {
            conf_fail(p, p->file, p->line, "%s is already set at line %d", name, (*p->kv)[i].line);
            return 1;
        }
    *p->kv = xrealloc(*p->kv, (*p->nkv + 1) * sizeof(**p->kv));
    (*p->kv)[(*p->nkv)++] = (struct conf_kv){xstrdup(name), xstrdup(value), p->file, p->line};
    return 1;
}

/* Parses v as a value of a number or duration key: ms for durations. 0 or -EINVAL. */
static int conf_parse_number(enum drv_key_type type, const char *v, double *out)
{
    int64_t ms;
    long l;
    if (type == DRV_KEY_DURATION) {
        if (util_parse_duration_ms(v, &ms) != 0)
            return -EINVAL;
        *out = (double)ms;
    } else if (type == DRV_KEY_INT) {
        if (util_parse_long(v, 10, LONG_MIN, LONG_MAX, &l) != 0)
            return -EINVAL;
        *out = (double)l;
    } else if (util_parse_double(v, -1e300, 1e300, out) != 0) {
        return -EINVAL;
    }
    return 0;
}

const char *conf_key_range(const struct drv_key *k)
{
    if (k->range)
        return k->range;
    switch (k->type) {
    case DRV_KEY_INT:
        return DRV_KEY_RANGE_INT;
    case DRV_KEY_DURATION:
        return DRV_KEY_RANGE_DURATION;
    case DRV_KEY_DOUBLE:
        return DRV_KEY_RANGE_DOUBLE;
    default:
        return NULL;
    }
}

int conf_key_limits(const struct drv_key *k, double *min, double *max)
{
    const char *range = conf_key_range(k);
    const char *dots = range ? strstr(range, "..") : NULL;
    char lo[32];
    if (!dots || (size_t)(dots - range) >= sizeof(lo))
        return -EINVAL;
    memcpy(lo, range, (size_t)(dots - range));
    lo[dots - range] = '\0';
    if (conf_parse_number(k->type, lo, min) != 0 ||
        conf_parse_number(k->type, dots + 2, max) != 0 || *min > *max)
        return -EINVAL;
    return 0;
}

static int conf_check_value(const struct drv_key *k, const struct conf_kv *kv, char *msg,
                            size_t msglen)
{
    static const char *const expected[] = {
        [DRV_KEY_DURATION] = "a duration with a unit (500ms, 5s, 2m, 1h)",
        [DRV_KEY_INT] = "a whole number",
        [DRV_KEY_DOUBLE] = "a number",
    };
    bool b;
    double d, min, max;
    const char *v = kv->value;
    switch (k->type) {
    case DRV_KEY_STRING:
    case DRV_KEY_PORT:
        if (!*v)
            return snprintf(msg, msglen, "%s needs a value", k->name), -EINVAL;
        return 0;
    case DRV_KEY_BOOL:
        if (util_parse_bool(v, &b) != 0)
            return snprintf(msg, msglen, "%s = %s: expected yes or no", k->name, v), -EINVAL;
        return 0;
    case DRV_KEY_DURATION:
    case DRV_KEY_INT:
    case DRV_KEY_DOUBLE:
        if (k->def && strcmp(v, k->def) == 0 && conf_parse_number(k->type, v, &d) != 0)
            return 0; /* a word default such as "auto" */
        if (conf_key_limits(k, &min, &max) != 0)
            return snprintf(msg, msglen, "%s: bad range '%s' in the key table", k->name,
                            conf_key_range(k)),
                   -EINVAL;
        if (conf_parse_number(k->type, v, &d) != 0)
            return snprintf(msg, msglen, "%s = %s: expected %s in %s", k->name, v,
                            expected[k->type], conf_key_range(k)),
                   -EINVAL;
        if (d < min || d > max)
            return snprintf(msg, msglen, "%s = %s: out of range, allowed %s", k->name, v,
                            conf_key_range(k)),
                   -EINVAL;
        return 0;
    }
    return -EINVAL;
}

/* Keys known (an unknown one is reported with unknown_what, e.g. "in [daemon]"), values of the
 * right type and range, required keys present (reported as "<what> needs"). True when all is
 * well. */
static bool conf_check_kvs(struct conf_parse *p, const char *unknown_what, const char *what,
                           const char *file, int line, const struct drv_key *keys,
                           const struct drv_key *keys2, const struct conf_kv *kv, size_t nkv)
{
    size_t before = p->errs->total;
    for (size_t i = 0; i < nkv; i++) {
        const struct drv_key *k = conf_key_find(keys, kv[i].key);
        if (!k)
            k = conf_key_find(keys2, kv[i].key);
        if (!k) {
            conf_fail(p, kv[i].file, kv[i].line, "unknown key '%s' %s", kv[i].key, unknown_what);
            continue;
        }
        char msg[300];
        if (conf_check_value(k, &kv[i], msg, sizeof(msg)) != 0)
            conf_fail(p, kv[i].file, kv[i].line, "%s", msg);
    }
    for (int pass = 0; pass < 2; pass++)
        for (const struct drv_key *k = pass ? keys2 : keys; k && k->name; k++) {
            bool set = false;
            for (size_t i = 0; i < nkv; i++)
                set |= strcmp(kv[i].key, k->name) == 0;
            if (!k->def && !set)
                conf_fail(p, file, line, "%s needs '%s =' (%s)", what, k->name, k->help);
        }
    return p->errs->total == before;
}

static void conf_check_device(struct conf_parse *p, struct conf_device *d)
{
    const char *drv = conf_device_value(d, "driver");
    if (!drv) {
        conf_fail(p, d->file, d->line, "[device %s] has no 'driver =' line", d->name);
        return;
    }
    d->drv = drivers_find(drv);
    if (!d->drv) {
        for (size_t i = 0; i < d->nkv; i++)
            if (strcmp(d->kv[i].key, "driver") == 0)
                conf_fail(p, d->kv[i].file, d->kv[i].line,
                          "unknown driver '%s' (sitewatchd --list-drivers lists them)", drv);
        return;
    }
    char unknown_what[96], what[96];
    snprintf(unknown_what, sizeof(unknown_what), "for driver %s", drv);
    snprintf(what, sizeof(what), "[device %s]", d->name);
    if (!conf_check_kvs(p, unknown_what, what, d->file, d->line, conf_device_keys, d->drv->keys,
                        d->kv, d->nkv))
        return;
    const char *inst = conf_device_value(d, "instance");
    long l;
    if (inst && util_parse_long(inst, 10, 0, 65535, &l) == 0)
        d->instance = (int)l;
}

static void conf_check_section(struct conf_parse *p, const struct conf_section *s)
{
    char what[96], unknown_what[100];
    if (s->name)
        snprintf(what, sizeof(what), "[%s %s]", s->type->type, s->name);
    else
        snprintf(what, sizeof(what), "[%s]", s->type->type);
    snprintf(unknown_what, sizeof(unknown_what), "in %s", what);
    if (!conf_check_kvs(p, unknown_what, what, s->file, s->line, s->type->keys, NULL, s->kv,
                        s->nkv) ||
        !s->type->check)
        return;
    struct conf_error e = {0};
    if (s->type->check(s, &e) != 0)
        conf_fail(p, e.file ? e.file : s->file, e.file ? e.line : s->line, "%s",
                  e.msg[0] ? e.msg : "invalid section");
}

/* The same serial port in two devices: by text, or by the file a by-id link points to. */
static bool conf_same_port(const char *a, const char *b)
{
    if (strcmp(a, b) == 0)
        return true;
    char ra[PATH_MAX], rb[PATH_MAX];
    return a[0] == '/' && b[0] == '/' && realpath(a, ra) && realpath(b, rb) && strcmp(ra, rb) == 0;
}

/* A serial port (DRV_KEY_PORT) serves one device: a second reader would steal its bytes. */
static void conf_check_ports(struct conf_parse *p, const struct conf *c)
{
    for (size_t i = 0; i < c->ndevices; i++) {
        const struct conf_device *d = &c->devices[i];
        for (size_t k = 0; d->drv && k < d->nkv; k++) {
            const struct drv_key *key = conf_key_find(d->drv->keys, d->kv[k].key);
            if (!key || key->type != DRV_KEY_PORT)
                continue;
            for (size_t j = 0; j < i; j++) {
                const struct conf_device *o = &c->devices[j];
                for (size_t m = 0; o->drv && m < o->nkv; m++) {
                    const struct drv_key *ok = conf_key_find(o->drv->keys, o->kv[m].key);
                    if (ok && ok->type == DRV_KEY_PORT &&
                        conf_same_port(o->kv[m].value, d->kv[k].value)) {
                        conf_fail(p, d->kv[k].file, d->kv[k].line,
                                  "[device %s] %s = %s: the port of [device %s] at %s:%d; one "
                                  "serial port serves one device",
                                  d->name, d->kv[k].key, d->kv[k].value, o->name, o->kv[m].file,
                                  o->kv[m].line);
                        j = i; /* one message per device */
                        break;
                    }
                }
            }
        }
    }
}

/* instance = auto: the devices of one driver are numbered from 0 in configuration order, past
 * the instances configured by hand on devices of that driver. Fixed by the configuration, not by
 * which device answers first, so instances (and the Modbus unit ids built on them) never swap. */
static void conf_auto_instances(struct conf *c)
{
    for (size_t i = 0; i < c->ndevices; i++) {
        struct conf_device *d = &c->devices[i];
        d->auto_instance = d->instance;
        if (d->instance >= 0)
            continue;
        int n = 0;
        for (size_t j = 0; j < i; j++)
            n += c->devices[j].drv == d->drv && c->devices[j].instance < 0;
        /* the n-th free number of this driver */
        for (int cand = 0;; cand++) {
            bool taken = false;
            for (size_t j = 0; j < c->ndevices; j++)
                taken |= c->devices[j].drv == d->drv && c->devices[j].instance == cand;
            if (!taken && n-- == 0) {
                d->auto_instance = cand;
                break;
            }
        }
    }
}

static const char *conf_add_file(struct conf *c, const char *name)
{
    c->files = xrealloc(c->files, (c->nfiles + 1) * sizeof(*c->files));
    c->files[c->nfiles] = xstrdup(name);
    return c->files[c->nfiles++];
}

static struct conf *conf_new(const char *name)
{
    struct conf *c = xcalloc(1, sizeof(*c));
    c->path = xstrdup(name);
    return c;
}

/* Parses one text into c; its errors go to errs. */
static void conf_parse_into(struct conf *c, const char *name, const char *text,
                            struct conf_errs *errs)
{
    struct conf_parse p = {.file = conf_add_file(c, name), .text = text, .conf = c, .errs = errs};
    /* Each key is one line: a continuation line is a typo, not a multi-line value. */
    ini_allow_multiline = false;
    int r = ini_parse_stream(conf_reader, &p, conf_handler, &p);
    if (r > 0)
        conf_fail(&p, p.file, r,
                  "syntax error: expected [section], key = value, or a ; or # comment");
}

static void conf_set(char **slot, const char *value)
{
    free(*slot);
    *slot = xstrdup(value);
}

/* Validates everything once all files are read, and fills the fixed fields. 0, or -EINVAL with
 * every error (sorted, at most CONF_ERRORS_SHOWN) in err. */
static int conf_finish(struct conf *c, struct conf_errs *errs, char *err, size_t errlen)
{
    struct conf_parse p = {.conf = c, .errs = errs};
    for (size_t i = 0; i < c->ndevices; i++)
        conf_check_device(&p, &c->devices[i]);
    conf_check_ports(&p, c);
    for (size_t i = 0; i < c->nsections; i++)
        conf_check_section(&p, &c->sections[i]);
    if (errs->total) {
        conf_errs_format(c, errs, err, errlen);
        return -EINVAL;
    }
    conf_auto_instances(c);
    /* [daemon] and [http] may be absent: the defaults of their key tables apply. */
    static const struct conf_section empty_daemon = {.type = &conf_section_daemon};
    static const struct conf_section empty_http = {.type = &conf_section_http};
    const struct conf_section *d = conf_section_nth(c, "daemon", 0);
    const struct conf_section *h = conf_section_nth(c, "http", 0);
    if (!d)
        d = &empty_daemon;
    if (!h)
        h = &empty_http;
    conf_set(&c->state_dir, conf_get(d, "state_dir"));
    conf_set(&c->site_name, conf_get(d, "site_name"));
    c->log_level = log_level_parse(conf_get(d, "log_level"));
    conf_set(&c->http_listen, conf_get(h, "listen"));
    conf_set(&c->web_root, conf_get(h, "web_root"));
    conf_set(&c->tls_cert, conf_get(h, "tls_cert"));
    conf_set(&c->tls_key, conf_get(h, "tls_key"));
    return 0;
}

int conf_parse_string(const char *name, const char *text, struct conf **out, char *err,
                      size_t errlen)
{
    struct conf *c = conf_new(name);
    struct conf_errs errs = {0};
    conf_parse_into(c, name, text, &errs);
    int r = conf_finish(c, &errs, err, errlen);
    conf_errs_free(&errs);
    if (r != 0) {
        conf_free(c);
        return r;
    }
    *out = c;
    return 0;
}

static int conf_read_text(const char *path, char **text, char *err, size_t errlen)
{
    size_t len;
    int r = util_read_file(path, 1 << 20, text, &len);
    if (r < 0) {
        snprintf(err, errlen, "cannot read: %s", strerror(-r));
        return r;
    }
    if (strlen(*text) != len) {
        snprintf(err, errlen, "contains a NUL byte: not a text file");
        free(*text);
        return -EINVAL;
    }
    return 0;
}

int conf_load(const char *path, struct conf **out, char *err, size_t errlen)
{
    char *text, msg[300];
    int r = conf_read_text(path, &text, msg, sizeof(msg));
    if (r < 0) {
        snprintf(err, errlen, "%s: %s", path, msg);
        return r;
    }
    struct conf *c = conf_new(path);
    struct conf_errs errs = {0};
    conf_parse_into(c, path, text, &errs);
    free(text);
    /* alarms.d/NAME.conf beside the main file, in name order (glob sorts). */
    char dir[PATH_MAX], pattern[PATH_MAX + 32];
    util_strlcpy(dir, path, sizeof(dir));
    snprintf(pattern, sizeof(pattern),
             "%s/alarms.d/*"
             ".conf",
             dirname(dir));
    glob_t g = {0};
    if (glob(pattern, 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++) {
            if (conf_read_text(g.gl_pathv[i], &text, msg, sizeof(msg)) == 0) {
                conf_parse_into(c, g.gl_pathv[i], text, &errs);
                free(text);
            } else {
                struct conf_parse p = {.errs = &errs};
                conf_fail(&p, conf_add_file(c, g.gl_pathv[i]), 0, "%s", msg);
            }
        }
    }
    globfree(&g);
    r = conf_finish(c, &errs, err, errlen);
    conf_errs_free(&errs);
    if (r != 0) {
        conf_free(c);
        return r;
    }
    *out = c;
    return 0;
}

static void conf_free_kvs(struct conf_kv *kv, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        free(kv[j].key);
        free(kv[j].value);
    }
    free(kv);
}

void conf_free(struct conf *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->ndevices; i++) {
        conf_free_kvs(c->devices[i].kv, c->devices[i].nkv);
        free(c->devices[i].name);
    }
    for (size_t i = 0; i < c->nsections; i++) {
        conf_free_kvs(c->sections[i].kv, c->sections[i].nkv);
        free(c->sections[i].name);
    }
    for (size_t i = 0; i < c->nfiles; i++)
        free(c->files[i]);
    free(c->files);
    free(c->sections);
    free(c->devices);
    free(c->path);
    free(c->state_dir);
    free(c->site_name);
    free(c->http_listen);
    free(c->web_root);
    free(c->tls_cert);
    free(c->tls_key);
    free(c);
}

const char *conf_device_value(const struct conf_device *d, const char *key)
{
    for (size_t i = 0; i < d->nkv; i++)
        if (strcmp(d->kv[i].key, key) == 0)
            return d->kv[i].value;
    return NULL;
}

bool conf_device_equal(const struct conf_device *a, const struct conf_device *b)
{
    if (strcmp(a->name, b->name) != 0 || a->drv != b->drv || a->nkv != b->nkv ||
        a->auto_instance != b->auto_instance)
        return false;
    for (size_t i = 0; i < a->nkv; i++) {
        const char *v = conf_device_value(b, a->kv[i].key);
        if (!v || strcmp(v, a->kv[i].value) != 0)
            return false;
    }
    return true;
}

const struct conf_section *conf_section_nth(const struct conf *c, const char *type, size_t n)
{
    for (size_t i = 0; i < c->nsections; i++)
        if (strcmp(c->sections[i].type->type, type) == 0 && n-- == 0)
            return &c->sections[i];
    return NULL;
}

const struct conf_kv *conf_get_kv(const struct conf_section *s, const char *key)
{
    for (size_t i = 0; i < s->nkv; i++)
        if (strcmp(s->kv[i].key, key) == 0)
            return &s->kv[i];
    return NULL;
}

const char *conf_get(const struct conf_section *s, const char *key)
{
    const struct conf_kv *kv = conf_get_kv(s, key);
    if (kv)
        return kv->value;
    const struct drv_key *k = conf_key_find(s->type->keys, key);
    return k ? k->def : NULL;
}

bool conf_get_bool(const struct conf_section *s, const char *key)
{
    bool b = false;
    const char *v = conf_get(s, key);
    if (v)
        util_parse_bool(v, &b);
    return b;
}

int64_t conf_get_ms(const struct conf_section *s, const char *key)
{
    int64_t ms = 0;
    const char *v = conf_get(s, key);
    if (v)
        util_parse_duration_ms(v, &ms);
    return ms;
}

long conf_get_long(const struct conf_section *s, const char *key)
{
    long l = 0;
    const char *v = conf_get(s, key);
    if (v)
        util_parse_long(v, 10, -2147483647L, 2147483647L, &l);
    return l;
}

double conf_get_double(const struct conf_section *s, const char *key)
{
    double d = 0;
    const char *v = conf_get(s, key);
    if (v)
        util_parse_double(v, -1e300, 1e300, &d);
    return d;
}
