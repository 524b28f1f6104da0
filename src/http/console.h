/* console: the API routes the web console needs besides the data ones: GET /api/v1/console (the
 * routes this daemon offers), GET /api/v1/log (recent log lines, admin), GET /api/v1/config (the
 * effective configuration with secrets masked) and GET /api/v1/diagnostics (a downloadable JSON
 * bundle, admin). */
#ifndef SITEWATCH_CONSOLE_H
#define SITEWATCH_CONSOLE_H

#include "core/service.h"

#include <jansson.h>

/* True for a configuration key whose value must never be shown (passwords, hashes, tokens). */
bool console_key_secret(const char *key);
/* The configuration as JSON: {"file", "sections": [{"type", "name", "file", "line", "keys":
 * {key: value}}]}, secrets replaced by "********" (new reference). */
json_t *console_config_json(const struct conf *c);

extern const struct service service_console;

#endif
