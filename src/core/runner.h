/* runner: runs one configured device's driver on its own thread, with back-off and stale marking.
 */
#ifndef SITEWATCH_RUNNER_H
#define SITEWATCH_RUNNER_H

#include "conf.h"
#include "store.h"

struct runner;

/* Registers the device in the store and starts its thread; the driver keeps its small state files
 * in state_dir (copied; NULL = none). NULL (and a log line) on failure. */
struct runner *runner_start(struct store *st, const struct conf_device *cd, const char *state_dir);
/* Asks the driver to stop, joins the thread, marks the points stale and frees the runner. */
void runner_stop(struct runner *r);
/* Runs a driver command (e.g. "mode", "on") on the device's own thread between two polls and
 * waits up to timeout_ms for its result: the driver's 0/-errno, -EOPNOTSUPP when the driver has
 * no commands, -ENOTCONN when the device is not connected, -EBUSY when another command was still
 * queued or running all that time (this one was not sent), -ETIMEDOUT when this one did not
 * finish in time (withdrawn if the driver had not started it; else it completes later, and its
 * result is dropped). Safe to call from several threads: each caller gets its own result. */
int runner_command(struct runner *r, const char *name, const char *arg, int timeout_ms);
/* The configuration the runner was started with (its own copy). */
const struct conf_device *runner_conf(const struct runner *r);

#endif
