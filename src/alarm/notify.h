/* notify: [notify ROUTE] sections and the delivery of alarm notices through the durable outbox.
 *
 * Three stages, each on disk before the next: (1) every notice is queued in the outbox as it
 * happens; (2) once a route's group_wait has passed since its oldest queued notice (and
 * group_interval since its last mail) the notices are composed into one mail for a person, queued,
 * and the notices deleted; (3) each route's own thread sends its queued messages oldest first,
 * retrying with back-off (1 s doubling to 10 min) for as long as it takes, and deletes a message
 * only once the server accepted it. Route types: email (SMTP via libcurl) and exec (a command with
 * the alarm in its environment). */
#ifndef SITEWATCH_NOTIFY_H
#define SITEWATCH_NOTIFY_H

#include "alarm.h"
#include "core/api.h"
#include "core/conf.h"

struct notify;

/* Starts one sender thread per [notify ROUTE] and registers POST /api/v1/notify/<route>/test.
 * engine: where the active alarms (for mails) come from and where "outbox full" is raised.
 * NULL after logging on failure; a configuration without routes gives a notify that only counts
 * (notices to unknown routes are logged once and dropped). */
struct notify *notify_new(const struct conf *conf, struct alarm_engine *engine,
                          struct api_ctx *api);
/* Stops the threads (a send in progress finishes or times out) and frees; NULL is a no-op.
 * Whatever is queued stays on disk for the next start. */
void notify_free(struct notify *n);
/* The alarm engine's notifier (alarm_engine_set_notifier): queues the notice durably. */
void notify_notice(void *ctx, const struct alarm_notice *notice);

#endif
