/* series: the history API. GET /api/v1/series (JSON or CSV), /api/v1/energy, and
 * /api/v1/graph.png / graph.svg drawn by rrd_graph. The query core is callable directly with
 * absolute times so that tests can read RRDs written in simulated time. */
#ifndef SITEWATCH_SERIES_H
#define SITEWATCH_SERIES_H

#include "core/api.h"
#include "core/store.h"
#include "energy.h"
#include "rrdlog.h"

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* One fetched series on a regular grid: value i stands for the interval ending at
 * start + (i + 1) * step. Unknown values are NaN. min/max are NULL when there is no band. */
struct series_data {
    time_t start;
    unsigned long step;     /* of the returned values */
    unsigned long rra_step; /* of the archive they come from */
    size_t n;
    double *avg, *min, *max;
};

/* Reads path (an RRD of the sitewatch layout) over [from, to]: picks the finest archive that
 * still holds from (counted back from the file's last update), fetches AVERAGE (and MIN/MAX where
 * that archive has them) and merges groups of rows so that at most max_points come back (the
 * min/max of a merged group are its extremes). daemon (may be NULL) is an rrdcached address.
 * 0, -ENOENT (no file), -EPROTO (corrupt or foreign file), -EINVAL; err says why. */
int series_fetch(const char *path, const char *daemon, time_t from, time_t to, size_t max_points,
                 struct series_data *out, char *err, size_t errlen);
void series_data_free(struct series_data *d);

/* Parses a time of the API: "now", a Unix time in seconds, or now minus a duration "-24h"
 * (units s, m, h, d, w, y). 0 or -EINVAL. */
int series_parse_time(const char *s, time_t now, time_t *out);

/* Registers the routes; the returned handle unregisters them. Never NULL. */
struct series;
struct series *series_start(struct api_ctx *api, struct rrdlog *log, struct energy *energy,
                            struct store *store);
/* Unregisters and frees; NULL is a no-op. */
void series_stop(struct series *s);

#endif
