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

struct api_reply {
    int status;       /* HTTP status */
    const char *type; /* content type (static string) */
    char *body;       /* malloc'd */
    size_t len;
    const char *extra_header; /* optional static "Name: value" line, e.g. Content-Disposition */
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
};

typedef void (*api_handler)(void *ctx, const struct api_request *r, struct api_reply *out);

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
};

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

/* Answers a request. Always fills out (404 / 405 / 400 as JSON errors). */
void api_handle(struct api_ctx *ctx, const struct api_request *r, struct api_reply *out);
void api_reply_free(struct api_reply *r);

/* Helpers for handlers: a JSON document (reference stolen) or {"error": msg}. */
void api_reply_json(struct api_reply *out, int status, json_t *doc);
void api_reply_error(struct api_reply *out, int status, const char *msg);
/* A body of another type (copied). */
void api_reply_data(struct api_reply *out, int status, const char *type, const void *data,
                    size_t len);

/* The JSON name of a point state. */
const char *api_state_name(enum point_state s);

#endif
