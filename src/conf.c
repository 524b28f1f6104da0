/* conf: INI parsing through libinih, validated against key tables; errors carry file:line. */
#include "conf.h"

#include "drivers.h"
#include "log.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct drv_key conf_daemon_keys[] = {
    {"state_dir",           DRV_KEY_STRING, "/var/lib/sitewatch", "where state files live"},
    {"log_level", DRV_KEY_STRING, "info", "error, warning, notice, info or debug"},
    {"site_name",                     DRV_KEY_STRING, "sitewatch", "shown in the console, the API and mails"},
    {0      },
};

static const struct drv_key conf_http_keys[] = {
    {"listen",          DRV_KEY_STRING, "127.0.0.1:8080", "address:port of the console and JSON API"},
    {"web_root", DRV_KEY_STRING, "/usr/share/sitewatch/web", "directory of the console files"},
    {0                },
};

const struct drv_key conf_device_keys[] = {
    {"driver", DRV_KEY_STRING, NULL, "which driver reads this device (sitewatchd --list-drivers)"},
    {"instance",    DRV_KEY_INT, "auto", "device instance; auto numbers each service class from 0"},
    {0       },
};

static const struct {
    const char *name;
    const struct drv_key *keys;
} conf_sections[] = {
    {"daemon", conf_daemon_keys},
    {"http",   conf_http_keys  },
};

const struct drv_key *conf_section_keys(const char *section)
{
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(conf_sections); i++)
        if (strcmp(conf_sections[i].name, section) == 0)
            return conf_sections[i].keys;
    return NULL;
}

static const struct drv_key *conf_key_find(const struct drv_key *keys, const char *name)
{
    for (; keys && keys->name; keys++)
        if (strcmp(keys->name, name) == 0)
            return keys;
    return NULL;
}

/* Parser state shared by the line reader and the inih handler. */
struct conf_parse {
    const char *name;
    const char *text; /* remaining input */
    int line;         /* number of the line inih is handling */
    char err[512];
    bool failed;
    struct conf *conf;
    /* current section */
    const struct drv_key *sect_keys; /* fixed section keys, or NULL in a device section */
    struct conf_device *dev;         /* current device section */
    struct conf_kv *fixed;           /* key/values of fixed sections (for duplicate checks) */
    size_t nfixed;
};

static void conf_fail(struct conf_parse *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void conf_fail(struct conf_parse *p, int line, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(p->err, sizeof(p->err), "%s:%d: %s", p->name, line, msg);
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

/* A "[...]" line: validates the section header and opens the section. */
static void conf_section_line(struct conf_parse *p, const char *line, size_t len)
{
    char hdr[128];
    const char *close = memchr(line, ']', len);
    if (!close || (size_t)(close - line) >= sizeof(hdr)) {
        conf_fail(p, p->line, "section header without ']'");
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
    p->sect_keys = NULL;
    p->dev = NULL;
    if (strcmp(type, "device") == 0) {
        if (!conf_name_ok(name)) {
            conf_fail(p, p->line,
                      "[device NAME] needs a name of letters, digits, '_' or '-' (at most %d)",
                      STORE_NAME_MAX - 1);
            return;
        }
        struct conf *c = p->conf;
        for (size_t i = 0; i < c->ndevices; i++)
            if (strcmp(c->devices[i].name, name) == 0) {
                conf_fail(p, p->line, "device '%s' is already defined at line %d", name,
                          c->devices[i].line);
                return;
            }
        c->devices = xrealloc(c->devices, (c->ndevices + 1) * sizeof(*c->devices));
        p->dev = &c->devices[c->ndevices++];
        memset(p->dev, 0, sizeof(*p->dev));
        p->dev->name = xstrdup(name);
        p->dev->line = p->line;
        p->dev->instance = -1;
        return;
    }
    p->sect_keys = conf_section_keys(type);
    if (!p->sect_keys) {
        conf_fail(p, p->line, "unknown section [%s] (expected [daemon], [http] or [device NAME])",
                  type);
        return;
    }
    if (*name)
        conf_fail(p, p->line, "section [%s] takes no name", type);
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
        conf_fail(p, p->line, "line longer than %d characters", num - 3);
        copy = 0; /* hand inih an empty line instead */
    }
    memcpy(str, p->text, copy);
    str[copy] = '\0';
    p->text += len;
    const char *s = str;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s == '[')
        conf_section_line(p, s, strlen(s));
    return str;
}

static int conf_check_value(struct conf_parse *p, const struct drv_key *k, const char *value)
{
    bool b;
    int64_t ms;
    long l;
    switch (k->type) {
    case DRV_KEY_STRING:
        if (!*value) {
            conf_fail(p, p->line, "%s needs a value", k->name);
            return -EINVAL;
        }
        return 0;
    case DRV_KEY_BOOL:
        if (util_parse_bool(value, &b) != 0) {
            conf_fail(p, p->line, "%s = %s: expected yes or no", k->name, value);
            return -EINVAL;
        }
        return 0;
    case DRV_KEY_DURATION:
        if (util_parse_duration_ms(value, &ms) != 0) {
            conf_fail(p, p->line, "%s = %s: expected a duration with a unit (500ms, 5s, 2m, 1h)",
                      k->name, value);
            return -EINVAL;
        }
        return 0;
    case DRV_KEY_INT:
        if (k->def && strcmp(value, k->def) == 0)
            return 0;
        if (util_parse_long(value, 10, 0, 65535, &l) != 0) {
            conf_fail(p, p->line, "%s = %s: expected a whole number from 0 to 65535", k->name,
                      value);
            return -EINVAL;
        }
        return 0;
    }
    return -EINVAL;
}

static bool conf_kv_has(const struct conf_kv *kv, size_t n, const char *sect, const char *key,
                        int *line)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i].key, key) == 0 && (!sect || strcmp(kv[i].value, sect) == 0)) {
            *line = kv[i].line;
            return true;
        }
    return false;
}

