/* session: the console's login sessions: random ids from getrandom, a CSRF token per session,
 * fixed capacity, absolute expiry. Thread-safe; no I/O under its lock. */
#ifndef SITEWATCH_SESSION_H
#define SITEWATCH_SESSION_H

#include "core/api.h"

#include <stdint.h>

/* 32 random bytes as base64url without padding: 43 characters. */
#define SESSION_ID_LEN 43
#define SESSION_USER_MAX 32

struct session_table;

/* One session, copied out. */
struct session_info {
    char id[SESSION_ID_LEN + 1];
    char csrf[SESSION_ID_LEN + 1];
    char user[SESSION_USER_MAX];
    enum api_role role;
    int64_t expires_mono_ms;
};

/* A table of at most max sessions living ttl_ms each. */
struct session_table *session_table_new(size_t max, int64_t ttl_ms);
/* Frees the table; NULL is a no-op. */
void session_table_free(struct session_table *t);
/* Opens a session for user with role (the oldest one is dropped when full) and copies it into out.
 * 0, or -errno when no random bytes could be had. */
int session_create(struct session_table *t, const char *user, enum api_role role,
                   struct session_info *out);
/* Finds a live session by id (constant-time compare). 0 or -ENOENT (unknown or expired). */
int session_find(struct session_table *t, const char *id, struct session_info *out);
/* Ends a session; ending an unknown one is not an error. */
void session_destroy(struct session_table *t, const char *id);
/* Ends every session of user (password or role changed). */
void session_destroy_user(struct session_table *t, const char *user);
/* Fills buf[SESSION_ID_LEN + 1] with a fresh random token. 0 or -errno. */
int session_random_token(char *buf);
/* Constant-time string equality (for secrets). */
bool session_equal(const char *a, const char *b);

#endif
