/* mbserver: the GX-compatible Modbus-TCP server for SCADA ([modbus_server] section, service
 * "mbserver"): unit ids, the discovery block, reads served live from the store through the
 * register map (src/modbus/mbmap.h), allow-listed writes turned into device commands, and
 * GET /api/v1/modbus/units. One thread runs a poll() loop over non-blocking sockets with
 * per-client buffers; a second runs the (blocking) device commands of permitted writes. */
#ifndef SITEWATCH_MBSERVER_H
#define SITEWATCH_MBSERVER_H

#include "core/conf.h"
#include "core/service.h"

/* Discovery block on unit 100, in 1344..2047, a range no GX service uses (attributes.csv):
 * MBSERVER_DISC_BASE holds the number of units, +1 the registers per entry (10), and entries
 * start at +2: unit id, service class code (index in mbserver_classes), product id, device
 * instance, service class name as string[6]. Entries past the count read 0xFFFF. */
#define MBSERVER_DISC_BASE 1400
#define MBSERVER_DISC_ENTRY 10
#define MBSERVER_DISC_MAX 32
#define MBSERVER_DISC_END (MBSERVER_DISC_BASE + 2 + MBSERVER_DISC_MAX * MBSERVER_DISC_ENTRY)

/* Service classes served, in the order of their discovery code (0 = system). */
extern const char *const mbserver_classes[];
extern const size_t mbserver_nclasses;

extern const struct conf_section_type conf_section_modbus_server;
extern const struct service service_mbserver;

#endif
