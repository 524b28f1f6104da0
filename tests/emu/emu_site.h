/* emu_site: the deterministic physical model of one site, shared by the devices that show it. */
#ifndef SITEWATCH_EMU_SITE_H
#define SITEWATCH_EMU_SITE_H

#include "emu.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EMU_SITE_MAX_MPPT 16
#define EMU_SITE_DAYS 31 /* daily records per MPPT: 0x1050 (today) .. 0x106E (30 days ago) */

/* Which part of the site a device shows. */
enum emu_role {
    EMU_ROLE_BATTERY,  /* BMV / SmartShunt */
    EMU_ROLE_SOLAR,    /* MPPT number idx */
    EMU_ROLE_INVERTER, /* the site's inverter, which carries the AC loads */
    EMU_ROLE_CHARGER,  /* a mains charger (only charges when conf.has_charger) */
    EMU_ROLE_DCDC,     /* an alternator DC-DC charger (only when conf.has_dcdc) */
};

struct emu_site_mppt_conf {
    double peak_w; /* PV array peak power at noon */
    double max_a;  /* rated charge current */
    double vmp_v;  /* array voltage at maximum power */
};

struct emu_site_conf {
    uint64_t seed;
    double speed;       /* simulated seconds per real second */
    double start_hour;  /* simulated time of day at start, [0, 24) */
    double capacity_ah; /* battery capacity */
    double soc0;        /* state of charge at start, % */
    size_t n_mppt;
    struct emu_site_mppt_conf mppt[EMU_SITE_MAX_MPPT];
    bool has_charger;
    bool has_dcdc;
};

/* Defaults: seed 1, speed 1, start at noon, 400 Ah at 80 %, two MPPTs (400 W / 30 A / 62 V and
 * 600 W / 35 A / 93 V), no charger, no DC-DC. */
void emu_site_conf_defaults(struct emu_site_conf *c);

/* Sets c->start_hour from --start-hour: hour when >= 0; else (not given) the local time of day,
 * except with SITEWATCH_TEST=1 in the environment (the test runner), where an unpinned hour is
 * refused with a log line: -EINVAL. 0 otherwise. */
int emu_site_conf_start_hour(struct emu_site_conf *c, double hour);

struct emu_site;

/* Creates a model from a copy of conf (n_mppt is capped at EMU_SITE_MAX_MPPT) into *out.
 * Free with emu_site_free. 0 or -errno. */
int emu_site_new(const struct emu_site_conf *conf, struct emu_site **out);
void emu_site_free(struct emu_site *s);

/* Advances the model to the present (thread-safe) and fills out with what a device of role
 * (MPPT number idx for EMU_ROLE_SOLAR) shows. Quantities that do not apply are NaN. */
void emu_site_view(struct emu_site *s, enum emu_role role, size_t idx, struct emu_values *out);

/* Copies MPPT idx's record of days_back days ago (0 = today); a day before the kept history is
 * all zeros. 0 or -EINVAL (bad idx or days_back >= EMU_SITE_DAYS). */
int emu_site_day(struct emu_site *s, size_t idx, unsigned days_back, struct emu_day *out);

/* Advances the model to the present and returns the sun now: 0 at night, 1 at noon (the curve
 * every PV source of the site follows). */
double emu_site_sun(struct emu_site *s);

/* Device mode: switches the output of a device on or off. 0 or -EINVAL. */
int emu_site_set_enabled(struct emu_site *s, enum emu_role role, size_t idx, bool on);

/* MPPT load output control: 0 off, 1 automatic (low-voltage disconnect), 4 on. 0 or -EINVAL. */
int emu_site_set_load(struct emu_site *s, size_t idx, int ctl);

#endif
