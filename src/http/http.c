/* http: libmicrohttpd front end. Routes /api/ to api.c and serves the console's files from the web
 * root, refusing anything that could leave it. */
#include "http.h"

#include "core/log.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* Connections: at most HTTP_CONN_LIMIT at once, and at most HTTP_PER_IP_LIMIT from one address,
 * so that one host holding idle connections cannot lock the console out for everybody else
 * (tests/faults: flood_http). 64 per address still serves 50 console tabs / SSE clients of one
 * machine. An idle connection is closed after HTTP_CONN_TIMEOUT_S. */
#define HTTP_CONN_LIMIT 256
#define HTTP_PER_IP_LIMIT 64
#define HTTP_CONN_TIMEOUT_S 15
#define HTTP_MEMORY_LIMIT (64 * 1024)
#define HTTP_BODY_MAX (256 * 1024)
#define HTTP_THREAD_STACK (256 * 1024)
#define HTTP_PEM_MAX (64 * 1024)

struct http_server {
    struct MHD_Daemon *mhd;
    char web_root[PATH_MAX];
    struct api_ctx *ctx;
    char *tls_cert, *tls_key; /* PEM text, NULL without TLS */
};

static const struct {
    const char *ext;
    const char *type;
} http_types[] = {
    {".html", "text/html; charset=utf-8"      },
    {".css",  "text/css; charset=utf-8"       },
    {".js",   "text/javascript; charset=utf-8"},
    {".json", "application/json"              },
    {".svg",  "image/svg+xml"                 },
    {".png",  "image/png"                     },
    {".ico",  "image/x-icon"                  },
};

static const char *http_type(const char *path)
{
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < UTIL_ARRAY_SIZE(http_types); i++)
        if (strcmp(dot, http_types[i].ext) == 0)
            return http_types[i].type;
    return "application/octet-stream";
}

static enum MHD_Result http_send(struct MHD_Connection *c, int status, const char *type,
                                 struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    /* The console loads nothing from elsewhere and is never framed. */
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' data:; style-src 'self' "
                            "'unsafe-inline'; frame-ancestors 'none'");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "same-origin");
    enum MHD_Result r = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result http_text(struct MHD_Connection *c, int status, const char *msg)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(msg), (void *)(uintptr_t)msg, MHD_RESPMEM_MUST_COPY);
    return http_send(c, status, "text/plain; charset=utf-8", resp);
}

/* Only plain relative names: letters, digits, '-', '_', '.', '/', and no "..". */
static bool http_path_ok(const char *p)
{
    if (strstr(p, "..") || strstr(p, "//"))
        return false;
    for (; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.' || *p == '/'))
            return false;
    return true;
}

static enum MHD_Result http_static(struct http_server *h, struct MHD_Connection *c, const char *url)
{
    const char *rel = strcmp(url, "/") == 0 ? "index.html" : url + 1;
    if (!http_path_ok(rel))
        return http_text(c, 400, "bad path\n");
    char path[PATH_MAX];
    if (util_snprintf(path, sizeof(path), "%s/%s", h->web_root, rel) != 0)
        return http_text(c, 414, "path too long\n");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return http_text(c, 404, "not found\n");
    }
    struct MHD_Response *resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    if (!resp) {
        close(fd);
        return http_text(c, 500, "cannot answer\n");
    }
    return http_send(c, 200, http_type(path), resp);
}

static const char *http_arg(void *req, const char *name)
{
    return MHD_lookup_connection_value(req, MHD_GET_ARGUMENT_KIND, name);
}

static const char *http_header(void *req, const char *name)
{
    return MHD_lookup_connection_value(req, MHD_HEADER_KIND, name);
}

/* Streaming replies (SSE): pull from the api_stream; its read may block about a second, which is
 * fine with a thread per connection and lets a slow client hold only its own thread. */
static ssize_t http_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct api_stream *st = cls;
    long n = st->read(st->cls, buf, max);
    return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : (ssize_t)n;
}

static void http_stream_free(void *cls)
{
    struct api_stream *st = cls;
    if (st->free)
        st->free(st->cls);
    free(st);
}

/* Per-request state: the body as it arrives. */
struct http_req {
    char *body;
    size_t len;
    bool too_big;
};

static void http_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                           enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct http_req *r = *con_cls;
    if (r) {
        free(r->body);
        free(r);
        *con_cls = NULL;
    }
}

static void http_peer(struct MHD_Connection *c, char *buf, size_t len, bool *loopback)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    *loopback = false;
    util_strlcpy(buf, "?", len);
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, buf, (socklen_t)len);
        *loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, buf, (socklen_t)len);
        *loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
}

