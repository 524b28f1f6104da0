/* runner: runs one configured device's driver on its own thread, with back-off and stale marking.
 */
#ifndef SITEWATCH_RUNNER_H
#define SITEWATCH_RUNNER_H

#include "conf.h"
#include "store.h"

struct runner;

/* Registers the device in the store and starts its thread. NULL (and a log line) on failure. */
struct runner *runner_start(struct store *st, const struct conf_device *cd);
/* Asks the driver to stop, joins the thread, marks the points stale and frees the runner. */
void runner_stop(struct runner *r);
/* The configuration the runner was started with (its own copy). */
const struct conf_device *runner_conf(const struct runner *r);

#endif
