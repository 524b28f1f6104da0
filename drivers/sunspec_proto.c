/* sunspec_proto: pure SunSpec decoding: marker, chain walker, table-driven point values with the
 * "not implemented" sentinels, model decoders, and register images of dumps. */
#include "sunspec_proto.h"

#include "core/util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const struct sunspec_layout *sunspec_layout_find(uint16_t id)
{
    for (size_t i = 0; i < sunspec_layouts_len; i++)
        if (sunspec_layouts[i].id == id)
            return &sunspec_layouts[i];
    return NULL;
}

bool sunspec_is_marker(const uint16_t regs[2])
{
    return regs[0] == SUNSPEC_MARKER_HI && regs[1] == SUNSPEC_MARKER_LO;
}

int sunspec_walk(sunspec_read_fn read, void *ctx, uint32_t base, struct sunspec_chain *out)
{
    memset(out, 0, sizeof(*out));
    out->base = base;
    uint16_t hdr[2];
    int r = read(ctx, base, 2, hdr);
    if (r < 0)
        return r;
    if (!sunspec_is_marker(hdr))
        return -ENODEV;
    uint32_t addr = base + 2;
    for (;;) {
        if (out->n == SUNSPEC_CHAIN_MAX || addr + 2 > 0x10000) {
            out->end = SUNSPEC_END_LIMIT;
            return 0;
        }
        r = read(ctx, addr, 2, hdr);
        if (r < 0) {
            /* SMA answers the end-model read with an error instead of FFFF 0000 (dbus-fronius
             * sunspec_detector.cpp): after at least one model that is a normal end. */
            out->end = SUNSPEC_END_ERROR;
            return out->n > 0 ? 0 : r;
        }
        if (hdr[0] == SUNSPEC_END_ID) {
            out->end = SUNSPEC_END_MARKER;
            return 0;
        }
        out->m[out->n++] = (struct sunspec_model_ref){.id = hdr[0], .len = hdr[1], .addr = addr};
        addr += 2u + hdr[1];
    }
}

const struct sunspec_model_ref *sunspec_chain_find(const struct sunspec_chain *c,
                                                   const uint16_t *ids, size_t nids)
{
    for (size_t i = 0; i < c->n; i++)
        for (size_t j = 0; j < nids; j++)
            if (c->m[i].id == ids[j])
                return &c->m[i];
    return NULL;
}

static const struct sunspec_point *sunspec_point_find(const struct sunspec_point *pts, size_t n,
                                                      const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(pts[i].name, name) == 0)
            return &pts[i];
    return NULL;
}

static uint32_t sunspec_u32(const uint16_t *r)
{
    return (uint32_t)r[0] << 16 | r[1];
}

/* The raw value of p at regs[at..]; false when it is the type's "not implemented" sentinel
 * (protocols.md §4.2: int16 0x8000, uint16/enum16/bitfield16 0xFFFF, acc16 0, int32 0x80000000,
 * uint32/enum32/bitfield32 0xFFFFFFFF, acc32 0, float32 NaN, sunssf 0x8000). */
static bool sunspec_raw(enum sunspec_type t, const uint16_t *r, double *out)
{
    switch (t) {
    case SUNSPEC_T_U16:
    case SUNSPEC_T_ENUM16:
    case SUNSPEC_T_BF16:
    case SUNSPEC_T_COUNT:
        *out = r[0];
        return r[0] != 0xFFFF;
    case SUNSPEC_T_ACC16:
        *out = r[0];
        return r[0] != 0;
    case SUNSPEC_T_I16:
    case SUNSPEC_T_SF:
    case SUNSPEC_T_PAD:
        *out = (int16_t)r[0];
        return r[0] != 0x8000;
    case SUNSPEC_T_U32:
    case SUNSPEC_T_ENUM32:
    case SUNSPEC_T_BF32:
        *out = sunspec_u32(r);
        return sunspec_u32(r) != 0xFFFFFFFFu;
    case SUNSPEC_T_ACC32:
        *out = sunspec_u32(r);
        return sunspec_u32(r) != 0;
    case SUNSPEC_T_I32:
        *out = (int32_t)sunspec_u32(r);
        return sunspec_u32(r) != 0x80000000u;
    case SUNSPEC_T_F32: {
        uint32_t u = sunspec_u32(r);
        float f;
        memcpy(&f, &u, sizeof(f));
        *out = f;
        return isfinite(f);
    }
    case SUNSPEC_T_STR:
        break;
    }
    return false;
}

