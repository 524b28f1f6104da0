/* emu_sunspec_model: synthesised SunSpec inverters: register images built point by point from
 * the model layouts, with the not-implemented sentinels where a real device has them. */
#include "emu_sunspec_model.h"

#include "core/util.h"
#include "drivers/sunspec_proto.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

struct emu_ss_kind {
    const char *name;
    const char *mn, *md, *vr;
    uint16_t common_len; /* Fronius 65, SMA and FIMER 66 (protocols.md §4.2) */
    uint16_t inv_model;
    size_t strings;     /* modules of model 160 that carry power */
    size_t modules;     /* modules model 160 declares (SMA: 6, 4 not implemented) */
    bool vendor_model;  /* a vendor model >= 64000 the reader must skip by its length */
    bool end_error;     /* SMA: the end model read answers an error */
    bool w_na_at_night; /* SMA: W = 0x8000 at night (the proprietary 30775 has it) */
    double rated_w;
    int default_unit;
};

static const struct emu_ss_kind emu_ss_kinds[] = {
    {"fronius-float", "Fronius", "Primo 5.0-1",  "3.14.1-2",  65, 111, 2,  2,  false, false, false,
     5000,                                                                                                  1  },
    {"fronius-int",   "Fronius", "Primo 5.0-1",  "3.14.1-2",  65, 101, 2,  2,  false, false, false, 5000,
     1                                                                                                         },
    {"sma",           "SMA",     "SB3.6-1AV-41", "4.00.75.R", 66, 101, 2,  6,  false, true,  true,  3680,   126},
    {"three-phase",   "FIMER",   "PVS-100-TL",   "C009",      66, 103, 12, 12, true,  false, false, 100000, 1  },
};

const struct emu_ss_kind *emu_ss_kind_find(const char *name)
{
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(emu_ss_kinds); i++)
        if (strcmp(emu_ss_kinds[i].name, name) == 0)
            return &emu_ss_kinds[i];
    return NULL;
}

int emu_ss_kind_default_unit(const struct emu_ss_kind *k)
{
    return k->default_unit;
}

bool emu_ss_kind_sma(const struct emu_ss_kind *k)
{
    return k->w_na_at_night;
}

bool emu_ss_serves_end(const struct emu_ss_kind *k)
{
    return !k->end_error;
}

void emu_ss_inv_init(struct emu_ss_inv *inv, const struct emu_ss_kind *k, int unit, size_t idx)
{
    memset(inv, 0, sizeof(*inv));
    inv->kind = k;
    inv->unit = unit;
    inv->scale = 1.0 - 0.15 * (double)(idx % 5);
    inv->energy_wh = 1234567.0 + 100000.0 * (double)idx;
    inv->last_s = -1;
}

static const struct sunspec_point *emu_ss_point(const struct sunspec_point *pts, size_t n,
                                                const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(pts[i].name, name) == 0)
            return &pts[i];
    return NULL;
}

/* The "not implemented" value of every point, except ID and L. */
static void emu_ss_blank(const struct sunspec_point *pts, size_t np, uint16_t *m, size_t n)
{
    for (size_t i = 2; i < np; i++) {
        const struct sunspec_point *p = &pts[i];
        if ((size_t)p->offset + p->size > n)
            continue;
        uint16_t *r = m + p->offset;
        switch (p->type) {
        case SUNSPEC_T_I16:
        case SUNSPEC_T_SF:
        case SUNSPEC_T_PAD:
            r[0] = 0x8000;
            break;
        case SUNSPEC_T_ACC16:
        case SUNSPEC_T_STR:
        case SUNSPEC_T_ACC32:
            memset(r, 0, p->size * sizeof(*r));
            break;
        case SUNSPEC_T_I32:
            r[0] = 0x8000;
            r[1] = 0;
            break;
        case SUNSPEC_T_F32:
            r[0] = 0x7FC0;
            r[1] = 0;
            break;
        default:
            for (size_t k = 0; k < p->size; k++)
                r[k] = 0xFFFF;
        }
    }
}

/* Writes value into point p of the model at m (relative offset base for group points), scaled by
 * the scale factor already written in the model. */
static void emu_ss_put_at(uint16_t *m, const struct sunspec_point *p, size_t at, double value)
{
    if (!p)
        return;
    uint16_t *r = m + at;
    if (p->type == SUNSPEC_T_F32) {
        float f = (float)value;
        uint32_t u;
        memcpy(&u, &f, sizeof(u));
        r[0] = (uint16_t)(u >> 16);
        r[1] = (uint16_t)u;
        return;
    }
    if (p->sf_offset >= 0)
        value /= pow(10.0, (int16_t)m[p->sf_offset]);
    long v = lround(value);
    if (p->size == 2) {
        r[0] = (uint16_t)((uint32_t)v >> 16);
        r[1] = (uint16_t)v;
    } else {
        r[0] = (uint16_t)v;
    }
}

