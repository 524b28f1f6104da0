/* vebus_proto: the MK2/MK3 host protocol of Victron VE.Bus products, pure: frame builder,
 * byte-stream framer, decoders of the replies and info frames, RAM-variable scale/offset math.
 *
 * Facts: shared/reference/protocols.md §3 (MK2 protocol 3.14 as quoted there, invertergui,
 * izak/ib.victron, j9brown/victron-mk3); verified against shared/testdata/vebus. */
#ifndef SITEWATCH_VEBUS_PROTO_H
#define SITEWATCH_VEBUS_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A frame is (len & 0x7F) + 2 bytes: length, marker, command/data, checksum. */
#define VEBUS_FRAME_MAX (0x7F + 2)

/* Frame markers (the byte after the length). */
#define VEBUS_MARK_CMD 0xFF    /* command and reply frames */
#define VEBUS_MARK_INFO 0x20   /* DC and AC info frames */
#define VEBUS_MARK_CONFIG 0x41 /* 'F' 5: master multi LED / config frame (j9brown ConfigFrame) */
#define VEBUS_MARK_RESET 0x00  /* boot frame (invertergui); checked, but not framed in a stream */

/* Host commands (ASCII letters, after the 0xFF marker). */
#define VEBUS_CMD_ADDRESS 'A'
#define VEBUS_CMD_INFO 'F'
#define VEBUS_CMD_LED 'L'
#define VEBUS_CMD_SWITCH 'S'
#define VEBUS_CMD_VERSION 'V'
#define VEBUS_CMD_WINMON 'W'

/* 'F' info request numbers. */
#define VEBUS_INFO_DC 0
#define VEBUS_INFO_AC_L1 1 /* .. 4 = L4 */
#define VEBUS_INFO_CONFIG 5

/* 'W' (Winmon) sub-commands and their replies. */
#define VEBUS_W_GET_STATE 0x0E
#define VEBUS_W_READ_RAM 0x30
#define VEBUS_W_RAM_INFO 0x36
#define VEBUS_WR_RAM 0x85
#define VEBUS_WR_RAM_INFO 0x8E
#define VEBUS_WR_RAM_INFO2 0x8F
#define VEBUS_WR_STATE 0x94
#define VEBUS_WR_NOT_SUPPORTED 0x80
#define VEBUS_WR_VAR_NOT_SUPPORTED 0x90

/* RAM variable ids (protocols.md §3). */
enum vebus_ram {
    VEBUS_RAM_UMAINS = 0,
    VEBUS_RAM_IMAINS = 1,
    VEBUS_RAM_UINV = 2,
    VEBUS_RAM_IINV = 3,
    VEBUS_RAM_UBAT = 4,
    VEBUS_RAM_IBAT = 5,
    VEBUS_RAM_UBAT_RMS = 6,
    VEBUS_RAM_INV_PERIOD = 7,
    VEBUS_RAM_MAINS_PERIOD = 8,
    VEBUS_RAM_AC_LOAD_I = 9,
    VEBUS_RAM_CHARGE_STATE = 13, /* the Multi's own SoC, 0..1 */
    VEBUS_RAM_INV_POWER = 14,    /* filtered, signed, + = AC → DC */
    VEBUS_RAM_OUT_POWER = 16,
    VEBUS_RAM_COUNT = 20,
};

/* Device states (AC info byte 4, 'W' 0x0E). */
enum vebus_dev_state {
    VEBUS_ST_DOWN = 0,
    VEBUS_ST_STARTUP = 1,
    VEBUS_ST_OFF = 2,
    VEBUS_ST_SLAVE = 3,
    VEBUS_ST_INVERT_FULL = 4,
    VEBUS_ST_INVERT_HALF = 5,
    VEBUS_ST_INVERT_AES = 6,
    VEBUS_ST_POWER_ASSIST = 7,
    VEBUS_ST_BYPASS = 8,
    VEBUS_ST_CHARGE = 9,
};

/* LED bits ('L' reply, config frame). */
enum vebus_led {
    VEBUS_LED_MAINS = 0x01,
    VEBUS_LED_ABSORPTION = 0x02,
    VEBUS_LED_BULK = 0x04,
    VEBUS_LED_FLOAT = 0x08,
    VEBUS_LED_INVERTER = 0x10,
    VEBUS_LED_OVERLOAD = 0x20,
    VEBUS_LED_LOW_BATTERY = 0x40,
    VEBUS_LED_TEMPERATURE = 0x80,
};

/* Switch positions of the 'S' command = the Venus /Mode codes. */
enum vebus_switch {
    VEBUS_SW_CHARGER_ONLY = 1,
    VEBUS_SW_INVERTER_ONLY = 2,
    VEBUS_SW_ON = 3,
    VEBUS_SW_OFF = 4,
};

