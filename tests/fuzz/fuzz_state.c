/* fuzz_state: libFuzzer target for every state-file and outbox loader: the battery monitor's
 * SoC + history state (battery-NAME.json), the alarm state, the energy totals (energy/YYYY.json)
 * and the outbox's message files. The first byte picks the loader; the rest is written as that
 * file in a private state directory and the real constructor reads it back (a corrupt file must
 * give a warning and defaults, never a crash). */
#define _XOPEN_SOURCE 700 /* nftw */

#include "alarm/alarm.h"
#include "alarm/outbox.h"
#include "battery/battery.h"
#include "core/conf.h"
#include "core/log.h"
#include "core/store.h"
#include "core/util.h"
#include "history/energy.h"

#include "fuzz_tmpdir.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_conf_text[] = "[daemon]\n"
                                     "state_dir = /tmp\n"
                                     "[battery house]\n"
                                     "current = bmv/Dc/0/Current\n"
                                     "voltage = bmv/Dc/0/Voltage\n"
                                     "capacity = 200\n"
                                     "[alarm low]\n"
                                     "when = bmv/Dc/0/Voltage < 24\n";

static struct {
    char dir[64];
    struct conf *conf;
} fz;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_init("fuzz_state", LOG_CRIT, false); /* corrupt files are expected: keep stderr quiet */
    char err[512];
    if (conf_parse_string("fuzz.conf", fuzz_conf_text, &fz.conf, err, sizeof(err)) != 0) {
        fprintf(stderr, "fuzz_state: %s\n", err);
        abort();
    }
    util_strlcpy(fz.dir, fuzz_tmpdir("fuzz-state"), sizeof(fz.dir));
    return 0;
}

static void fuzz_write(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    if (fclose(f) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t which = data[0] % 4;
    data++;
    size--;
    char path[256];
    struct store *st = store_new(256, 16);
    switch (which) {
    case 0: {
        (void)util_snprintf(path, sizeof(path), "%s/battery-house.json", fz.dir);
        fuzz_write(path, data, size);
        struct battery *b = battery_new(st, conf_section_nth(fz.conf, "battery", 0), fz.dir);
        if (b) {
            const struct soc_state *s = battery_soc(b);
            if (!(s->soc_pct >= 0 && s->soc_pct <= 100))
                abort(); /* a restored SoC outside 0..100 % (or NaN) */
            battery_tick(b, util_mono_ms());
        }
        battery_free(b); /* saves: the next input overwrites the file anyway */
        break;
    }
    case 1: {
        (void)util_snprintf(path, sizeof(path), "%s/alarms.json", fz.dir);
        fuzz_write(path, data, size);
        struct alarm_engine *e = alarm_engine_new(fz.conf, st, path);
        if (e) {
            alarm_engine_tick(e, util_mono_ms(), util_wall_ms());
            json_decref(alarm_engine_list(e, util_wall_ms()));
            json_decref(alarm_engine_log(e));
        }
        alarm_engine_free(e);
        break;
    }
    case 2: {
        (void)util_snprintf(path, sizeof(path), "%s/energy", fz.dir);
        (void)util_mkdirs(path, 0700);
        (void)util_snprintf(path, sizeof(path), "%s/energy/2026.json", fz.dir);
        fuzz_write(path, data, size);
        struct energy *en = energy_new(NULL, fz.dir, 60000);
        json_t *out = NULL;
        if (energy_query(en, "day", 1735689600, 1798761600, &out) == 0)
            json_decref(out);
        energy_free(en);
        (void)unlink(path);
        (void)util_snprintf(path, sizeof(path), "%s/energy/2026.json.corrupt", fz.dir);
        (void)unlink(path);
        break;
    }
    default: {
        (void)util_snprintf(path, sizeof(path), "%s/outbox", fz.dir);
        (void)util_mkdirs(path, 0700);
        (void)util_snprintf(path, sizeof(path), "%s/outbox/00000000000000000007.msg", fz.dir);
        fuzz_write(path, data, size);
        (void)util_snprintf(path, sizeof(path), "%s/outbox", fz.dir);
        struct outbox *ob = outbox_open(path, 100, 1 << 20);
        if (ob) {
            struct outbox_msg m;
            if (outbox_peek(ob, NULL, &m) == 0) {
                if (m.seq != 7 || !m.route || !m.data)
                    abort(); /* the index and the file disagree */
                outbox_msg_clear(&m);
                (void)outbox_done(ob, 7);
            }
            outbox_close(ob);
        }
        (void)util_snprintf(path, sizeof(path), "%s/outbox/00000000000000000007.msg", fz.dir);
        (void)unlink(path);
        (void)util_snprintf(path, sizeof(path), "%s/outbox/00000000000000000007.msg.bad", fz.dir);
        (void)unlink(path);
        break;
    }
    }
    store_free(st);
    return 0;
}
