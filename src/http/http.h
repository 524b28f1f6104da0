/* http: the libmicrohttpd server: JSON API routes and the console's static files. */
#ifndef SITEWATCH_HTTP_H
#define SITEWATCH_HTTP_H

#include "core/api.h"

struct http_server;

/* Starts listening on listen ("addr:port"); web_root holds the console files. With tls_cert and
 * tls_key (PEM files; "" or NULL for plain HTTP) it serves HTTPS. NULL + log line on failure. ctx
 * must outlive the server. */
struct http_server *http_start(const char *listen, const char *web_root, const char *tls_cert,
                               const char *tls_key, struct api_ctx *ctx);
void http_stop(struct http_server *h);

#endif
