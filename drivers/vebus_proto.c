/* vebus_proto: MK2/MK3 frames: builder, framer with resync, decoders, scale/offset math. */
#include "vebus_proto.h"

#include <errno.h>
#include <math.h>
#include <string.h>

uint8_t vebus_checksum(const uint8_t *buf, size_t n)
{
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += buf[i];
    return (uint8_t)(0x100 - (sum & 0xFF));
}

size_t vebus_build_marked(uint8_t marker, const uint8_t *data, size_t dlen, uint8_t *out,
                          size_t outlen)
{
    /* the length byte counts the marker and the data, not itself nor the checksum */
    if (dlen + 1 > 0x7F || outlen < dlen + 3)
        return 0;
    out[0] = (uint8_t)(dlen + 1);
    out[1] = marker;
    if (dlen)
        memcpy(out + 2, data, dlen);
    out[dlen + 2] = vebus_checksum(out, dlen + 2);
    return dlen + 3;
}

size_t vebus_build(uint8_t cmd, const uint8_t *data, size_t dlen, uint8_t *out, size_t outlen)
{
    uint8_t tmp[VEBUS_FRAME_MAX];
    if (dlen + 1 > sizeof(tmp))
        return 0;
    tmp[0] = cmd;
    if (dlen)
        memcpy(tmp + 1, data, dlen);
    return vebus_build_marked(VEBUS_MARK_CMD, tmp, dlen + 1, out, outlen);
}

size_t vebus_req_address(uint8_t addr, uint8_t *out, size_t outlen)
{
    const uint8_t d[] = {0x01, addr};
    return vebus_build(VEBUS_CMD_ADDRESS, d, sizeof(d), out, outlen);
}

size_t vebus_req_info(uint8_t n, uint8_t *out, size_t outlen)
{
    return vebus_build(VEBUS_CMD_INFO, &n, 1, out, outlen);
}

size_t vebus_req_led(uint8_t *out, size_t outlen)
{
    return vebus_build(VEBUS_CMD_LED, NULL, 0, out, outlen);
}

size_t vebus_req_ram_info(uint8_t id, uint8_t *out, size_t outlen)
{
    const uint8_t d[] = {VEBUS_W_RAM_INFO, id, 0x00};
    return vebus_build(VEBUS_CMD_WINMON, d, sizeof(d), out, outlen);
}

size_t vebus_req_ram(const uint8_t *ids, size_t n, uint8_t *out, size_t outlen)
{
    /* A Winmon command carries two data bytes ('W' 0x30 <id> 0x00 in the recorded invertergui
     * traffic); several ids may follow instead (j9brown [0x30, 14, 15, 16]). */
    uint8_t d[7] = {VEBUS_W_READ_RAM};
    if (n == 0 || n > sizeof(d) - 1)
        return 0;
    memcpy(d + 1, ids, n);
    return vebus_build(VEBUS_CMD_WINMON, d, n == 1 ? 3 : n + 1, out, outlen);
}

size_t vebus_req_state(uint8_t *out, size_t outlen)
{
    const uint8_t d[] = {VEBUS_W_GET_STATE, 0x00, 0x00};
    return vebus_build(VEBUS_CMD_WINMON, d, sizeof(d), out, outlen);
}

size_t vebus_req_switch(unsigned sw, double limit_a, uint8_t *out, size_t outlen)
{
    /* j9brown HEAD: S <switch> <limit lo> <limit hi> 0x01 0x80; 0x8000 = use the maximum */
    unsigned v = 0x8000;
    if (limit_a >= 0)
        v = limit_a * 10 > 0x7FFF ? 0x7FFF : (unsigned)lround(limit_a * 10);
    const uint8_t d[] = {(uint8_t)sw, (uint8_t)(v & 0xFF), (uint8_t)(v >> 8), 0x01, 0x80};
    return vebus_build(VEBUS_CMD_SWITCH, d, sizeof(d), out, outlen);
}