/* One checked frame; data points into the framer's buffer (valid until the next feed). */
struct vebus_frame {
    uint8_t marker;
    const uint8_t *data; /* after the marker, before the checksum and appended LED bytes */
    size_t len;
    bool has_led; /* length byte had bit 7 set: LED on/blink appended */
    uint8_t led_on;
    uint8_t led_blink;
};

/* The checksum byte that makes the sum of buf[0..n) plus it ≡ 0 mod 256. */
uint8_t vebus_checksum(const uint8_t *buf, size_t n);

/* Builds a host frame <len> FF <cmd> <data..> <chk> into out[outlen]. Returns its length, or 0
 * when it does not fit. */
size_t vebus_build(uint8_t cmd, const uint8_t *data, size_t dlen, uint8_t *out, size_t outlen);

/* The requests the driver sends, each into out[outlen]; they return the length (0 = no room).
 * 'A' 01 <addr>: select the device address (the MK2 echoes it). */
size_t vebus_req_address(uint8_t addr, uint8_t *out, size_t outlen);
/* 'F' <n>: DC info (0), AC info of phase n (1..4), config frame (5). */
size_t vebus_req_info(uint8_t n, uint8_t *out, size_t outlen);
/* 'L': LED status. */
size_t vebus_req_led(uint8_t *out, size_t outlen);
/* 'W' 0x36 <id> 00: scale and offset of RAM variable id. */
size_t vebus_req_ram_info(uint8_t id, uint8_t *out, size_t outlen);
/* 'W' 0x30 <id>...: read up to 6 RAM variables in one frame. */
size_t vebus_req_ram(const uint8_t *ids, size_t n, uint8_t *out, size_t outlen);
/* 'W' 0x0E 00 00: device state and charge sub-state (reply 0x94). */
size_t vebus_req_state(uint8_t *out, size_t outlen);
/* 'S' <switch> <limit ×10 u16 LE> 01 80: switch position and AC input current limit (limit_a < 0:
 * leave at the maximum, 0x8000). */
size_t vebus_req_switch(unsigned sw, double limit_a, uint8_t *out, size_t outlen);

/* Builds any frame with a given marker (the emulator's info and config frames). 0 = no room. */
size_t vebus_build_marked(uint8_t marker, const uint8_t *data, size_t dlen, uint8_t *out,
                          size_t outlen);

/* Checks one complete frame buf[n] (length, marker, checksum) and fills f. 0, -EBADMSG (bad
 * checksum) or -EINVAL (not a frame of that size / unknown marker). */
int vebus_frame_check(const uint8_t *buf, size_t n, struct vebus_frame *f);

enum vebus_event {
    VEBUS_EV_NONE,
    VEBUS_EV_FRAME,   /* vebus_framer_frame() is valid */
    VEBUS_EV_BAD_SUM, /* a frame-shaped run of bytes with a wrong checksum: skipped */
    VEBUS_EV_GARBAGE, /* bytes that cannot start a frame: skipped */
};

/* Byte-stream framer: finds frames in a stream with garbage, truncated frames and bad checksums,
 * resynchronising one byte past any start that did not verify. */
struct vebus_framer {
    uint8_t buf[VEBUS_FRAME_MAX];
    size_t have;
    uint8_t pend[VEBUS_FRAME_MAX]; /* bytes handed back after a failed start, rescanned first */
    size_t npend;
    bool in_junk;
    struct vebus_frame frame;
    uint8_t out[VEBUS_FRAME_MAX]; /* the last good frame, which frame.data points into */
};

void vebus_framer_init(struct vebus_framer *fr);
/* Consumes bytes from data[len] until an event; returns how many were consumed (all of them with
 * VEBUS_EV_NONE). Call again with the rest. */
size_t vebus_framer_feed(struct vebus_framer *fr, const uint8_t *data, size_t len,
                         enum vebus_event *ev);
/* The line went idle: a partial frame's rest is not coming (a truncated frame). Its bytes after
 * the first are rescanned by the next feed (call it with len 0), which finds a frame that started
 * inside it. */
void vebus_framer_flush(struct vebus_framer *fr);
/* The last frame, after VEBUS_EV_FRAME. */
const struct vebus_frame *vebus_framer_frame(const struct vebus_framer *fr);

/* A RAM variable's scale and offset ('W' 0x36 reply). */
struct vebus_scale {
    bool supported; /* scale != 0 */
    bool is_signed;
    bool is_bit; /* offset 0x8000: a boolean, bit number `bit` of the raw value */
    unsigned bit;
    /* The device's scale is an integer (mul) or the reciprocal of one (div), never both: kept as
     * integers so that a value is one exact division, (raw + offset) · mul / div. */
    uint32_t mul;
    uint32_t div;
    int32_t offset;
};