static void conf_set_fixed(struct conf_parse *p, const char *section, const char *name,
                           const char *value)
{
    struct conf *c = p->conf;
    char **slot = NULL;
    if (strcmp(section, "daemon") == 0) {
        if (strcmp(name, "state_dir") == 0)
            slot = &c->state_dir;
        else if (strcmp(name, "site_name") == 0)
            slot = &c->site_name;
        else if (strcmp(name, "log_level") == 0) {
            int lvl = log_level_parse(value);
            if (lvl < 0) {
                conf_fail(p, p->line,
                          "log_level = %s: expected error, warning, notice, info or debug", value);
                return;
            }
            c->log_level = lvl;
        }
    } else if (strcmp(section, "http") == 0) {
        if (strcmp(name, "listen") == 0) {
            char host[64];
            int port;
            if (util_parse_hostport(value, host, sizeof(host), &port) != 0 || port == 0) {
                conf_fail(p, p->line, "listen = %s: expected address:port, e.g. 127.0.0.1:8080",
                          value);
                return;
            }
            slot = &c->http_listen;
        } else if (strcmp(name, "web_root") == 0) {
            slot = &c->web_root;
        }
    }
    if (slot) {
        free(*slot);
        *slot = xstrdup(value);
    }
}

static int conf_handler(void *user, const char *section, const char *name, const char *value)
{
    struct conf_parse *p = user;
    if (p->failed)
        return 1;
    if (!*section) {
        conf_fail(p, p->line, "'%s' outside any section", name);
        return 1;
    }
    if (p->dev) {
        struct conf_device *d = p->dev;
        int prev;
        if (conf_kv_has(d->kv, d->nkv, NULL, name, &prev)) {
            conf_fail(p, p->line, "%s is already set at line %d", name, prev);
            return 1;
        }
        d->kv = xrealloc(d->kv, (d->nkv + 1) * sizeof(*d->kv));
        d->kv[d->nkv++] = (struct conf_kv){xstrdup(name), xstrdup(value), p->line};
        return 1;
    }
    if (!p->sect_keys)
        return 1; /* the section header already failed */
    const struct drv_key *k = conf_key_find(p->sect_keys, name);
    if (!k) {
        conf_fail(p, p->line, "unknown key '%s' in [%s]", name, section);
        return 1;
    }
    int prev;
    if (conf_kv_has(p->fixed, p->nfixed, section, name, &prev)) {
        conf_fail(p, p->line, "%s is already set at line %d", name, prev);
        return 1;
    }
    /* fixed keeps key + section (in value) for the duplicate check */
    p->fixed = xrealloc(p->fixed, (p->nfixed + 1) * sizeof(*p->fixed));
    p->fixed[p->nfixed++] = (struct conf_kv){xstrdup(name), xstrdup(section), p->line};
    if (conf_check_value(p, k, value) == 0)
        conf_set_fixed(p, section, name, value);
    return 1;
}