static enum MHD_Result http_handler(void *cls, struct MHD_Connection *c, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_data_size,
                                    void **con_cls)
{
    (void)version;
    struct http_server *h = cls;
    struct http_req *rq = *con_cls;
    /* First call per request: headers only. */
    if (!rq) {
        *con_cls = rq = xcalloc(1, sizeof(*rq));
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        if (!rq->too_big && rq->len + *upload_data_size <= HTTP_BODY_MAX) {
            rq->body = xrealloc(rq->body, rq->len + *upload_data_size + 1);
            memcpy(rq->body + rq->len, upload_data, *upload_data_size);
            rq->len += *upload_data_size;
            rq->body[rq->len] = '\0';
        } else {
            rq->too_big = true; /* keep draining; answer 413 at the end */
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (rq->too_big)
        return http_text(c, 413, "request body too large\n");
    if (strncmp(url, "/api/", 5) == 0) {
        char peer[64];
        bool loopback;
        http_peer(c, peer, sizeof(peer), &loopback);
        struct api_request areq = {
            .method = method,
            .path = url,
            .body = rq->body ? rq->body : "",
            .body_len = rq->len,
            .client = peer,
            .from_loopback = loopback,
            .arg = http_arg,
            .header = http_header,
            .req = c,
        };
        struct api_reply rep;
        if (api_authorize(h->ctx, &areq, &rep))
            api_handle(h->ctx, &areq, &rep);
        struct MHD_Response *resp = NULL;
        if (rep.stream.read) {
            struct api_stream *st = xmalloc(sizeof(*st));
            *st = rep.stream;
            rep.stream = (struct api_stream){0};
            resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, http_stream_read, st,
                                                     http_stream_free);
            if (!resp)
                http_stream_free(st);
        } else if (rep.body) {
            resp = MHD_create_response_from_buffer(rep.len, rep.body, MHD_RESPMEM_MUST_FREE);
            rep.body = NULL;
        }
        for (size_t i = 0; resp && i < UTIL_ARRAY_SIZE(rep.set_cookie); i++)
            if (rep.set_cookie[i])
                MHD_add_response_header(resp, "Set-Cookie", rep.set_cookie[i]);
        api_reply_free(&rep);
        if (!resp)
            return http_text(c, 500, "cannot encode reply\n");
        if (rep.extra_header) {
            const char *colon = strchr(rep.extra_header, ':');
            if (colon) {
                char name[64];
                size_t n = (size_t)(colon - rep.extra_header);
                if (n < sizeof(name)) {
                    memcpy(name, rep.extra_header, n);
                    name[n] = '\0';
                    MHD_add_response_header(resp, name, colon + 1 + (colon[1] == ' '));
                }
            }
        }
        return http_send(c, rep.status, rep.type, resp);
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return http_text(c, 405, "method not allowed\n");
    return http_static(h, c, url);
}

static void http_free_tls(struct http_server *h)
{
    if (h->tls_key)
        explicit_bzero(h->tls_key, strlen(h->tls_key));
    free(h->tls_key);
    free(h->tls_cert);
}

struct http_server *http_start(const char *listen, const char *web_root, const char *tls_cert,
                               const char *tls_key, struct api_ctx *ctx)
{
    bool tls = tls_cert && tls_cert[0];
    char *cert = NULL, *key = NULL;
    size_t len;
    if (tls || (tls_key && tls_key[0])) {
        int e = tls && tls_key && tls_key[0] ? 0 : -EINVAL;
        if (e == 0)
            e = util_read_file(tls_cert, HTTP_PEM_MAX, &cert, &len);
        if (e == 0)
            e = util_read_file(tls_key, HTTP_PEM_MAX, &key, &len);
        if (e != 0) {
            log_msg(LOG_ERR, "http: HTTPS needs readable tls_cert and tls_key files (%s, %s): %s",
                    tls_cert ? tls_cert : "", tls_key ? tls_key : "", strerror(-e));
            free(cert);
            free(key);
            return NULL;
        }
    }
    char host[128];
    int port;
    if (util_parse_hostport(listen, host, sizeof(host), &port) != 0) {
        log_msg(LOG_ERR, "http: bad listen address '%s'", listen);
        free(cert);
        free(key);
        return NULL;
    }
    char service[8];
    snprintf(service, sizeof(service), "%d", port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICHOST};
    struct addrinfo *ai;
    int g = getaddrinfo(host, service, &hints, &ai);
    if (g != 0) {
        log_msg(LOG_ERR, "http: listen address '%s' is not a numeric address: %s", listen,
                gai_strerror(g));
        free(cert);
        free(key);
        return NULL;
    }
    struct http_server *h = xcalloc(1, sizeof(*h));
    h->ctx = ctx;
    if (!realpath(web_root, h->web_root))
        util_strlcpy(h->web_root, web_root, sizeof(h->web_root));
    /* A thread per connection: a slow client (or a Server-Sent Events stream waiting for changes)
     * holds only its own thread, never the others' requests. Threads are capped by
     * HTTP_CONN_LIMIT and have small stacks. */
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (tls)
        flags |= MHD_USE_TLS;
    h->mhd = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, http_handler, h, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONN_LIMIT, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)HTTP_PER_IP_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_CONN_TIMEOUT_S,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_MEMORY_LIMIT, MHD_OPTION_NOTIFY_COMPLETED,
        http_completed, NULL, MHD_OPTION_THREAD_STACK_SIZE, (size_t)HTTP_THREAD_STACK,
        /* without TLS the list ends here; with it, the PEM buffers live in h until stop */
        tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert, MHD_OPTION_HTTPS_MEM_KEY, key,
        MHD_OPTION_END);
    freeaddrinfo(ai);
    h->tls_cert = cert; /* kept while the daemon runs: libmicrohttpd holds the pointers */
    h->tls_key = key;
    if (!h->mhd) {
        log_msg(LOG_ERR, "http: cannot listen on %s (in use, or no permission?)", listen);
        http_free_tls(h);
        free(h);
        return NULL;
    }
    log_msg(LOG_INFO, "http: console and API on %s://%s/", tls ? "https" : "http", listen);
    return h;
}

void http_stop(struct http_server *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->mhd);
    http_free_tls(h);
    free(h);
}