static bool vebus_marker_ok(uint8_t m)
{
    return m == VEBUS_MARK_CMD || m == VEBUS_MARK_INFO || m == VEBUS_MARK_CONFIG ||
           m == VEBUS_MARK_RESET;
}

/* Whether a length byte and a marker can start a frame from the MK2. Tighter than the format
 * allows, on purpose: after junk the framer tries every byte as a start, and a 129-byte false
 * start that happens to sum to 0 (1 in 256) would swallow a dozen real frames. MK2 replies are
 * short (a 'W' reply with six values is 15 bytes), info frames are 0x0F, the config frame 0x0D;
 * reset frames (marker 0x00) are not framed, the driver sees the silence instead. */
static bool vebus_start_ok(uint8_t len, uint8_t m)
{
    unsigned n = len & 0x7Fu;
    switch (m) {
    case VEBUS_MARK_CMD:
        return n >= 2 && n <= 0x20;
    case VEBUS_MARK_INFO:
        return n == 0x0F || n == 0x0F + 2;
    case VEBUS_MARK_CONFIG:
        return n >= 0x0C && n <= 0x12;
    default:
        return false;
    }
}

int vebus_frame_check(const uint8_t *buf, size_t n, struct vebus_frame *f)
{
    if (n < 4 || n != (size_t)(buf[0] & 0x7F) + 2 || !vebus_marker_ok(buf[1]))
        return -EINVAL;
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += buf[i];
    if ((sum & 0xFF) != 0)
        return -EBADMSG;
    *f = (struct vebus_frame){.marker = buf[1], .data = buf + 2, .len = n - 3};
    /* Length bit 7: the MK2 appended the LED status (on, blink) to the frame, inside the length
     * (protocols.md §3; SOURCE.md: "a frame is (len&0x7F)+2 bytes long"). */
    if ((buf[0] & 0x80) && f->len >= 2) {
        f->has_led = true;
        f->led_on = buf[n - 3];
        f->led_blink = buf[n - 2];
        f->len -= 2;
    }
    return 0;
}

void vebus_framer_init(struct vebus_framer *fr)
{
    memset(fr, 0, sizeof(*fr));
}

const struct vebus_frame *vebus_framer_frame(const struct vebus_framer *fr)
{
    return &fr->frame;
}

/* Gives back buf[1..have) for rescanning, ahead of what is still pending. */
static void vebus_framer_resync(struct vebus_framer *fr)
{
    size_t back = fr->have - 1;
    if (back + fr->npend > sizeof(fr->pend)) /* cannot happen (see header), stay safe */
        back = sizeof(fr->pend) - fr->npend;
    memmove(fr->pend + back, fr->pend, fr->npend);
    memcpy(fr->pend, fr->buf + 1, back);
    fr->npend += back;
    fr->have = 0;
}

/* Reports a run of unusable bytes once, not once per byte. */
static enum vebus_event vebus_framer_junk(struct vebus_framer *fr)
{
    if (fr->in_junk)
        return VEBUS_EV_NONE;
    fr->in_junk = true;
    return VEBUS_EV_GARBAGE;
}

void vebus_framer_flush(struct vebus_framer *fr)
{
    if (fr->have > 0)
        vebus_framer_resync(fr);
}

static enum vebus_event vebus_framer_step(struct vebus_framer *fr, uint8_t b)
{
    fr->buf[fr->have++] = b;
    if (fr->have == 1 && (b & 0x7F) < 2) { /* shortest frame: "02 FF 4C" + checksum */
        fr->have = 0;
        return vebus_framer_junk(fr);
    }
    if (fr->have == 2 && !vebus_start_ok(fr->buf[0], b)) {
        vebus_framer_resync(fr);
        return vebus_framer_junk(fr);
    }
    if (fr->have == 2)
        fr->in_junk = false;
    size_t need = (size_t)(fr->buf[0] & 0x7F) + 2;
    if (fr->have < need)
        return VEBUS_EV_NONE;
    memcpy(fr->out, fr->buf, need);
    int r = vebus_frame_check(fr->out, need, &fr->frame);
    if (r == 0) {
        fr->have = 0;
        return VEBUS_EV_FRAME;
    }
    vebus_framer_resync(fr);
    return VEBUS_EV_BAD_SUM;
}