static int sunspec_point_value(const struct sunspec_point *p, size_t at, const uint16_t *regs,
                               size_t n, double *out)
{
    if (at + p->size > n || (p->sf_offset >= 0 && (size_t)p->sf_offset >= n))
        return -ERANGE;
    if (p->type == SUNSPEC_T_STR)
        return -EINVAL;
    double v, sf = 0;
    if (!sunspec_raw(p->type, regs + at, &v))
        return 0;
    if (p->sf_offset >= 0) {
        if (!sunspec_raw(SUNSPEC_T_SF, regs + p->sf_offset, &sf) || sf < -10 || sf > 10)
            return 0; /* an SF of 0x8000 makes the value unusable (§4.2) */
        /* value = integer × 10^SF: divided by 10^-SF (2305 at SF -1 is exactly 230.5, where
         * × pow(10, -1) is not); a float point with an SF (none in the models) stays a float */
        v = p->type == SUNSPEC_T_F32 ? v * pow(10.0, sf) : util_scale_decimal((int64_t)v, (int)sf);
    }
    *out = v;
    return 1;
}

int sunspec_value(const struct sunspec_layout *l, const uint16_t *regs, size_t n, const char *name,
                  double *out)
{
    const struct sunspec_point *p = sunspec_point_find(l->points, l->npoints, name);
    if (!p)
        return -ENOENT;
    return sunspec_point_value(p, p->offset, regs, n, out);
}

int sunspec_group_value(const struct sunspec_layout *l, const uint16_t *regs, size_t n, size_t idx,
                        const char *name, double *out)
{
    const struct sunspec_point *p = sunspec_point_find(l->group, l->ngroup, name);
    if (!p)
        return -ENOENT;
    return sunspec_point_value(p, l->fixed_len + idx * l->group_len + p->offset, regs, n, out);
}

int sunspec_string(const struct sunspec_layout *l, const uint16_t *regs, size_t n, const char *name,
                   char *out, size_t outlen)
{
    const struct sunspec_point *p = sunspec_point_find(l->points, l->npoints, name);
    if (!p || p->type != SUNSPEC_T_STR || outlen == 0)
        return -ENOENT;
    if ((size_t)p->offset + p->size > n)
        return -ERANGE;
    size_t o = 0;
    for (size_t i = 0; i < p->size; i++) {
        uint8_t c[2] = {(uint8_t)(regs[p->offset + i] >> 8), (uint8_t)regs[p->offset + i]};
        for (size_t k = 0; k < 2; k++) {
            if (c[k] == 0 || o + 1 >= outlen)
                goto done;
            /* only printable ASCII reaches logs and JSON */
            out[o++] = c[k] >= 0x20 && c[k] < 0x7F ? (char)c[k] : '?';
        }
    }
done:
    out[o] = '\0';
    while (o > 0 && out[o - 1] == ' ')
        out[--o] = '\0';
    return 0;
}

/* A value or NaN (not implemented, or past the device's model length). */
static double sunspec_get(const struct sunspec_layout *l, const uint16_t *regs, size_t n,
                          const char *name)
{
    double v;
    return sunspec_value(l, regs, n, name, &v) == 1 ? v : NAN;
}

int sunspec_decode_common(const uint16_t *regs, size_t n, struct sunspec_common *out)
{
    const struct sunspec_layout *l = sunspec_layout_find(1);
    memset(out, 0, sizeof(*out));
    if (!l || n < 2 || regs[0] != 1)
        return -EINVAL;
    int r = sunspec_string(l, regs, n, "Mn", out->manufacturer, sizeof(out->manufacturer));
    if (r == 0)
        r = sunspec_string(l, regs, n, "Md", out->model, sizeof(out->model));
    if (r == 0)
        r = sunspec_string(l, regs, n, "Opt", out->options, sizeof(out->options));
    if (r == 0)
        r = sunspec_string(l, regs, n, "Vr", out->version, sizeof(out->version));
    if (r == 0)
        r = sunspec_string(l, regs, n, "SN", out->serial, sizeof(out->serial));
    /* DA follows SN; Fronius' L = 65 has it, no model 1 lacks it, but a short read might */
    out->device_address = sunspec_get(l, regs, n, "DA");
    return r;
}

