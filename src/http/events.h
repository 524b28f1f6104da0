/* events: GET /api/v1/events, Server-Sent Events of changed points (and a hint when alarm points
 * change) for the console. One producer diffs the store every EVENTS_PERIOD_MS into a bounded ring
 * of batches; each client walks the ring at its own pace and is resynchronised with a full
 * snapshot when it fell behind the ring. */
#ifndef SITEWATCH_EVENTS_H
#define SITEWATCH_EVENTS_H

#include "core/service.h"

#define EVENTS_PERIOD_MS 200
#define EVENTS_RING 64        /* batches kept: about 13 s at 5 per second */
#define EVENTS_MAX_CLIENTS 64 /* streams at once; more are refused with 503 */
#define EVENTS_KEEPALIVE_MS 15000

extern const struct service service_events;

#endif