static void emu_ss_put(uint16_t *m, const struct sunspec_layout *l, const char *name, double v)
{
    const struct sunspec_point *p = emu_ss_point(l->points, l->npoints, name);
    if (p)
        emu_ss_put_at(m, p, p->offset, v);
}

static void emu_ss_put_str(uint16_t *m, const struct sunspec_layout *l, const char *name,
                           const char *s)
{
    const struct sunspec_point *p = emu_ss_point(l->points, l->npoints, name);
    if (!p)
        return;
    size_t len = strlen(s);
    for (size_t i = 0; i < (size_t)p->size * 2 && i < len; i++)
        m[p->offset + i / 2] |= (uint16_t)((uint8_t)s[i] << (i % 2 ? 0 : 8));
}

/* Starts a model at img[*at] with length len (blanked), returns its registers. */
static uint16_t *emu_ss_begin(uint16_t *img, size_t *at, uint16_t id, uint16_t len)
{
    uint16_t *m = img + *at;
    const struct sunspec_layout *l = sunspec_layout_find(id);
    m[0] = id;
    m[1] = len;
    memset(m + 2, 0, len * sizeof(*m));
    if (l)
        emu_ss_blank(l->points, l->npoints, m, len + 2u);
    *at += 2u + len;
    return m;
}

static void emu_ss_common(const struct emu_ss_inv *inv, uint16_t *img, size_t *at)
{
    const struct emu_ss_kind *k = inv->kind;
    const struct sunspec_layout *l = sunspec_layout_find(1);
    uint16_t *m = emu_ss_begin(img, at, 1, k->common_len);
    char serial[32];
    snprintf(serial, sizeof(serial), "EMU%03d%06d", inv->unit, (int)(k->rated_w / 10));
    emu_ss_put_str(m, l, "Mn", k->mn);
    emu_ss_put_str(m, l, "Md", k->md);
    emu_ss_put_str(m, l, "Vr", k->vr);
    emu_ss_put_str(m, l, "SN", serial);
    emu_ss_put(m, l, "DA", inv->unit);
}

static void emu_ss_inverter(const struct emu_ss_inv *inv, double w, double sun, bool night,
                            uint16_t *img, size_t *at)
{
    const struct emu_ss_kind *k = inv->kind;
    bool flt = k->inv_model > 110;
    const struct sunspec_layout *l = sunspec_layout_find(k->inv_model);
    uint16_t *m = emu_ss_begin(img, at, k->inv_model, flt ? 60 : 50);
    if (night) {
        /* Fronius null frame: everything 0, St 7 (sunspec_updater.cpp FroniusNullFrame) */
        memset(m + 2, 0, (flt ? 60 : 50) * sizeof(*m));
        emu_ss_put(m, l, "St", SUNSPEC_ST_FAULT);
        return;
    }
    if (!flt) {
        static const struct {
            const char *name;
            int sf;
        } sfs[] = {
            {"A_SF",   -2},
            {"V_SF",   -1},
            {"W_SF",   0 },
            {"Hz_SF",  -2},
            {"VA_SF",  0 },
            {"VAr_SF", 0 },
            {"PF_SF",  -2},
            {"WH_SF",  0 },
            {"DCA_SF", -2},
            {"DCV_SF", -1},
            {"DCW_SF", 0 },
            {"Tmp_SF", 0 }
        };
        for (size_t i = 0; i < UTIL_ARRAY_SIZE(sfs); i++)
            emu_ss_put(m, l, sfs[i].name, sfs[i].sf);
        if (k->rated_w > 30000) { /* 100 kW does not fit an int16 with SF 0 */
            emu_ss_put(m, l, "W_SF", 1);
            emu_ss_put(m, l, "VA_SF", 1);
            emu_ss_put(m, l, "DCW_SF", 1);
        }
    }
    int ph = k->inv_model % 10;
    static const char *const aph[3] = {"AphA", "AphB", "AphC"};
    static const char *const phv[3] = {"PhVphA", "PhVphB", "PhVphC"};
    double total_a = 0;
    for (int i = 0; i < ph; i++) {
        double v = 230.0 + 1.5 * i + 2.0 * sun;
        double a = w / ph / v;
        emu_ss_put(m, l, phv[i], v);
        emu_ss_put(m, l, aph[i], a);
        total_a += a;
    }
    emu_ss_put(m, l, "A", total_a);
    if (!(k->w_na_at_night && w <= 0))
        emu_ss_put(m, l, "W", w);
    emu_ss_put(m, l, "Hz", 50.0);
    emu_ss_put(m, l, "VA", w);
    emu_ss_put(m, l, "PF", 1.0);
    emu_ss_put(m, l, "WH", inv->energy_wh);
    double dcw = w / 0.97;
    emu_ss_put(m, l, "DCW", dcw);
    emu_ss_put(m, l, "DCV", 380.0);
    emu_ss_put(m, l, "DCA", dcw / 380.0);
    emu_ss_put(m, l, "TmpCab", 30.0 + 15.0 * sun);
    emu_ss_put(m, l, "St", w > 0 ? SUNSPEC_ST_MPPT : SUNSPEC_ST_SLEEPING);
    emu_ss_put(m, l, "Evt1", 0);
}