int sunspec_decode_inverter(uint16_t model, const uint16_t *regs, size_t n,
                            struct sunspec_inverter *out)
{
    if (!((model >= 101 && model <= 103) || (model >= 111 && model <= 113)))
        return -EINVAL;
    const struct sunspec_layout *l = sunspec_layout_find(model);
    if (!l)
        return -EINVAL;
    double probe;
    if (sunspec_value(l, regs, n, "W", &probe) == -ERANGE)
        return -ERANGE;
    static const char *const aph[3] = {"AphA", "AphB", "AphC"};
    static const char *const phv[3] = {"PhVphA", "PhVphB", "PhVphC"};
    out->model = model;
    out->phases = model % 10; /* 1, 2, 3 (dbus-fronius) */
    out->a = sunspec_get(l, regs, n, "A");
    for (size_t i = 0; i < 3; i++) {
        out->aph[i] = sunspec_get(l, regs, n, aph[i]);
        out->phv[i] = sunspec_get(l, regs, n, phv[i]);
    }
    out->w = sunspec_get(l, regs, n, "W");
    out->hz = sunspec_get(l, regs, n, "Hz");
    out->va = sunspec_get(l, regs, n, "VA");
    out->var = sunspec_get(l, regs, n, "VAr");
    out->pf = sunspec_get(l, regs, n, "PF");
    out->wh = sunspec_get(l, regs, n, "WH");
    out->dca = sunspec_get(l, regs, n, "DCA");
    out->dcv = sunspec_get(l, regs, n, "DCV");
    out->dcw = sunspec_get(l, regs, n, "DCW");
    out->tmp_cab = sunspec_get(l, regs, n, "TmpCab");
    out->st = sunspec_get(l, regs, n, "St");
    out->st_vnd = sunspec_get(l, regs, n, "StVnd");
    out->evt1 = sunspec_get(l, regs, n, "Evt1");
    return 0;
}

/* A measured value that is 0 or absent. */
static bool sunspec_zero(double v)
{
    return isnan(v) || v == 0;
}

bool sunspec_is_null_frame(const struct sunspec_inverter *v)
{
    if (v->st != SUNSPEC_ST_FAULT)
        return false;
    if (!sunspec_zero(v->w) || !sunspec_zero(v->a) || !sunspec_zero(v->hz))
        return false;
    for (size_t i = 0; i < 3; i++)
        if (!sunspec_zero(v->aph[i]) || !sunspec_zero(v->phv[i]))
            return false;
    return true;
}

int sunspec_status_code(double st)
{
    static const struct {
        int st, code;
    } map[] = {
        {SUNSPEC_ST_OFF,           7 },
        {SUNSPEC_ST_SLEEPING,      8 },
        {SUNSPEC_ST_STARTING,      3 },
        {SUNSPEC_ST_MPPT,          11},
        {SUNSPEC_ST_THROTTLED,     12},
        {SUNSPEC_ST_SHUTTING_DOWN, 8 },
        {SUNSPEC_ST_FAULT,         10},
        {SUNSPEC_ST_STANDBY,       8 },
    };
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(map); i++)
        if (st == map[i].st)
            return map[i].code;
    return -1;
}

int sunspec_decode_nameplate(const uint16_t *regs, size_t n, double *wrtg)
{
    const struct sunspec_layout *l = sunspec_layout_find(120);
    if (!l || n < 2 || regs[0] != 120)
        return -EINVAL;
    *wrtg = sunspec_get(l, regs, n, "WRtg");
    return 0;
}

int sunspec_decode_mppt(const uint16_t *regs, size_t n, struct sunspec_mppt *out)
{
    const struct sunspec_layout *l = sunspec_layout_find(160);
    memset(out, 0, sizeof(*out));
    if (!l || n < 2 || regs[0] != 160)
        return -EINVAL;
    double count;
    if (sunspec_value(l, regs, n, "N", &count) != 1)
        return 0;
    /* N may claim more modules than the model's length holds: trust the length */
    size_t fit = n > l->fixed_len ? (n - l->fixed_len) / l->group_len : 0;
    size_t m = (size_t)count;
    if (m > fit)
        m = fit;
    if (m > SUNSPEC_MPPT_MAX)
        m = SUNSPEC_MPPT_MAX;
    for (size_t i = 0; i < m; i++) {
        double v;
        out->mod[i].a = sunspec_group_value(l, regs, n, i, "DCA", &v) == 1 ? v : NAN;
        out->mod[i].v = sunspec_group_value(l, regs, n, i, "DCV", &v) == 1 ? v : NAN;
        out->mod[i].w = sunspec_group_value(l, regs, n, i, "DCW", &v) == 1 ? v : NAN;
        out->mod[i].st = sunspec_group_value(l, regs, n, i, "DCSt", &v) == 1 ? v : NAN;
    }
    out->n = m;
    return 0;
}

