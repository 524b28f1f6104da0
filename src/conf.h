/* conf: the INI configuration, parsed with libinih and validated strictly (file:line errors). */
#ifndef SITEWATCH_CONF_H
#define SITEWATCH_CONF_H

#include "driver.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conf_kv {
    char *key;
    char *value;
    int line;
};

struct conf_device {
    char *name;
    const struct driver *drv;
    int line;
    int instance; /* -1 = automatic */
    struct conf_kv *kv;
    size_t nkv;
};

struct conf {
    char *path;
    /* [daemon] */
    char *state_dir;
    int log_level;
    char *site_name;
    /* [http] */
    char *http_listen;
    char *web_root;
    /* [device NAME] */
    struct conf_device *devices;
    size_t ndevices;
};

/* Parses and validates path. On error returns -EINVAL (or -errno when the file can't be read)
 * and writes "path:line: what is wrong" into err. *out is a new conf on success. */
int conf_load(const char *path, struct conf **out, char *err, size_t errlen);
/* Same for an in-memory text; name is used in messages. */
int conf_parse_string(const char *name, const char *text, struct conf **out, char *err,
                      size_t errlen);
void conf_free(struct conf *c);

/* The configured value of key in a device section, or NULL. */
const char *conf_device_value(const struct conf_device *d, const char *key);
/* True when two device sections would run the same way (used on reload). */
bool conf_device_equal(const struct conf_device *a, const struct conf_device *b);

/* Keys of a fixed section ("daemon", "http"), ended by {0}; NULL for an unknown section. The
 * core keys every [device] accepts besides its driver's are conf_device_keys. */
const struct drv_key *conf_section_keys(const char *section);
extern const struct drv_key conf_device_keys[];

#endif
