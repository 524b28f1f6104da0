/* rrdlog: the history service. Samples every numeric point of the store each step and writes it
 * to one RRD file per point under state_dir/rrd/, batched in memory (or through rrdcached) to
 * spare the flash. Also owns the librrd lock that series.c and energy.c share. */
#ifndef SITEWATCH_RRDLOG_H
#define SITEWATCH_RRDLOG_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* The primary step of every RRD, seconds. */
#define RRDLOG_STEP_S 10
/* The heartbeat used in production: a point not written for this long becomes unknown. */
#define RRDLOG_HEARTBEAT_S 30
/* The single data source of every file. */
#define RRDLOG_DS "v"

/* One archive of the layout: resolution in primary steps, rows, and whether MIN and MAX
 * archives of the same resolution sit beside the AVERAGE one. */
struct rrdlog_rra {
    int steps;
    long rows;
    bool minmax;
};
/* The archives, finest first. */
extern const struct rrdlog_rra rrdlog_rras[];
extern const size_t rrdlog_nrras;

/* The file of a point: dir/<key with '/' as '.' and anything outside [A-Za-z0-9_-] as %XX>.rrd
 * (reversible, so no mapping file is needed). 0 or -ENAMETOOLONG. */
int rrdlog_key_path(const char *dir, const char *key, char *out, size_t n);

/* Creates an RRD of the sitewatch layout whose first update may follow start; heartbeat_s is
 * RRDLOG_HEARTBEAT_S in production (tests writing sparse simulated time pass more). Refuses to
 * overwrite an existing file. 0 or -errno with librrd's message in err. */
int rrdlog_file_create(const char *path, time_t start, int heartbeat_s, char *err, size_t errlen);

/* Checks that path is an RRD of the sitewatch layout (one GAUGE DS "v", step 10 s) and returns
 * its last update time. -EPROTO for a corrupt or foreign file, -ENOENT when missing; err says
 * why. daemon (may be NULL) is the rrdcached address, flushed first. */
int rrdlog_file_check(const char *path, const char *daemon, time_t *last, char *err, size_t errlen);

/* Writes n samples (increasing ts; NaN is written as unknown "U") to path, directly or through
 * rrdcached when daemon is not NULL. 0 or -errno with the reason in err. */
int rrdlog_file_update(const char *path, const char *daemon, size_t n, const time_t *ts,
                       const double *v, char *err, size_t errlen);

/* Samples of one point not written yet, and the file's last update as far as it is known. */
struct rrdlog_batch {
    time_t *ts; /* increasing */
    double *v;
    size_t n, cap;
    time_t last; /* samples up to this are not written (the file has them, or is past them) */
};
/* Appends a sample (ts later than the batch's last one). */
void rrdlog_batch_add(struct rrdlog_batch *b, time_t ts, double v);
void rrdlog_batch_free(struct rrdlog_batch *b);
/* Writes the samples newer than b->last to path (an existing file of the sitewatch layout).
 * 0: written, the batch is empty and b->last is its newest sample. -ETIME: the file refused the
 * update because of time order (someone else updated it past some samples, or the clock stepped
 * back): b->last is the file's last update read again, the samples not newer than it are
 * dropped, the newer ones stay in the batch for the next call; err has librrd's reason. Another
 * -errno: nothing written, the batch untouched, err says why. */
int rrdlog_batch_write(struct rrdlog_batch *b, const char *path, const char *daemon, char *err,
                       size_t errlen);

/* The running service instance (opaque). */
struct rrdlog;

/* Accessors for series.c and energy.c. The lock serializes the calls of librrd that are not
 * reentrant (rrd_graph) and the rrdcached client, which keeps one global connection. */
const char *rrdlog_dir(const struct rrdlog *r);
const char *rrdlog_daemon(const struct rrdlog *r); /* NULL without rrdcached */
pthread_mutex_t *rrdlog_lock(struct rrdlog *r);
/* Writes the samples of one point still cached in memory to its file now (the API calls it
 * before reading so that a query sees the last values; only the points asked for are written). */
void rrdlog_flush_key(struct rrdlog *r, const char *key);

#endif
