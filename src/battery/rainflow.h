/* rainflow: streaming rainflow cycle counting (ASTM E1049-85 §5.4.4, the 4-point/3-point rule as
 * in the Python `rainflow` package, battery-and-alarms.md §3.1) of a SoC series into a
 * depth-of-discharge histogram, with a residue stack small enough to persist. */
#ifndef SITEWATCH_RAINFLOW_H
#define SITEWATCH_RAINFLOW_H

#include <stdbool.h>
#include <stddef.h>

#define RAINFLOW_STACK_MAX 64
#define RAINFLOW_BINS 10 /* 0-10 %, 10-20 % ... 90-100 % depth of discharge */

/* Called for each counted cycle: its range (peak to valley), mean, and count (0.5 or 1). */
typedef void (*rainflow_emit_fn)(void *ctx, double range, double mean, double count);

struct rainflow {
    double stack[RAINFLOW_STACK_MAX]; /* the residue: reversals not yet closed */
    size_t n;
    double hysteresis;          /* a reversal must retrace at least this much (SoC %) */
    bool started;               /* the first sample was seen */
    int dir;                    /* +1 rising, -1 falling, 0 not yet known */
    double extreme;             /* the running extreme since the last reversal (a candidate) */
    double bins[RAINFLOW_BINS]; /* closed cycle counts by depth (half cycles count 0.5) */
};

/* An empty counter; hysteresis in the series' units (0 = every turning point). */
void rainflow_init(struct rainflow *rf, double hysteresis);

/* Pushes one reversal (a peak or valley already extracted) and emits the cycles it closes. */
void rainflow_push_reversal(struct rainflow *rf, double x, rainflow_emit_fn emit, void *ctx);
/* Feeds one sample of the raw series: turning points are found with the hysteresis and pushed;
 * closed cycles go to emit (may be NULL) and into the histogram. */
void rainflow_sample(struct rainflow *rf, double x, rainflow_emit_fn emit, void *ctx);
/* Emits the residue (stack, then the pending extreme) as half cycles, oldest first, without
 * changing the state (for a report or the end of a finite series). */
void rainflow_residue(const struct rainflow *rf, rainflow_emit_fn emit, void *ctx);

/* The histogram bin of a depth (right edge: 10 % goes to 0-10 %, 10.1 % to 10-20 %). */
size_t rainflow_bin(double range);
/* Closed counts plus the residue's half cycles, per bin, into out[RAINFLOW_BINS]. */
void rainflow_histogram(const struct rainflow *rf, double out[RAINFLOW_BINS]);

#endif
