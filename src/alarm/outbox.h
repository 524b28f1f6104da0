/* outbox: the durable queue of notifications. Every message is one file in the outbox directory,
 * written atomically (tmp + fsync + rename + directory fsync) before anyone tries to send it, and
 * deleted only once a route has delivered it; files are named by a sequence number so each route
 * sends its messages in order, across restarts and kill -9.
 *
 * Bound: at most max_messages files / max_bytes bytes. When full the outbox keeps what it holds
 * (the oldest messages tell how an event started) and refuses new ones with -ENOSPC; the caller
 * raises a loud alarm (outbox_full). */
#ifndef SITEWATCH_OUTBOX_H
#define SITEWATCH_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct outbox;

/* One queued message, as read back. Strings are malloc'd: free with outbox_msg_clear. */
struct outbox_msg {
    uint64_t seq;
    char *route;
    char *message_id; /* stable across retries: duplicates are recognisable */
    char *data;       /* the payload (a whole RFC 5322 mail, or the exec/SMS text) */
    size_t len;
    int64_t created_wall_ms;
};

/* Opens (creates) the outbox directory and indexes what it holds; unreadable or corrupt files
 * are logged and moved aside as NAME.bad. NULL after logging when the directory is unusable. */
struct outbox *outbox_open(const char *dir, size_t max_messages, size_t max_bytes);
/* Frees the in-memory index; the files stay for the next open. NULL is a no-op. */
void outbox_close(struct outbox *ob);

/* Queues a message for route. The message is on disk when this returns 0. message_id may be
 * NULL: one is made from the sequence number and domain. -ENOSPC when full, -errno on I/O. */
int outbox_put(struct outbox *ob, const char *route, const char *message_id, const char *domain,
               const char *data, size_t len, uint64_t *seq_out);
/* The same for a message that replaces queued ones (a mail composed from notices deleted right
 * after it is written): ignores the bounds, so a full outbox can still drain. */
int outbox_put_replacing(struct outbox *ob, const char *route, const char *message_id,
                         const char *domain, const char *data, size_t len, uint64_t *seq_out);
/* The oldest message of route (NULL = any route) into out: 0, or -ENOENT when none. */
int outbox_peek(struct outbox *ob, const char *route, struct outbox_msg *out);
/* The sequence numbers of route's messages, oldest first, into seqs[max]; returns how many. */
size_t outbox_list(struct outbox *ob, const char *route, uint64_t *seqs, size_t max);
/* Reads one message by sequence number: 0, -ENOENT or -errno. */
int outbox_get(struct outbox *ob, uint64_t seq, struct outbox_msg *out);
/* Deletes a delivered message. 0 or -errno. */
int outbox_done(struct outbox *ob, uint64_t seq);
/* Whether the message is still queued. */
bool outbox_has(struct outbox *ob, uint64_t seq);
/* Messages and bytes queued; number refused since open; whether it is full now. */
void outbox_stats(struct outbox *ob, size_t *messages, size_t *bytes, uint64_t *refused,
                  bool *full);
void outbox_msg_clear(struct outbox_msg *m);

#endif