/* Checks a device section once all its keys are read: driver known, keys and values valid. */
static void conf_check_device(struct conf_parse *p, struct conf_device *d)
{
    const char *drv = conf_device_value(d, "driver");
    if (!drv) {
        conf_fail(p, d->line, "[device %s] has no 'driver =' line", d->name);
        return;
    }
    d->drv = drivers_find(drv);
    for (size_t i = 0; i < d->nkv; i++) {
        struct conf_kv *kv = &d->kv[i];
        p->line = kv->line;
        const struct drv_key *k = conf_key_find(conf_device_keys, kv->key);
        if (!k && d->drv)
            k = conf_key_find(d->drv->keys, kv->key);
        if (strcmp(kv->key, "driver") == 0 && !d->drv) {
            conf_fail(p, kv->line, "unknown driver '%s' (sitewatchd --list-drivers lists them)",
                      kv->value);
            return;
        }
        if (!k) {
            conf_fail(p, kv->line, "unknown key '%s' for driver %s", kv->key, drv);
            return;
        }
        if (conf_check_value(p, k, kv->value) != 0)
            return;
        if (strcmp(kv->key, "instance") == 0 && strcmp(kv->value, "auto") != 0) {
            long l = 0;
            util_parse_long(kv->value, 10, 0, 65535, &l);
            d->instance = (int)l;
        }
    }
    for (const struct drv_key *k = d->drv->keys; k && k->name; k++)
        if (!k->def && !conf_device_value(d, k->name)) {
            conf_fail(p, d->line, "[device %s] needs '%s =' (%s)", d->name, k->name, k->help);
            return;
        }
}

static struct conf *conf_new(const char *name)
{
    struct conf *c = xcalloc(1, sizeof(*c));
    c->path = xstrdup(name);
    c->state_dir = xstrdup(conf_daemon_keys[0].def);
    c->log_level = LOG_INFO;
    c->site_name = xstrdup(conf_daemon_keys[2].def);
    c->http_listen = xstrdup(conf_http_keys[0].def);
    c->web_root = xstrdup(conf_http_keys[1].def);
    return c;
}

int conf_parse_string(const char *name, const char *text, struct conf **out, char *err,
                      size_t errlen)
{
    struct conf_parse p = {.name = name, .text = text, .conf = conf_new(name)};
    /* Each key is one line: a continuation line is a typo, not a multi-line value. */
    ini_allow_multiline = false;
    int r = ini_parse_stream(conf_reader, &p, conf_handler, &p);
    if (r > 0)
        conf_fail(&p, r, "syntax error: expected [section], key = value, or a ; or # comment");
    for (size_t i = 0; i < p.conf->ndevices && !p.failed; i++)
        conf_check_device(&p, &p.conf->devices[i]);
    for (size_t i = 0; i < p.nfixed; i++) {
        free(p.fixed[i].key);
        free(p.fixed[i].value);
    }
    free(p.fixed);
    if (p.failed) {
        util_strlcpy(err, p.err, errlen);
        conf_free(p.conf);
        return -EINVAL;
    }
    *out = p.conf;
    return 0;
}

int conf_load(const char *path, struct conf **out, char *err, size_t errlen)
{
    char *text;
    size_t len;
    int r = util_read_file(path, 1 << 20, &text, &len);
    if (r < 0) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(-r));
        return r;
    }
    if (strlen(text) != len) {
        snprintf(err, errlen, "%s: contains a NUL byte: not a text file", path);
        free(text);
        return -EINVAL;
    }
    r = conf_parse_string(path, text, out, err, errlen);
    free(text);
    return r;
}

void conf_free(struct conf *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->ndevices; i++) {
        struct conf_device *d = &c->devices[i];
        for (size_t j = 0; j < d->nkv; j++) {
            free(d->kv[j].key);
            free(d->kv[j].value);
        }
        free(d->kv);
        free(d->name);
    }
    free(c->devices);
    free(c->path);
    free(c->state_dir);
    free(c->site_name);
    free(c->http_listen);
    free(c->web_root);
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
    if (strcmp(a->name, b->name) != 0 || a->drv != b->drv || a->nkv != b->nkv)
        return false;
    for (size_t i = 0; i < a->nkv; i++) {
        const char *v = conf_device_value(b, a->kv[i].key);
        if (!v || strcmp(v, a->kv[i].value) != 0)
            return false;
    }
    return true;
}
