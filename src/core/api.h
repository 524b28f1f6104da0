/* api: the JSON API (/api/v1/...), independent of the HTTP library so it can be tested directly.
 * Built-in routes (points, devices, health) plus routes other modules register at run time. */
#ifndef SITEWATCH_API_H
#define SITEWATCH_API_H

#include "store.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Streaming replies (Server-Sent Events): http.c pulls bytes with read until it returns < 0
 * (end), then calls free. read may block for a bounded time (about a second) and then return 0. */
struct api_stream {
    long (*read)(void *cls, char *buf, size_t max);
    void (*free)(void *cls);
    void *cls;
};

struct api_reply {
    int status;       /* HTTP status */
    const char *type; /* content type (static string) */
    char *body;       /* malloc'd */
    size_t len;
    const char *extra_header; /* optional static "Name: value" line, e.g. Content-Disposition */
    char *set_cookie[2];      /* optional malloc'd Set-Cookie values (the access module) */
    struct api_stream stream; /* when stream.read is set the reply streams instead of body */
};

/* Who is asking (set by the access hook, see api_set_access). */
enum api_role {
    API_ROLE_NONE = 0, /* anonymous */
    API_ROLE_VIEWER,
    API_ROLE_ADMIN,
};

/* Looks up a query argument (or a header) of the request, NULL when absent. */
typedef const char *(*api_arg_fn)(void *req, const char *name);

struct api_request {
    const char *method;
    const char *path; /* without the query string */
    const char *body; /* NUL-terminated copy of the request body ("" when none) */
    size_t body_len;
    const char *client; /* peer address as text */
    bool from_loopback; /* the peer is 127.0.0.0/8 or ::1 */
    api_arg_fn arg;     /* query arguments */
    api_arg_fn header;  /* request headers */
    void *req;          /* passed to arg and header */
    enum api_role role; /* filled by the access hook; API_ROLE_NONE when logins are off */
    char user[32];      /* the logged-in user, "" when none */
};

typedef void (*api_handler)(void *ctx, const struct api_request *r, struct api_reply *out);

/* The access hook (src/http/auth.c): decides who r is (sets r->role, r->user, and clears
 * r->from_loopback when loopback is not trusted) and whether r may go on. Returns true to go on,
 * false after filling out (401 / 403). */
typedef bool (*api_access_fn)(void *actx, struct api_request *r, struct api_reply *out);

#define API_MAX_ROUTES 64

struct api_route {
    const char *method; /* "GET", "POST" */
    const char *path;   /* exact path, or a prefix when it ends with '/' */
    api_handler fn;
    void *ctx;
};

struct api_ctx {
    struct store *store;
    char site_name[128]; /* guarded by lock */
    int64_t start_mono_ms;
    pthread_rwlock_t lock; /* guards routes */
    struct api_route routes[API_MAX_ROUTES];
    size_t nroutes;
    api_access_fn access; /* guarded by lock; NULL = no logins (GET open, POST loopback) */
    void *access_ctx;
    /* Fail closed: until the access module decided (at start, and while services restart on a
     * reload) requests wait for it, at most API_ACCESS_WAIT_MS, then get 503. */
    pthread_mutex_t access_mu;
    pthread_cond_t access_cv; /* CLOCK_MONOTONIC */
    bool access_decided;
};

#define API_ACCESS_WAIT_MS 10000

/* Initialises ctx (store, site name) with no extra routes. */
void api_init(struct api_ctx *ctx, struct store *store, const char *site_name);
void api_destroy(struct api_ctx *ctx);
/* Changes the site name (a reload). */
void api_set_site_name(struct api_ctx *ctx, const char *site_name);
/* Registers a route; method and path must be static strings. 0 or -ENOSPC. */
int api_route_add(struct api_ctx *ctx, const char *method, const char *path, api_handler fn,
                  void *fctx);
/* Removes every route registered with fctx (a module stopping). */
void api_route_remove(struct api_ctx *ctx, void *fctx);

/* Decides access control: installs the hook fn (or none when fn is NULL: logins off) and lets
 * waiting requests go on. */
void api_set_access(struct api_ctx *ctx, api_access_fn fn, void *actx);
/* Withdraws the decision (the access module stopping): requests wait for the next one. */
void api_access_suspend(struct api_ctx *ctx);
/* Runs the access hook on r (a no-op returning true when none is installed). */
bool api_authorize(struct api_ctx *ctx, struct api_request *r, struct api_reply *out);
/* For handlers of state-changing routes: true when r comes from an admin or from a trusted
 * loopback peer; otherwise fills out with 401 (not logged in) or 403 and returns false. */
bool api_require_admin(const struct api_request *r, struct api_reply *out);
/* A streaming reply (see struct api_stream); ownership of cls passes to the reply. */
void api_reply_stream(struct api_reply *out, const char *type, struct api_stream stream);

/* Answers a request. Always fills out (404 / 405 / 400 as JSON errors). */
void api_handle(struct api_ctx *ctx, const struct api_request *r, struct api_reply *out);
void api_reply_free(struct api_reply *r);

/* Helpers for handlers: a JSON document (reference stolen) or {"error": msg}. */
void api_reply_json(struct api_reply *out, int status, json_t *doc);
void api_reply_error(struct api_reply *out, int status, const char *msg);
/* A body of another type (copied). */
void api_reply_data(struct api_reply *out, int status, const char *type, const void *data,
                    size_t len);

/* A point as the API shows it: {"value", "unit", "state", "ts", "age_ms"} (new reference). */
json_t *api_point_json(const struct point *p, int64_t now_mono);

/* The JSON name of a point state. */
const char *api_state_name(enum point_state s);

#endif