int sunspec_decode_meter(uint16_t model, const uint16_t *regs, size_t n, struct sunspec_meter *out)
{
    const struct sunspec_layout *l = sunspec_layout_find(model);
    if (!l || (model != 203 && model != 213))
        return -EINVAL;
    static const char *const aph[3] = {"AphA", "AphB", "AphC"};
    static const char *const phv[3] = {"PhVphA", "PhVphB", "PhVphC"};
    static const char *const wph[3] = {"WphA", "WphB", "WphC"};
    out->model = model;
    out->a = sunspec_get(l, regs, n, "A");
    for (size_t i = 0; i < 3; i++) {
        out->aph[i] = sunspec_get(l, regs, n, aph[i]);
        out->phv[i] = sunspec_get(l, regs, n, phv[i]);
        out->wph[i] = sunspec_get(l, regs, n, wph[i]);
    }
    out->hz = sunspec_get(l, regs, n, "Hz");
    out->w = sunspec_get(l, regs, n, "W");
    out->exp_wh = sunspec_get(l, regs, n, "TotWhExp");
    out->imp_wh = sunspec_get(l, regs, n, "TotWhImp");
    return 0;
}

/* Next token of a line: [*s, end) without blanks. */
static size_t sunspec_token(const char **s, const char *end, const char **tok)
{
    while (*s < end && (**s == ' ' || **s == '\t'))
        (*s)++;
    *tok = *s;
    while (*s < end && **s != ' ' && **s != '\t')
        (*s)++;
    return (size_t)(*s - *tok);
}

int sunspec_image_parse(const char *text, size_t len, struct sunspec_image *out)
{
    memset(out, 0, sizeof(*out));
    size_t cap = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *s = p, *tok;
        p = nl ? nl + 1 : end;
        size_t tl = sunspec_token(&s, le, &tok);
        if (tl == 0 || tok[0] == '#')
            continue;
        char num[16], hex[16];
        if (tl >= sizeof(num))
            goto bad;
        memcpy(num, tok, tl);
        num[tl] = '\0';
        long addr;
        if (util_parse_long(num, 10, 0, 65535, &addr) != 0)
            goto bad;
        tl = sunspec_token(&s, le, &tok);
        if (tl == 0 || tl >= sizeof(hex))
            goto bad;
        memcpy(hex, tok, tl);
        hex[tl] = '\0';
        while (hex[0] && (hex[strlen(hex) - 1] == '\r'))
            hex[strlen(hex) - 1] = '\0';
        bool valid = strcmp(hex, "----") != 0;
        long v = 0;
        if (valid && util_parse_long(hex, 16, 0, 0xFFFF, &v) != 0)
            goto bad;
        if (out->n == 0)
            out->base = (uint32_t)addr;
        else if ((uint32_t)addr != out->base + out->n)
            goto bad;
        if (out->n == cap) {
            cap = cap ? cap * 2 : 256;
            out->regs = xrealloc(out->regs, cap * sizeof(*out->regs));
            out->valid = xrealloc(out->valid, cap * sizeof(*out->valid));
        }
        out->regs[out->n] = (uint16_t)v;
        out->valid[out->n] = valid;
        out->n++;
    }
    return out->n ? 0 : -EINVAL;
bad:
    sunspec_image_free(out);
    return -EINVAL;
}

void sunspec_image_free(struct sunspec_image *img)
{
    if (!img)
        return;
    free(img->regs);
    free(img->valid);
    memset(img, 0, sizeof(*img));
}

int sunspec_image_read(void *ctx, uint32_t addr, uint16_t n, uint16_t *out)
{
    const struct sunspec_image *img = ctx;
    if (addr < img->base || addr + n > img->base + img->n)
        return -ENXIO;
    for (uint16_t i = 0; i < n; i++) {
        if (!img->valid[addr - img->base + i])
            return -EIO;
        out[i] = img->regs[addr - img->base + i];
    }
    return 0;
}
