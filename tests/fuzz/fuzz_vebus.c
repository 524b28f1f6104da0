/* fuzz_vebus: libFuzzer target for the MK2 framer and every VE.Bus decoder. The first byte picks
 * the chunk size the stream is fed in; every frame the framer returns must verify on its own. */
#include "drivers/vebus_proto.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode_all(const struct vebus_frame *f, const struct vebus_scale *sc)
{
    struct vebus_dc dc;
    struct vebus_ac ac;
    struct vebus_config cfg;
    struct vebus_scale s;
    uint16_t vals[8];
    uint32_t version;
    uint8_t a, b;
    (void)vebus_decode_dc(f, sc, &dc);
    (void)vebus_decode_ac(f, sc, &ac);
    (void)vebus_decode_config(f, &cfg);
    (void)vebus_decode_ram_info(f, &s);
    (void)vebus_decode_ram(f, vals, 8);
    (void)vebus_decode_state(f, &a, &b);
    (void)vebus_decode_led(f, &a, &b);
    (void)vebus_decode_version(f, &version, &a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t chunk = (size_t)data[0] % 32 + 1;
    data++;
    size--;
    struct vebus_scale sc[VEBUS_RAM_COUNT];
    for (size_t i = 0; i < VEBUS_RAM_COUNT; i++)
        vebus_scale_from_raw((uint16_t)(0x7F9C + i * 0x1111), (uint16_t)(i * 7), &sc[i]);
    struct vebus_framer fr;
    vebus_framer_init(&fr);
    size_t off = 0;
    for (;;) {
        size_t n = size - off < chunk ? size - off : chunk;
        enum vebus_event ev;
        size_t used = vebus_framer_feed(&fr, data + off, n, &ev);
        off += used;
        if (ev == VEBUS_EV_FRAME) {
            const struct vebus_frame *f = vebus_framer_frame(&fr);
            struct vebus_frame g;
            if (vebus_frame_check(fr.out, (size_t)(fr.out[0] & 0x7F) + 2, &g) != 0)
                abort(); /* the framer returned a frame that does not verify */
            decode_all(f, sc);
        }
        if (ev == VEBUS_EV_NONE && off >= size) {
            if (fr.have == 0)
                break;
            vebus_framer_flush(&fr); /* end of input: the line went idle */
        }
    }
    return 0;
}
