/* fuzz_api: libFuzzer target for the JSON API as the HTTP server drives it: routing, query
 * arguments, cookies and headers read by the access hook (sessions, CSRF, origin checks), and the
 * JSON bodies of POST/DELETE routes, through api_handle with a fake api_request. The real
 * services are started once on a private state directory with logins on, so every route that
 * parses input is reachable; a login with the configured password (sha512-crypt at 1000 rounds,
 * cheap on purpose) gives the fuzzer a session to replay.
 *
 * Input: fields separated by '\n': method selector, path, query ("a=1&b=2", URL-decoded like
 * libmicrohttpd does before handlers see it), Cookie, Origin, X-CSRF-Token, then the body (the
 * rest, newlines included). A leading byte selects loopback or not. */
#define _XOPEN_SOURCE 700 /* nftw */

#include "core/api.h"
#include "core/conf.h"
#include "core/log.h"
#include "core/service.h"
#include "core/store.h"
#include "core/util.h"

#include "fuzz_tmpdir.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern const struct service service_auth, service_battery, service_alarm, service_events,
    service_console;

static const struct service *const fuzz_services[] = {
    &service_auth, &service_battery, &service_alarm, &service_events, &service_console,
};
#define FUZZ_NSERVICES (sizeof(fuzz_services) / sizeof(fuzz_services[0]))

static struct {
    char dir[64];
    struct conf *conf;
    struct store *store;
    struct api_ctx api;
    struct core core;
    void *inst[FUZZ_NSERVICES];
} fz;

static int fuzz_command(struct core *core, const char *device, const char *name, const char *arg)
{
    (void)core;
    (void)name;
    (void)arg;
    return strcmp(device, "bmv") == 0 ? 0 : -ENOENT;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_init("fuzz_api", LOG_CRIT, false);
    util_strlcpy(fz.dir, fuzz_tmpdir("fuzz-api"), sizeof(fz.dir));
    char text[2048], err[512];
    (void)util_snprintf(text, sizeof(text),
                        "[daemon]\nstate_dir = %s\nsite_name = fuzz\n"
                        "[access]\nrequire_login = no\n"
                        "[user ann]\nrole = admin\n"
                        "password_hash = "
                        "$6$rounds=1000$AnHYdci2F9NrTDo1$YLPshK9bRRHi43CPnKesnJeYeo7dJJbcH2/"
                        "csF3hBtzjBwjb9uW1XBSiztsDDI2gP9naWae4EwFUtD0SR3Mm/1\n"
                        "[battery house]\ncurrent = bmv/Dc/0/Current\n"
                        "voltage = bmv/Dc/0/Voltage\ncapacity = 200\n"
                        "[alarm low]\nwhen = bmv/Dc/0/Voltage < 24\nseverity = alarm\n",
                        fz.dir);
    if (conf_parse_string("fuzz.conf", text, &fz.conf, err, sizeof(err)) != 0) {
        fprintf(stderr, "fuzz_api: %s\n", err);
        abort();
    }
    fz.store = store_new(1024, 32);
    int dev = store_device_add(fz.store, "bmv", "vedirect");
    int v = store_point_define(fz.store, dev, "bmv/Dc/0/Voltage", "V", 10000);
    int a = store_point_define(fz.store, dev, "bmv/Dc/0/Current", "A", 10000);
    (void)store_set(fz.store, v, 23.5);
    (void)store_set(fz.store, a, -3.25);
    api_init(&fz.api, fz.store, "fuzz");
    fz.core = (struct core){
        .store = fz.store, .conf = fz.conf, .api = &fz.api, .device_command = fuzz_command};
    for (size_t i = 0; i < FUZZ_NSERVICES; i++)
        if (fuzz_services[i]->start(&fz.core, &fz.inst[i]) != 0) {
            fprintf(stderr, "fuzz_api: service %s did not start\n", fuzz_services[i]->name);
            abort();
        }
    return 0;
}

/* The parsed request: NUL-terminated fields in one buffer. */
struct fuzz_req {
    const char *query, *cookie, *origin, *csrf;
};

/* Finds name in an "a=1&b=2" query: the value is copied into a static-free buffer per call. */
static const char *fuzz_query_find(const char *q, const char *name, char *buf, size_t len)
{
    size_t nl = strlen(name);
    for (const char *p = q; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t seg = amp ? (size_t)(amp - p) : strlen(p);
        if (seg >= nl && strncmp(p, name, nl) == 0 && (seg == nl || p[nl] == '=')) {
            size_t vl = seg > nl ? seg - nl - 1 : 0;
            if (vl >= len)
                vl = len - 1;
            memcpy(buf, p + nl + (seg > nl), vl);
            buf[vl] = '\0';
            return buf;
        }
        p = amp ? amp + 1 : NULL;
    }
    return NULL;
}

/* The handlers read at most a few arguments per request: a small ring of buffers keeps every
 * returned pointer valid for the duration of one request. */
static char fuzz_argbuf[8][512];
static unsigned fuzz_argnext;

static const char *fuzz_arg(void *req, const char *name)
{
    const struct fuzz_req *r = req;
    char *buf = fuzz_argbuf[fuzz_argnext++ % 8];
    return fuzz_query_find(r->query, name, buf, sizeof(fuzz_argbuf[0]));
}

static const char *fuzz_header(void *req, const char *name)
{
    const struct fuzz_req *r = req;
    if (strcasecmp(name, "Cookie") == 0)
        return *r->cookie ? r->cookie : NULL;
    if (strcasecmp(name, "Origin") == 0)
        return *r->origin ? r->origin : NULL;
    if (strcasecmp(name, "X-CSRF-Token") == 0)
        return *r->csrf ? r->csrf : NULL;
    if (strcasecmp(name, "Host") == 0)
        return "127.0.0.1:8080";
    return NULL;
}

static char *fuzz_field(char **p, char *end)
{
    char *s = *p;
    char *nl = s < end ? memchr(s, '\n', (size_t)(end - s)) : NULL;
    if (!nl) {
        *p = end;
        return s < end ? s : end;
    }
    *nl = '\0';
    *p = nl + 1;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const methods[] = {"GET", "POST", "DELETE", "PUT", "HEAD", "OPTIONS"};
    if (size < 2)
        return 0;
    uint8_t flags = data[0];
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    char *p = buf, *end = buf + size - 1;
    char *msel = fuzz_field(&p, end);
    char *path = fuzz_field(&p, end);
    struct fuzz_req fr;
    fr.query = fuzz_field(&p, end);
    fr.cookie = fuzz_field(&p, end);
    fr.origin = fuzz_field(&p, end);
    fr.csrf = fuzz_field(&p, end);
    /* The body is the rest, NUL-terminated like http.c's copy (embedded NULs stay in body_len). */
    const char *body = p < end ? p : "";
    size_t body_len = p < end ? (size_t)(end - p) : 0;
    struct api_request r = {
        .method = methods[(msel[0] ? (uint8_t)msel[0] : 0) % 6],
        .path = path,
        .body = body,
        .body_len = body_len,
        .client = (flags & 1) ? "127.0.0.1" : "192.0.2.7",
        .from_loopback = flags & 1,
        .arg = fuzz_arg,
        .header = fuzz_header,
        .req = &fr,
    };
    struct api_reply out = {0};
    if (api_authorize(&fz.api, &r, &out))
        api_handle(&fz.api, &r, &out);
    if (out.status < 100 || out.status > 599)
        abort(); /* every request gets a real HTTP status */
    /* A stream (SSE) is only released: its reads block for a second by design. */
    api_reply_free(&out);
    free(buf);
    return 0;
}
