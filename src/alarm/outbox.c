/* outbox: one JSON file per message (seq-named), an in-memory index, atomic writes. */
#include "outbox.h"

#include "core/log.h"
#include "core/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct outbox_entry {
    uint64_t seq;
    char route[64];
    size_t bytes;
};

struct outbox {
    pthread_mutex_t lock;
    char dir[PATH_MAX - 64];
    size_t max_messages, max_bytes;
    struct outbox_entry *e; /* sorted by seq */
    size_t n, cap, bytes;
    uint64_t next_seq, refused;
};

static void outbox_path(const struct outbox *ob, uint64_t seq, char *buf, size_t len)
{
    (void)util_snprintf(buf, len, "%s/%020" PRIu64 ".msg", ob->dir, seq);
}

static int outbox_cmp(const void *a, const void *b)
{
    const struct outbox_entry *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void outbox_append(struct outbox *ob, uint64_t seq, const char *route, size_t bytes)
{
    if (ob->n == ob->cap) {
        ob->cap = ob->cap ? ob->cap * 2 : 64;
        ob->e = xrealloc(ob->e, ob->cap * sizeof(*ob->e));
    }
    struct outbox_entry *x = &ob->e[ob->n++];
    x->seq = seq;
    util_strlcpy(x->route, route, sizeof(x->route));
    x->bytes = bytes;
    ob->bytes += bytes;
}

/* Reads and decodes one message file. */
static int outbox_read(const char *path, struct outbox_msg *m)
{
    char *text;
    size_t len;
    int r = util_read_file(path, 64 << 20, &text, &len);
    if (r < 0)
        return r;
    json_t *doc = json_loadb(text, len, 0, NULL);
    free(text);
    const char *route = json_string_value(json_object_get(doc, "route"));
    const char *id = json_string_value(json_object_get(doc, "message_id"));
    json_t *data = json_object_get(doc, "data");
    if (!route || !id || !json_is_string(data)) {
        json_decref(doc);
        return -EBADMSG;
    }
    m->route = xstrdup(route);
    m->message_id = xstrdup(id);
    m->len = json_string_length(data);
    m->data = xmalloc(m->len + 1);
    memcpy(m->data, json_string_value(data), m->len);
    m->data[m->len] = '\0';
    m->created_wall_ms = json_integer_value(json_object_get(doc, "created"));
    json_decref(doc);
    return 0;
}

struct outbox *outbox_open(const char *dir, size_t max_messages, size_t max_bytes)
{
    int r = util_mkdirs(dir, 0700);
    DIR *d = r == 0 ? opendir(dir) : NULL;
    if (!d) {
        log_msg(LOG_ERR, "outbox: cannot open %s: %s", dir, strerror(r ? -r : errno));
        return NULL;
    }
    struct outbox *ob = xcalloc(1, sizeof(*ob));
    pthread_mutex_init(&ob->lock, NULL);
    util_strlcpy(ob->dir, dir, sizeof(ob->dir));
    ob->max_messages = max_messages;
    ob->max_bytes = max_bytes;
    ob->next_seq = 1;
    struct dirent *de;
    char path[PATH_MAX], bad[PATH_MAX + 8];
    while ((de = readdir(d)) != NULL) {
        size_t nl = strlen(de->d_name);
        if (nl > 4 && strcmp(de->d_name + nl - 4, ".tmp") == 0) {
            /* a write that a crash interrupted: it was never acknowledged to anyone */
            (void)util_snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
            unlink(path);
            continue;
        }
        if (nl != 24 || strcmp(de->d_name + 20, ".msg") != 0)
            continue;
        char num[21];
        memcpy(num, de->d_name, 20);
        num[20] = '\0';
        char *end;
        errno = 0;
        unsigned long long seq = strtoull(num, &end, 10);
        if (errno || *end || seq == 0)
            continue;
        (void)util_snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        struct outbox_msg m = {0};
        if (outbox_read(path, &m) != 0) {
            (void)util_snprintf(bad, sizeof(bad), "%s.bad", path);
            log_msg(LOG_WARNING, "outbox: %s is unreadable: moved aside to %s", path, bad);
            if (rename(path, bad) != 0)
                unlink(path);
            continue;
        }
        outbox_append(ob, seq, m.route, m.len);
        if (seq >= ob->next_seq)
            ob->next_seq = seq + 1;
        outbox_msg_clear(&m);
    }
    closedir(d);
    if (ob->n)
        qsort(ob->e, ob->n, sizeof(*ob->e), outbox_cmp);
    if (ob->n)
        log_msg(LOG_NOTICE, "outbox: %zu message(s) waiting in %s", ob->n, dir);
    return ob;
}

void outbox_close(struct outbox *ob)
{
    if (!ob)
        return;
    free(ob->e);
    pthread_mutex_destroy(&ob->lock);
    free(ob);
}

static int outbox_put_any(struct outbox *ob, const char *route, const char *message_id,
                          const char *domain, const char *data, size_t len, uint64_t *seq_out,
                          bool force)
{
    pthread_mutex_lock(&ob->lock);
    if (!force && (ob->n >= ob->max_messages || ob->bytes + len > ob->max_bytes)) {
        ob->refused++;
        pthread_mutex_unlock(&ob->lock);
        return -ENOSPC;
    }
    uint64_t seq = ob->next_seq++;
    char id[256];
    if (message_id)
        util_strlcpy(id, message_id, sizeof(id));
    else
        (void)util_snprintf(id, sizeof(id), "<%" PRIu64 ".%lld@%s>", seq, (long long)util_wall_ms(),
                            domain ? domain : "sitewatch");
    json_t *doc = json_pack("{s:s, s:s, s:I, s:s%}", "route", route, "message_id", id, "created",
                            (json_int_t)util_wall_ms(), "data", data, len);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    char path[PATH_MAX];
    outbox_path(ob, seq, path, sizeof(path));
    /* Written under the lock so files appear in sequence order. */
    int r = text ? util_write_atomic(path, text, strlen(text)) : -EINVAL;
    free(text);
    if (r == 0) {
        outbox_append(ob, seq, route, len);
        if (seq_out)
            *seq_out = seq;
    }
    pthread_mutex_unlock(&ob->lock);
    if (r < 0)
        log_msg(LOG_ERR, "outbox: cannot write %s: %s", path, strerror(-r));
    return r;
}

int outbox_peek(struct outbox *ob, const char *route, struct outbox_msg *out)
{
    memset(out, 0, sizeof(*out));
    for (;;) {
        uint64_t seq = 0;
        pthread_mutex_lock(&ob->lock);
        for (size_t i = 0; i < ob->n && !seq; i++)
            if (!route || strcmp(ob->e[i].route, route) == 0)
                seq = ob->e[i].seq;
        pthread_mutex_unlock(&ob->lock);
        if (!seq)
            return -ENOENT;
        char path[PATH_MAX];
        outbox_path(ob, seq, path, sizeof(path));
        int r = outbox_read(path, out);
        if (r == 0) {
            out->seq = seq;
            return 0;
        }
        log_msg(LOG_WARNING, "outbox: %s became unreadable (%s): dropped", path, strerror(-r));
        (void)outbox_done(ob, seq);
    }
}

int outbox_put(struct outbox *ob, const char *route, const char *message_id, const char *domain,
               const char *data, size_t len, uint64_t *seq_out)
{
    return outbox_put_any(ob, route, message_id, domain, data, len, seq_out, false);
}

int outbox_put_replacing(struct outbox *ob, const char *route, const char *message_id,
                         const char *domain, const char *data, size_t len, uint64_t *seq_out)
{
    return outbox_put_any(ob, route, message_id, domain, data, len, seq_out, true);
}

size_t outbox_list(struct outbox *ob, const char *route, uint64_t *seqs, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&ob->lock);
    for (size_t i = 0; i < ob->n && n < max; i++)
        if (strcmp(ob->e[i].route, route) == 0)
            seqs[n++] = ob->e[i].seq;
    pthread_mutex_unlock(&ob->lock);
    return n;
}

