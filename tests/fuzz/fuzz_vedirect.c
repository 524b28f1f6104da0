/* fuzz_vedirect: libFuzzer target for the VE.Direct text + HEX framer and the field conversions
 * the driver applies to an accepted block or HEX reply. */
#include "drivers/vedirect_fields.h"
#include "drivers/vedirect_hex.h"
#include "drivers/vedirect_proto.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ved_framer f;
    ved_framer_init(&f);
    /* The first byte chooses the chunk size, so split frames are explored too. */
    size_t chunk = size ? (size_t)(data[0] % 64) + 1 : 1;
    size_t off = size ? 1 : 0;
    double sink = 0;
    while (off < size) {
        size_t n = size - off < chunk ? size - off : chunk;
        size_t used = 0;
        while (used < n) {
            enum ved_event ev;
            used += ved_framer_feed(&f, data + off + used, n - used, &ev);
            if (ev == VED_EV_BLOCK) {
                const struct ved_block *b = ved_framer_block(&f);
                for (size_t i = 0; i < b->n; i++)
                    for (size_t m = 0; m < ved_map_len; m++) {
                        double v;
                        if (strcmp(ved_map[m].label, b->f[i].label) == 0 &&
                            ved_field_value(&ved_map[m], b->f[i].value, &v) > 0)
                            sink += v;
                    }
            } else if (ev == VED_EV_HEX) {
                uint16_t reg;
                uint8_t flags;
                const uint8_t *val;
                size_t vlen;
                if (ved_hex_frame_register(ved_framer_hex(&f), &reg, &flags, &val, &vlen) == 0) {
                    const struct ved_hex_reg *r = ved_hex_reg_find(reg, VED_CLS_ALL);
                    double v;
                    if (r && ved_hex_reg_value(r, val, vlen, &v) > 0)
                        sink += v;
                }
            }
        }
        off += n;
    }
    return sink == 12345.678 ? 1 : 0;
}
