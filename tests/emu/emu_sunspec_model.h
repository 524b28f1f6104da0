/* emu_sunspec_model: the register images a SunSpec inverter serves: synthesised (Fronius float,
 * Fronius int+SF, SMA, three-phase FIMER-like) from the site's sun curve, or a real dump. */
#ifndef SITEWATCH_EMU_SUNSPEC_MODEL_H
#define SITEWATCH_EMU_SUNSPEC_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EMU_SS_IMAGE_MAX 1024

struct emu_ss_kind; /* a synthesised inverter type */

/* "fronius-float|fronius-int|sma|three-phase" → kind, NULL when unknown. */
const struct emu_ss_kind *emu_ss_kind_find(const char *name);
/* The unit id the kind answers on when --units is not given (Fronius 1, SMA 126). */
int emu_ss_kind_default_unit(const struct emu_ss_kind *k);
/* True when the kind also serves SMA's proprietary registers on unit 3. */
bool emu_ss_kind_sma(const struct emu_ss_kind *k);

/* One synthesised inverter: its state between requests (energy counter). */
struct emu_ss_inv {
    const struct emu_ss_kind *kind;
    int unit;
    double scale;     /* share of the kind's rated power (several units differ) */
    double energy_wh; /* lifetime energy, grows with the power served */
    double last_s;    /* time of the last update, s (monotonic) */
    double w;         /* AC power at the last update */
};

void emu_ss_inv_init(struct emu_ss_inv *inv, const struct emu_ss_kind *k, int unit, size_t idx);

/* Fills img[0..*n) with the SunSpec image at base (marker, chain, end) for sun (0..1) at time
 * now_s. night: the Fronius null frame (state 7, all zeros) in the inverter model. */
void emu_ss_build(struct emu_ss_inv *inv, double sun, double now_s, bool night, uint16_t *img,
                  size_t *n);
/* Whether the image is served up to its end marker (SMA answers the end model with an error). */
bool emu_ss_serves_end(const struct emu_ss_kind *k);

/* SMA proprietary register addr on unit 3 (30201 condition, 30529 yield, 30775 power), from the
 * state left by the last emu_ss_build. 0, or -ENXIO for a register it does not have. */
int emu_ss_sma_reg(const struct emu_ss_inv *inv, uint32_t addr, uint16_t *out);

#endif
