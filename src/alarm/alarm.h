/* alarm: the alarm engine: [alarm NAME] rules and the built-in alarms evaluated over one store
 * snapshot per tick, with for/clear/clear_for/repeat timing, acknowledgement, silences, flap
 * detection, and the alarm state and log persisted atomically as JSON.
 *
 * The engine takes its clocks from the caller (alarm_engine_tick), so tests drive it with a fake
 * clock; the service (alarm_service.c) ticks it once a second and exposes it over the API. */
#ifndef SITEWATCH_ALARM_H
#define SITEWATCH_ALARM_H

#include "core/conf.h"
#include "core/store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

enum alarm_severity {
    ALARM_SEV_INFO,
    ALARM_SEV_WARNING,
    ALARM_SEV_ALARM,
    ALARM_SEV_CRITICAL,
};

/* "info", "warning", "alarm", "critical"; -EINVAL for anything else. */
int alarm_severity_parse(const char *s);
const char *alarm_severity_name(enum alarm_severity s);

/* What happened to an alarm, as told to the notifier. */
enum alarm_event {
    ALARM_EV_RAISED,
    ALARM_EV_REPEAT,
    ALARM_EV_CLEARED,
    ALARM_EV_FLAPPING, /* started flapping: one notice instead of a storm */
};

/* One notice for a notifier; every string is valid during the call only. */
struct alarm_notice {
    enum alarm_event event;
    const char *id;          /* "rule:low_voltage", "offline:bmv", ... */
    const char *title;       /* one line for a person */
    const char *description; /* the rule's free text, "" when none */
    const char *values;      /* "bmv/Dc/0/Voltage = 23.10 V, ..." at the time of the event */
    const char *route;       /* notify = route, "" for the default route */
    enum alarm_severity severity;
    int64_t since_wall_ms; /* when it fired */
    int64_t wall_ms;       /* now */
};

struct alarm_engine;

/* Creates the engine for the [alarm NAME] and [alarms] sections of conf (rules are parsed again;
 * the config was validated). state_path: the JSON state file (NULL = no persistence); a missing
 * or corrupt file is a warning and an empty state. Returns NULL after logging when a rule does
 * not parse. */
struct alarm_engine *alarm_engine_new(const struct conf *conf, struct store *store,
                                      const char *state_path);
/* Saves the state and frees everything; NULL is a no-op. */
void alarm_engine_free(struct alarm_engine *e);

/* The notifier called (outside the engine lock) for every event; NULL for none. */
void alarm_engine_set_notifier(struct alarm_engine *e,
                               void (*fn)(void *ctx, const struct alarm_notice *n), void *ctx);

/* One evaluation over one store snapshot at these clocks. local_min_of_day / local_weekday are
 * derived from wall_ms in local time. */
void alarm_engine_tick(struct alarm_engine *e, int64_t mono_ms, int64_t wall_ms);

/* The active (pending or firing) alarms and the silences, as a new JSON object. */
json_t *alarm_engine_list(struct alarm_engine *e, int64_t wall_ms);
/* The alarm log (oldest first), as a new JSON object. */
json_t *alarm_engine_log(struct alarm_engine *e);
/* Acknowledges a firing alarm: repeats stop until it clears. 0, -ENOENT. */
int alarm_engine_ack(struct alarm_engine *e, const char *id, const char *who, int64_t wall_ms);
/* Adds a silence of target ("site", a device name, a rule name or an alarm id) from from_ms
 * (0 = now) until until_ms (wall clock). Notifications of matching alarms are held; the alarms
 * are still evaluated and logged. Returns the new silence id (> 0) or -errno. */
long alarm_engine_silence_add(struct alarm_engine *e, const char *target, int64_t from_ms,
                              int64_t until_ms, const char *who, const char *comment,
                              int64_t wall_ms);
/* Removes a silence. 0 or -ENOENT. */
int alarm_engine_silence_del(struct alarm_engine *e, long id, const char *who, int64_t wall_ms);
/* Raises (active) or clears an alarm a module other than the engine detects, such as
 * "outbox:full"; it goes through the same states, log and notices on the next tick. */
void alarm_engine_external(struct alarm_engine *e, const char *id, const char *title,
                           enum alarm_severity sev, bool active);
/* True when the alarm is active (pending or firing); *firing tells which. For tests. */
bool alarm_engine_active(struct alarm_engine *e, const char *id, bool *firing);

#endif