size_t vebus_framer_feed(struct vebus_framer *fr, const uint8_t *data, size_t len,
                         enum vebus_event *ev)
{
    size_t i = 0;
    *ev = VEBUS_EV_NONE;
    for (;;) {
        uint8_t b;
        if (fr->npend > 0) { /* bytes given back by a failed start come before new ones */
            b = fr->pend[0];
            memmove(fr->pend, fr->pend + 1, --fr->npend);
        } else if (i < len) {
            b = data[i++];
        } else {
            return len;
        }
        *ev = vebus_framer_step(fr, b);
        if (*ev != VEBUS_EV_NONE)
            return i;
    }
}

void vebus_scale_from_raw(uint16_t sc, uint16_t ofs, struct vebus_scale *out)
{
    /* protocols.md §3 / xcellsior §7.7: s = int16(scale); signed = s < 0; s = |s|;
     * scale = s >= 0x4000 ? 1/(0x8000 - s) : s; offset 0x8000 = a bit variable, bit |s| - 1. */
    int32_t s = (int16_t)sc;
    *out = (struct vebus_scale){0};
    out->is_signed = s < 0;
    if (s < 0)
        s = -s;
    if (s == 0)
        return;
    out->supported = true;
    if (ofs == 0x8000) {
        out->is_bit = true;
        out->bit = (unsigned)s - 1;
        out->mul = out->div = 1;
        return;
    }
    out->mul = s >= 0x4000 ? 1u : (uint32_t)s;
    out->div = s >= 0x4000 ? (uint32_t)(0x8000 - s) : 1u;
    out->offset = (int16_t)ofs;
}

/* (raw + offset) · k · mul / div: the integer part is exact (24-bit raw, 15-bit scale), so the one
 * division rounds once, to the double nearest the device's value; 1441 at 1/100 is 14.41, where
 * 1441 × (1.0 / 100) is 14.410000000000002. */
static double vebus_scale_times(const struct vebus_scale *s, uint32_t raw, unsigned bits, int64_t k)
{
    if (s->is_bit)
        return (double)(k * ((raw >> s->bit) & 1u));
    int64_t v = raw;
    if (s->is_signed && bits > 0 && bits < 32 && (raw & (1u << (bits - 1))))
        v -= (int64_t)1 << bits;
    return (double)((v + s->offset) * k * (int64_t)s->mul) / (double)(s->div ? s->div : 1);
}

double vebus_scale_apply(const struct vebus_scale *s, uint32_t raw, unsigned bits)
{
    return vebus_scale_times(s, raw, bits, 1);
}

double vebus_scale_percent(const struct vebus_scale *s, uint32_t raw, unsigned bits)
{
    return vebus_scale_times(s, raw, bits, 100);
}

double vebus_period_hz(const struct vebus_scale *s, uint8_t period)
{
    if (!s->supported || s->is_bit)
        return NAN;
    int64_t t = ((int64_t)period + s->offset) * (int64_t)s->mul;
    return t > 0 ? 10.0 * (double)s->div / (double)t : NAN;
}

static bool vebus_is_cmd(const struct vebus_frame *f, uint8_t cmd, size_t min_len)
{
    return f->marker == VEBUS_MARK_CMD && f->len >= min_len && f->data[0] == cmd;
}

