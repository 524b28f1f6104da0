/* bench_vedirect_parse: VE.Direct parser throughput (MB/s): the framer, field checks and the
 * conversion of every field to its published value, over real captures repeated in memory. */
#include "core/util.h"
#include "drivers/vedirect_fields.h"
#include "drivers/vedirect_proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const bench_files[] = {
    "vedirect/karioja_bvm702.dump",
    "vedirect/karioja_bluesolar_1.23.dump",
    "vedirect/karioja_smartsolar_1.39.dump",
};

static double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* What the driver does per block: look every field up in the map and convert its value. */
static double bench_convert(const struct ved_block *b)
{
    double sum = 0;
    for (size_t i = 0; i < b->n; i++)
        for (size_t m = 0; m < ved_map_len; m++)
            if (strcmp(ved_map[m].label, b->f[i].label) == 0) {
                double v;
                if (ved_field_value(&ved_map[m], b->f[i].value, &v) > 0)
                    sum += v;
                break;
            }
    return sum;
}

int main(int argc, char **argv)
{
    const char *root = argc > 1 ? argv[1] : "../shared/testdata";
    size_t target = (argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : 64) << 20;
    char *corpus = NULL;
    size_t clen = 0;
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(bench_files); i++) {
        char path[512], *data;
        size_t len;
        snprintf(path, sizeof(path), "%s/%s", root, bench_files[i]);
        if (util_read_file(path, 16 << 20, &data, &len) != 0) {
            fprintf(stderr, "bench: cannot read %s\n", path);
            return 1;
        }
        corpus = xrealloc(corpus, clen + len);
        memcpy(corpus + clen, data, len);
        clen += len;
        free(data);
    }
    size_t reps = target / clen + 1;
    uint8_t *buf = xmalloc(reps * clen);
    for (size_t r = 0; r < reps; r++)
        memcpy(buf + r * clen, corpus, clen);
    size_t total = reps * clen;
    double best = 1e9, sink = 0;
    unsigned long blocks = 0, bad = 0;
    for (int run = 0; run < 5; run++) {
        struct ved_framer f;
        ved_framer_init(&f);
        blocks = bad = 0;
        double t0 = bench_now();
        size_t off = 0;
        while (off < total) {
            enum ved_event ev;
            off += ved_framer_feed(&f, buf + off, total - off, &ev);
            if (ev == VED_EV_BLOCK) {
                blocks++;
                sink += bench_convert(ved_framer_block(&f));
            } else if (ev == VED_EV_BAD_BLOCK) {
                bad++;
            }
        }
        double dt = bench_now() - t0;
        if (dt < best)
            best = dt;
    }
    printf("sitewatch vedirect parser: %.1f MB/s, %.0f blocks/s (%zu MB, %lu blocks, %lu "
           "rejected, best of 5; checksum %.0f)\n",
           (double)total / best / 1e6, (double)blocks / best, total >> 20, blocks, bad, sink);
    free(buf);
    free(corpus);
    return 0;
}