/* Decodes a raw 'W' 0x36 reply (sc = scale field, ofs = offset field) per protocols.md §3. */
void vebus_scale_from_raw(uint16_t sc, uint16_t ofs, struct vebus_scale *out);
/* value = (raw + offset) · mul / div, raw taken as signed (of width bits) for signed variables;
 * a bit variable gives 0/1. */
double vebus_scale_apply(const struct vebus_scale *s, uint32_t raw, unsigned bits);
/* The same × 100 for a variable that is a fraction (the charge state): (raw + offset) · 100 ·
 * mul / div, so 173 at 1/200 is exactly 86.5 %. */
double vebus_scale_percent(const struct vebus_scale *s, uint32_t raw, unsigned bits);
/* Frequency from a period byte and its variable (7 or 8): 10 · div / ((period + offset) · mul).
 * NaN when the period is 0 or the variable unsupported. */
double vebus_period_hz(const struct vebus_scale *s, uint8_t period);

/* 'V' reply: version number and mode byte. 0 or -EINVAL. */
int vebus_decode_version(const struct vebus_frame *f, uint32_t *version, uint8_t *mode);
/* 'W' 0x8E reply: scale info. 0, -ENOTSUP (variable not supported) or -EINVAL. */
int vebus_decode_ram_info(const struct vebus_frame *f, struct vebus_scale *out);
/* 'W' 0x85 reply: up to max raw u16 values; returns their count or -EINVAL / -ENOTSUP. */
int vebus_decode_ram(const struct vebus_frame *f, uint16_t *vals, size_t max);
/* 'W' 0x94 reply: device state and charge sub-state. 0 or -EINVAL. */
int vebus_decode_state(const struct vebus_frame *f, uint8_t *state, uint8_t *sub);
/* 'L' reply: LED on and blink bits. 0 or -EINVAL. */
int vebus_decode_led(const struct vebus_frame *f, uint8_t *on, uint8_t *blink);
/* True when f is a 'W'-family reply ('W', 'X', 'Y', 'Z') with first byte sub (0 = any). */
bool vebus_is_w_reply(const struct vebus_frame *f, uint8_t sub);

/* DC info frame, raw and scaled (scales of variables 4, 5, 7). */
struct vebus_dc {
    double voltage;     /* V */
    double i_inverting; /* A taken from the battery by the inverter */
    double i_charging;  /* A put into the battery by the charger */
    double current;     /* A, Venus sign: + = charging = i_charging − i_inverting */
    double inverter_hz; /* NaN when unknown */
};
/* 0 or -EINVAL (not a DC info frame). scales is indexed by enum vebus_ram. */
int vebus_decode_dc(const struct vebus_frame *f, const struct vebus_scale *scales,
                    struct vebus_dc *out);

/* AC info frame of one phase. */
struct vebus_ac {
    unsigned phase;                        /* 1..4 */
    unsigned nphases;                      /* only in L1's frame (0 in the others) */
    uint8_t state;                         /* enum vebus_dev_state */
    uint8_t mains_factor, inverter_factor; /* units in parallel behind the current readings */
    double mains_v, mains_i, inverter_v, inverter_i;
    double mains_hz; /* NaN when unknown */
};
/* 0 or -EINVAL (not an AC info frame). */
int vebus_decode_ac(const struct vebus_frame *f, const struct vebus_scale *scales,
                    struct vebus_ac *out);

/* 'F' 5 config frame (j9brown ConfigFrame): LEDs, AC input, current limits, switch register. */
struct vebus_config {
    uint8_t led_on, led_blink;
    unsigned active_input; /* last active AC input, 0 = AC in 1 */
    unsigned n_inputs;
    double limit_min, limit_max, limit; /* A */
    uint8_t switch_reg;                 /* 0x10 charge, 0x20 invert (resolved switch state) */
};
int vebus_decode_config(const struct vebus_frame *f, struct vebus_config *out);

/* The Venus /Mode (1 charger only, 2 inverter only, 3 on, 4 off) of a switch register. */
unsigned vebus_mode_from_switch(uint8_t switch_reg);
/* The Venus /State code of a device state and charge sub-state (0 off, 1 low power, 2 fault,
 * 3 bulk, 4 absorption, 5 float, 6 storage, 7 equalize, 8 passthru, 9 inverting, 10 assisting). */
unsigned vebus_venus_state(uint8_t state, uint8_t sub);

#endif