int vebus_decode_version(const struct vebus_frame *f, uint32_t *version, uint8_t *mode)
{
    if (!vebus_is_cmd(f, VEBUS_CMD_VERSION, 5))
        return -EINVAL;
    const uint8_t *d = f->data + 1;
    *version = (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 | (uint32_t)d[3] << 24;
    *mode = f->len >= 6 ? d[4] : 0;
    return 0;
}

bool vebus_is_w_reply(const struct vebus_frame *f, uint8_t sub)
{
    if (f->marker != VEBUS_MARK_CMD || f->len < 2)
        return false;
    uint8_t c = f->data[0];
    if (c != 'W' && c != 'X' && c != 'Y' && c != 'Z')
        return false;
    return sub == 0 || f->data[1] == sub;
}

int vebus_decode_ram_info(const struct vebus_frame *f, struct vebus_scale *out)
{
    if (vebus_is_w_reply(f, VEBUS_WR_VAR_NOT_SUPPORTED) ||
        vebus_is_w_reply(f, VEBUS_WR_NOT_SUPPORTED)) {
        *out = (struct vebus_scale){0};
        return -ENOTSUP;
    }
    if (!vebus_is_w_reply(f, VEBUS_WR_RAM_INFO) || f->len < 7 || f->data[4] != VEBUS_WR_RAM_INFO2)
        return -EINVAL;
    const uint8_t *d = f->data;
    vebus_scale_from_raw((uint16_t)(d[2] | d[3] << 8), (uint16_t)(d[5] | d[6] << 8), out);
    return out->supported ? 0 : -ENOTSUP;
}

int vebus_decode_ram(const struct vebus_frame *f, uint16_t *vals, size_t max)
{
    if (vebus_is_w_reply(f, VEBUS_WR_VAR_NOT_SUPPORTED) ||
        vebus_is_w_reply(f, VEBUS_WR_NOT_SUPPORTED))
        return -ENOTSUP;
    if (!vebus_is_w_reply(f, VEBUS_WR_RAM) || f->len < 4 || (f->len - 2) % 2 != 0)
        return -EINVAL;
    size_t n = (f->len - 2) / 2;
    if (n > max)
        n = max;
    for (size_t i = 0; i < n; i++)
        vals[i] = (uint16_t)(f->data[2 + 2 * i] | f->data[3 + 2 * i] << 8);
    return (int)n;
}

int vebus_decode_state(const struct vebus_frame *f, uint8_t *state, uint8_t *sub)
{
    if (!vebus_is_w_reply(f, VEBUS_WR_STATE) || f->len < 4)
        return -EINVAL;
    *state = f->data[2];
    *sub = f->data[3];
    return 0;
}

int vebus_decode_led(const struct vebus_frame *f, uint8_t *on, uint8_t *blink)
{
    if (!vebus_is_cmd(f, VEBUS_CMD_LED, 3))
        return -EINVAL;
    *on = f->data[1];
    *blink = f->data[2];
    return 0;
}

static uint32_t vebus_le(const uint8_t *p, unsigned n)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

/* Info frames: data[4] is the phase byte: 0x0C DC, 0x08 L1 of one phase, 0x09..0x0B L1 of
 * 2..4 phases, 0x07 L2, 0x06 L3, 0x05 L4 (j9brown: phase = max(9 - b, 1), n = max(b - 7, 0)). */
int vebus_decode_dc(const struct vebus_frame *f, const struct vebus_scale *scales,
                    struct vebus_dc *out)
{
    if (f->marker != VEBUS_MARK_INFO || f->len < 14 || f->data[4] != 0x0C)
        return -EINVAL;
    const uint8_t *d = f->data;
    out->voltage = vebus_scale_apply(&scales[VEBUS_RAM_UBAT], vebus_le(d + 5, 2), 16);
    /* DC info: bytes 7..9 current used by the inverter, 10..12 current from the charger
     * (j9brown DCFrame dc_current_to_inverter / dc_current_from_charger). invertergui reports
     * used − charge (its BatCurrent −0.4 A while absorbing); Venus counts charging positive. */
    out->i_inverting = vebus_scale_apply(&scales[VEBUS_RAM_IBAT], vebus_le(d + 7, 3), 24);
    out->i_charging = vebus_scale_apply(&scales[VEBUS_RAM_IBAT], vebus_le(d + 10, 3), 24);
    out->current = out->i_charging - out->i_inverting;
    out->inverter_hz = vebus_period_hz(&scales[VEBUS_RAM_INV_PERIOD], d[13]);
    return 0;
}

int vebus_decode_ac(const struct vebus_frame *f, const struct vebus_scale *scales,
                    struct vebus_ac *out)
{
    if (f->marker != VEBUS_MARK_INFO || f->len < 14 || f->data[4] < 0x05 || f->data[4] > 0x0B)
        return -EINVAL;
    const uint8_t *d = f->data;
    unsigned b = d[4];
    out->phase = b >= 8 ? 1 : 9 - b;
    out->nphases = b >= 8 ? b - 7 : 0;
    out->mains_factor = d[0];
    out->inverter_factor = d[1];
    out->state = d[3];
    out->mains_v = vebus_scale_apply(&scales[VEBUS_RAM_UMAINS], vebus_le(d + 5, 2), 16);
    out->mains_i = vebus_scale_apply(&scales[VEBUS_RAM_IMAINS], vebus_le(d + 7, 2), 16) * d[0];
    out->inverter_v = vebus_scale_apply(&scales[VEBUS_RAM_UINV], vebus_le(d + 9, 2), 16);
    out->inverter_i = vebus_scale_apply(&scales[VEBUS_RAM_IINV], vebus_le(d + 11, 2), 16) * d[1];
    out->mains_hz = vebus_period_hz(&scales[VEBUS_RAM_MAINS_PERIOD], d[13]);
    return 0;
}

int vebus_decode_config(const struct vebus_frame *f, struct vebus_config *out)
{
    /* j9brown ConfigFrame: msg[1..2] LED on/blink, [5] AC input flags, [6..11] min, max and
     * actual current limit ×10 (u16 LE), [12] switch register. */
    if (f->marker != VEBUS_MARK_CONFIG || f->len < 12)
        return -EINVAL;
    const uint8_t *d = f->data;
    out->led_on = d[0];
    out->led_blink = d[1];
    out->active_input = d[4] & 0x03;
    out->n_inputs = (d[4] & 0x70) >> 4;
    out->limit_min = vebus_le(d + 5, 2) / 10.0;
    out->limit_max = vebus_le(d + 7, 2) / 10.0;
    out->limit = vebus_le(d + 9, 2) / 10.0;
    out->switch_reg = d[11];
    return 0;
}

unsigned vebus_mode_from_switch(uint8_t switch_reg)
{
    bool chg = switch_reg & 0x10, inv = switch_reg & 0x20;
    return chg && inv ? VEBUS_SW_ON
           : chg      ? VEBUS_SW_CHARGER_ONLY
           : inv      ? VEBUS_SW_INVERTER_ONLY
                      : VEBUS_SW_OFF;
}

unsigned vebus_venus_state(uint8_t state, uint8_t sub)
{
    /* charge sub-states (izak `states`): 0 init, 1 bulk, 2 absorption, 3 float, 4 storage,
     * 5 repeated absorption, 6 forced absorption, 7 equalise, 8 bulk stopped */
    static const uint8_t charge[] = {3, 3, 4, 5, 6, 4, 4, 7, 3};
    /* device states 0..8: down, startup, off, slave → off; invert → inverting; AES → low power;
     * power assist → assisting; bypass → passthru */
    static const uint8_t dev[] = {0, 0, 0, 0, 9, 9, 1, 10, 8};
    if (state == VEBUS_ST_CHARGE)
        return sub < sizeof(charge) ? charge[sub] : 3;
    return state < sizeof(dev) ? dev[state] : 2;
}
