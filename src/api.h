/* api: the JSON API (/api/v1/...), independent of the HTTP library so it can be tested directly. */
#ifndef SITEWATCH_API_H
#define SITEWATCH_API_H

#include "store.h"

#include <stddef.h>
#include <stdint.h>

struct api_reply {
    int status;       /* HTTP status */
    const char *type; /* content type */
    char *body;       /* malloc'd */
    size_t len;
};

struct api_ctx {
    struct store *store;
    const char *site_name;
    int64_t start_mono_ms;
};

/* Looks up a query argument of the request, NULL when absent. */
typedef const char *(*api_arg_fn)(void *req, const char *name);

/* Answers method + path (without the query). Always fills out (404 / 405 / 400 as JSON errors). */
void api_handle(const struct api_ctx *ctx, const char *method, const char *path, api_arg_fn arg,
                void *req, struct api_reply *out);
void api_reply_free(struct api_reply *r);

/* The JSON name of a point state. */
const char *api_state_name(enum point_state s);

#endif
