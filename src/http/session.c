/* session: login sessions in a fixed table, ids and CSRF tokens from getrandom(2). */
#include "session.h"

#include "core/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

struct session_slot {
    bool used;
    struct session_info s;
    int64_t created_mono_ms;
};

struct session_table {
    pthread_mutex_t lock;
    int64_t ttl_ms;
    size_t max;
    struct session_slot *slots;
};

static const char session_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int session_random_token(char *buf)
{
    uint8_t raw[33]; /* 33 bytes = 44 characters; we keep 43 (258 bits, more than 256) */
    size_t got = 0;
    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        got += (size_t)n;
    }
    size_t o = 0;
    for (size_t i = 0; i < sizeof(raw); i += 3) {
        uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];
        for (int k = 3; k >= 0 && o < SESSION_ID_LEN; k--)
            buf[o++] = session_b64[(v >> (6 * k)) & 63];
    }
    buf[SESSION_ID_LEN] = '\0';
    return 0;
}

bool session_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = la != lb;
    for (size_t i = 0; i < la && i < lb; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

struct session_table *session_table_new(size_t max, int64_t ttl_ms)
{
    struct session_table *t = xcalloc(1, sizeof(*t));
    pthread_mutex_init(&t->lock, NULL);
    t->ttl_ms = ttl_ms;
    t->max = max ? max : 1;
    t->slots = xcalloc(t->max, sizeof(*t->slots));
    return t;
}

void session_table_free(struct session_table *t)
{
    if (!t)
        return;
    pthread_mutex_destroy(&t->lock);
    free(t->slots);
    free(t);
}

int session_create(struct session_table *t, const char *user, enum api_role role,
                   struct session_info *out)
{
    struct session_info s = {.role = role};
    int r = session_random_token(s.id);
    if (r == 0)
        r = session_random_token(s.csrf);
    if (r < 0)
        return r;
    util_strlcpy(s.user, user, sizeof(s.user));
    int64_t now = util_mono_ms();
    s.expires_mono_ms = now + t->ttl_ms;
    pthread_mutex_lock(&t->lock);
    size_t pick = 0;
    for (size_t i = 0; i < t->max; i++) {
        struct session_slot *sl = &t->slots[i];
        if (!sl->used || sl->s.expires_mono_ms <= now) {
            pick = i;
            break;
        }
        if (sl->created_mono_ms < t->slots[pick].created_mono_ms)
            pick = i; /* full: the oldest session goes */
    }
    t->slots[pick] = (struct session_slot){.used = true, .s = s, .created_mono_ms = now};
    pthread_mutex_unlock(&t->lock);
    *out = s;
    return 0;
}

int session_find(struct session_table *t, const char *id, struct session_info *out)
{
    if (strlen(id) != SESSION_ID_LEN)
        return -ENOENT;
    int64_t now = util_mono_ms();
    int r = -ENOENT;
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->max; i++) {
        struct session_slot *sl = &t->slots[i];
        if (!sl->used || !session_equal(sl->s.id, id))
            continue;
        if (sl->s.expires_mono_ms <= now) {
            sl->used = false;
        } else {
            *out = sl->s;
            r = 0;
        }
    }
    pthread_mutex_unlock(&t->lock);
    return r;
}

void session_destroy(struct session_table *t, const char *id)
{
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->max; i++)
        if (t->slots[i].used && session_equal(t->slots[i].s.id, id))
            t->slots[i].used = false;
    pthread_mutex_unlock(&t->lock);
}

void session_destroy_user(struct session_table *t, const char *user)
{
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->max; i++)
        if (t->slots[i].used && strcmp(t->slots[i].s.user, user) == 0)
            t->slots[i].used = false;
    pthread_mutex_unlock(&t->lock);
}
