/* bench_soc: validation figures of the SoC engine (`make bench`): the replay of the real
 * battery-monitor captures (our SoC and consumed Ah against the monitor's own SOC and CE) and 30
 * simulated days of a battery with a known capacity, Peukert behaviour and a weekly full charge,
 * measured by a sensor with a 50 mA offset, +0.5 % gain and noise. Usage: bench_soc TESTDATA */
#include "tests/unit/socsim.h"

#include <stdio.h>
#include <time.h>

static unsigned char *bench_read(const char *dir, const char *rel, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *buf = malloc(1 << 20);
    *len = buf ? fread(buf, 1, 1 << 20, f) : 0;
    fclose(f);
    return buf;
}

static void bench_replay(const char *dir, const char *rel, double capacity, double nominal)
{
    size_t len;
    unsigned char *buf = bench_read(dir, rel, &len);
    if (!buf) {
        printf("  %-48s missing\n", rel);
        return;
    }
    struct soc_params p;
    soc_params_preset(SOC_CHEM_LEAD_ACID, nominal, capacity, &p);
    p.offset_estimation = false;
    struct socsim_replay r;
    socsim_replay(buf, len, &p, &r);
    free(buf);
    printf("  %-48s %4zu s  SOC %5.1f -> %5.1f (ours %6.2f)  max |dSoC| %.3f %%  "
           "max |dCE| %.4f Ah",
           rel, r.blocks, r.first_soc, r.last_soc, r.our_last_soc, r.max_soc_diff, r.max_ce_diff);
    if (r.ttg_compared)
        printf("  TTG max rel diff %.0f %%", 100 * r.max_ttg_rel);
    printf("\n");
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "../shared/testdata";
    printf("replay (Victron defaults; BMV-700 at C20 = 300 Ah, fitted from its TTG):\n");
    bench_replay(dir, "vedirect/karioja_bvm702.dump", 300, 12);
    bench_replay(dir, "vedirect/kindr007_bmv712smart_pidA381.raw", 200, 24);
    bench_replay(dir, "vedirect/vedirect-rs_bmv712smart_pidA381.raw", 200, 24);
    bench_replay(dir, "vedirect/mpp-solar_smartshunt_500A_pidA389.raw", 200, 24);

    struct socsim_conf c = {.capacity_ah = 400,
                            .nominal_v = 24,
                            .peukert = 1.25,
                            .cef = 0.95,
                            .offset_a = 0.05,
                            .gain = 0.005,
                            .noise_a = 0.03,
                            .days = 30,
                            .step_ms = 1000,
                            .seed = 1};
    struct soc_params p;
    soc_params_preset(SOC_CHEM_LEAD_ACID, 24, 400, &p);
    printf("simulation: 30 days at 1 s steps, 24 V lead-acid bank (Peukert 1.25, CEF 95 %%), "
           "sensor offset 50 mA, gain +0.5 %%, noise 30 mA rms:\n");
    static const double capacities[] = {400, 200};
    for (size_t k = 0; k < 2; k++) {
        c.capacity_ah = capacities[k];
        soc_params_preset(SOC_CHEM_LEAD_ACID, 24, c.capacity_ah, &p);
        for (int est = 1; est >= 0; est--) {
            p.offset_estimation = est;
            struct timespec t0, t1;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            struct socsim_result r;
            socsim_run(&c, &p, &r);
            clock_gettime(CLOCK_MONOTONIC, &t1);
            double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
            printf("  %3.0f Ah, offset estimation %-3s: max SoC error %.2f %% (on day %.1f)",
                   c.capacity_ah, est ? "on" : "off", r.max_err, r.max_err_day);
            if (est)
                printf(", %.2f %% once the offset was estimated, estimate %.3f A",
                       r.max_err_learned, r.final_offset);
            printf("; %u syncs, min true SoC %.0f %%, %.2f s CPU\n", r.syncs, r.min_true_soc, secs);
        }
    }
    return 0;
}