int outbox_get(struct outbox *ob, uint64_t seq, struct outbox_msg *out)
{
    memset(out, 0, sizeof(*out));
    if (!outbox_has(ob, seq))
        return -ENOENT;
    char path[PATH_MAX];
    outbox_path(ob, seq, path, sizeof(path));
    int r = outbox_read(path, out);
    if (r == 0)
        out->seq = seq;
    return r;
}

int outbox_done(struct outbox *ob, uint64_t seq)
{
    char path[PATH_MAX];
    outbox_path(ob, seq, path, sizeof(path));
    pthread_mutex_lock(&ob->lock);
    for (size_t i = 0; i < ob->n; i++)
        if (ob->e[i].seq == seq) {
            ob->bytes -= ob->e[i].bytes;
            memmove(&ob->e[i], &ob->e[i + 1], (ob->n - i - 1) * sizeof(*ob->e));
            ob->n--;
            break;
        }
    int r = unlink(path) == 0 || errno == ENOENT ? 0 : -errno;
    pthread_mutex_unlock(&ob->lock);
    /* The unlink must survive a power cut, or the message is sent twice (harmless but noisy). */
    int dfd = open(ob->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return r;
}

bool outbox_has(struct outbox *ob, uint64_t seq)
{
    bool has = false;
    pthread_mutex_lock(&ob->lock);
    for (size_t i = 0; i < ob->n && !has; i++)
        has = ob->e[i].seq == seq;
    pthread_mutex_unlock(&ob->lock);
    return has;
}

void outbox_stats(struct outbox *ob, size_t *messages, size_t *bytes, uint64_t *refused, bool *full)
{
    pthread_mutex_lock(&ob->lock);
    if (messages)
        *messages = ob->n;
    if (bytes)
        *bytes = ob->bytes;
    if (refused)
        *refused = ob->refused;
    if (full)
        *full = ob->n >= ob->max_messages || ob->bytes >= ob->max_bytes;
    pthread_mutex_unlock(&ob->lock);
}

void outbox_msg_clear(struct outbox_msg *m)
{
    free(m->route);
    free(m->message_id);
    free(m->data);
    memset(m, 0, sizeof(*m));
}
