/* fuzz_sunspec: libFuzzer target for the SunSpec model walker and decoders. The input is either a
 * register dump in the text format of shared/testdata/sunspec (first byte 'T') or a raw register
 * array (big-endian 16-bit words) placed at 40000; the chain is walked and every model found is
 * decoded with the device's own length, as the driver does. */
#include "drivers/sunspec_proto.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode_chain(const struct sunspec_image *img, const struct sunspec_chain *c)
{
    for (size_t i = 0; i < c->n; i++) {
        const struct sunspec_model_ref *m = &c->m[i];
        if (m->addr < img->base || m->addr - img->base >= img->n)
            continue;
        size_t off = m->addr - img->base;
        size_t n = img->n - off;
        if (n > (size_t)m->len + 2)
            n = (size_t)m->len + 2;
        const uint16_t *r = img->regs + off;
        struct sunspec_common cm;
        struct sunspec_inverter inv;
        struct sunspec_mppt mp;
        struct sunspec_meter me;
        double w;
        (void)sunspec_decode_common(r, n, &cm);
        if (sunspec_decode_inverter(m->id, r, n, &inv) == 0) {
            (void)sunspec_is_null_frame(&inv);
            (void)sunspec_status_code(inv.st);
        }
        (void)sunspec_decode_nameplate(r, n, &w);
        (void)sunspec_decode_mppt(r, n, &mp);
        (void)sunspec_decode_meter(m->id, r, n, &me);
        const struct sunspec_layout *l = sunspec_layout_find(m->id);
        if (!l)
            continue;
        for (size_t p = 0; p < l->npoints; p++) {
            double v;
            char s[80];
            if (l->points[p].type == SUNSPEC_T_STR)
                (void)sunspec_string(l, r, n, l->points[p].name, s, sizeof(s));
            else
                (void)sunspec_value(l, r, n, l->points[p].name, &v);
        }
        for (size_t g = 0; g < l->ngroup; g++)
            for (size_t idx = 0; idx < 3; idx++) {
                double v;
                (void)sunspec_group_value(l, r, n, idx, l->group[g].name, &v);
            }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sunspec_image img = {0};
    struct sunspec_chain c;
    if (size >= 1 && data[0] == 'T') {
        if (sunspec_image_parse((const char *)data + 1, size - 1, &img) != 0)
            return 0;
        if (sunspec_walk(sunspec_image_read, &img, 40000, &c) == 0)
            decode_chain(&img, &c);
        if (img.n && sunspec_walk(sunspec_image_read, &img, img.base, &c) == 0)
            decode_chain(&img, &c);
        sunspec_image_free(&img);
        return 0;
    }
    size_t n = size / 2 + 2;
    img.base = 40000;
    img.n = n;
    img.regs = malloc(n * sizeof(uint16_t));
    img.valid = malloc(n * sizeof(bool));
    if (!img.regs || !img.valid) {
        free(img.regs);
        free(img.valid);
        return 0;
    }
    img.regs[0] = SUNSPEC_MARKER_HI;
    img.regs[1] = SUNSPEC_MARKER_LO;
    img.valid[0] = img.valid[1] = true;
    for (size_t i = 2; i < n; i++) {
        img.regs[i] = (uint16_t)(data[2 * (i - 2)] << 8 | data[2 * (i - 2) + 1]);
        /* 0xDEAD marks a register the device refuses, like the "----" lines of the dumps */
        img.valid[i] = img.regs[i] != 0xDEAD;
    }
    if (sunspec_walk(sunspec_image_read, &img, 40000, &c) == 0)
        decode_chain(&img, &c);
    free(img.regs);
    free(img.valid);
    return 0;
}