static void emu_ss_nameplate(const struct emu_ss_inv *inv, uint16_t *img, size_t *at)
{
    const struct sunspec_layout *l = sunspec_layout_find(120);
    uint16_t *m = emu_ss_begin(img, at, 120, 26);
    emu_ss_put(m, l, "DERTyp", 4);
    double rated = inv->kind->rated_w * inv->scale;
    emu_ss_put(m, l, "WRtg_SF", rated > 30000 ? 1 : 0);
    emu_ss_put(m, l, "WRtg", rated);
}

/* The string voltage and power of module i: strings differ a little, like real arrays. */
static void emu_ss_string(size_t i, double dcw, size_t strings, double sun, double *v, double *p)
{
    *v = sun > 0 ? (360.0 - 12.0 * (double)(i % 4)) * (0.9 + 0.1 * sun) : 0.0;
    *p = dcw / (double)strings * (1.0 + 0.02 * ((double)(i % 3) - 1.0));
}

static void emu_ss_mppt(const struct emu_ss_inv *inv, double w, double sun, uint16_t *img,
                        size_t *at)
{
    const struct emu_ss_kind *k = inv->kind;
    const struct sunspec_layout *l = sunspec_layout_find(160);
    uint16_t *m = emu_ss_begin(img, at, 160, (uint16_t)(8 + 20 * k->modules));
    emu_ss_put(m, l, "DCA_SF", -2);
    emu_ss_put(m, l, "DCV_SF", -1);
    emu_ss_put(m, l, "DCW_SF", 0);
    emu_ss_put(m, l, "DCWH_SF", 0);
    emu_ss_put(m, l, "N", (double)k->modules);
    emu_ss_put(m, l, "Evt", 0);
    for (size_t i = 0; i < k->modules; i++) {
        size_t base = l->fixed_len + i * l->group_len;
        emu_ss_blank(l->group, l->ngroup, m + base, l->group_len);
        emu_ss_put_at(m, emu_ss_point(l->group, l->ngroup, "ID"), base, (double)(i + 1));
        if (i >= k->strings)
            continue; /* declared but not implemented (the SMA SB3.6 has 6, 2 used) */
        double v, p;
        emu_ss_string(i, w / 0.97, k->strings, sun, &v, &p);
        static const char *const names[] = {"DCV", "DCW", "DCA"};
        double vals[] = {v, p, v > 0 ? p / v : 0};
        for (size_t f = 0; f < UTIL_ARRAY_SIZE(names); f++) {
            const struct sunspec_point *pt = emu_ss_point(l->group, l->ngroup, names[f]);
            if (pt)
                emu_ss_put_at(m, pt, base + pt->offset, vals[f]);
        }
        const struct sunspec_point *st = emu_ss_point(l->group, l->ngroup, "DCSt");
        if (st)
            emu_ss_put_at(m, st, base + st->offset, p > 0 ? SUNSPEC_ST_MPPT : SUNSPEC_ST_SLEEPING);
    }
}

void emu_ss_build(struct emu_ss_inv *inv, double sun, double now_s, bool night, uint16_t *img,
                  size_t *n)
{
    const struct emu_ss_kind *k = inv->kind;
    double w = round(k->rated_w * inv->scale * 0.95 * sun);
    if (inv->last_s >= 0 && now_s > inv->last_s)
        inv->energy_wh += inv->w * (now_s - inv->last_s) / 3600.0;
    inv->last_s = now_s;
    inv->w = night ? 0 : w;
    size_t at = 0;
    img[at++] = SUNSPEC_MARKER_HI;
    img[at++] = SUNSPEC_MARKER_LO;
    emu_ss_common(inv, img, &at);
    emu_ss_inverter(inv, w, sun, night, img, &at);
    emu_ss_nameplate(inv, img, &at);
    emu_ss_mppt(inv, w, sun, img, &at);
    if (k->vendor_model) {
        /* a vendor model (FIMER has 65230, 65232): unknown, skipped by its length */
        uint16_t *m = emu_ss_begin(img, &at, 65230, 7);
        for (size_t i = 2; i < 9; i++)
            m[i] = 0xA5A5;
    }
    img[at++] = SUNSPEC_END_ID;
    img[at++] = 0;
    *n = at;
}

int emu_ss_sma_reg(const struct emu_ss_inv *inv, uint32_t addr, uint16_t *out)
{
    uint32_t v;
    /* SMA's 32-bit registers start at odd addresses: 30201-30202, high word first */
    uint32_t pair = addr % 2 ? addr : addr - 1;
    if (pair == 30201)
        v = inv->w > 0 ? 307 : 303; /* Ok, Off */
    else if (pair == 30529)
        v = (uint32_t)inv->energy_wh;
    else if (pair == 30775)
        v = (uint32_t)(int32_t)lround(inv->w);
    else
        return -ENXIO;
    *out = addr == pair ? (uint16_t)(v >> 16) : (uint16_t)v;
    return 0;
}
