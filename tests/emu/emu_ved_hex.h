/* emu_ved_hex: a device's values and its answers to VE.Direct HEX requests (no I/O). */
#ifndef SITEWATCH_EMU_VED_HEX_H
#define SITEWATCH_EMU_VED_HEX_H

#include "drivers/vedirect_proto.h"
#include "emu.h"
#include "emu_site.h"
#include "emu_ved_kinds.h"

#include <stddef.h>
#include <stdint.h>

/* Longest frame text either way: ':' + command + payload + checksum as hex + '\n' + NUL. */
#define EMU_HEX_FRAME_MAX (2 * VED_HEX_MAX + 8)

/* One device as the HEX layer sees it. The owner (emu_vedirect) fills it and keeps the strings
 * and the settings array alive. */
struct emu_hex_dev {
    const struct emu_kind *kind;
    struct emu_site *site;
    size_t index; /* MPPT number for solar kinds, else 0 */
    uint16_t pid;
    uint16_t version; /* firmware as 0x0XYZ ("0416" → 0x416, "161" → 0x161) */
    const char *serial;
    const char *model;
    int32_t *settings; /* one per kind->regs row; writable rows hold their value */
    int64_t start_ms;  /* monotonic start time, for the uptime register */
};

/* Fills vals with what the device shows now: the site model's view plus the values the device
 * holds itself (device mode, uptime), with the inputs the kind lacks masked out. */
void emu_hex_values(const struct emu_hex_dev *d, struct emu_values *vals);

/* Answers one valid request frame. Writes the reply (":...\n", NUL-terminated) into out and
 * returns its length; 0 when the command has no reply (restart) or out is too small. A Set may
 * change a setting and, through it, the site model. */
size_t emu_hex_answer(struct emu_hex_dev *d, const struct ved_hex_frame *req, char *out,
                      size_t outlen);

/* The reply to a frame that did not decode (bad syntax or checksum): ":4AAAAFD\n". */
size_t emu_hex_frame_error(char *out, size_t outlen);

/* The unsolicited ":A" frame carrying today's history record (0x1050), as newer MPPT firmware
 * sends it; 0 when the kind keeps no daily history. */
size_t emu_hex_async_today(struct emu_hex_dev *d, char *out, size_t outlen);

#endif
