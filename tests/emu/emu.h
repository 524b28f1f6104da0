/* emu: types shared by the sitewatch-emu modules: run control, model quantities, day records. */
#ifndef SITEWATCH_EMU_H
#define SITEWATCH_EMU_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Run control shared by the main thread, which alone handles signals, and the device threads.
 * Lives in main()'s frame: the emulator keeps no mutable statics. */
struct emu_ctl {
    atomic_bool stop;   /* SIGINT/SIGTERM: every device returns from its loop */
    atomic_int silence; /* bit 0 toggled by SIGUSR1: every device pauses its text output */
};

/* The quantities a device can show, in SI-ish units (V, A, W, Ah, %, min, s, kWh, °C).
 * The site model fills them; text-field and register tables name them. NaN = not available. */
enum emu_q {
    EMU_Q_NONE = 0,
    /* battery, as a monitor sees it */
    EMU_Q_BAT_V,   /* V: battery voltage (every device shows it as V) */
    EMU_Q_BAT_I,   /* A: battery current, + = charging */
    EMU_Q_BAT_P,   /* W */
    EMU_Q_CE_AH,   /* Ah consumed since full, <= 0 */
    EMU_Q_SOC,     /* % */
    EMU_Q_TTG_MIN, /* minutes, -1 = infinite */
    EMU_Q_BAT_T,   /* °C, NaN = no sensor */
    EMU_Q_AUX_V,   /* V starter battery, NaN when the aux input is not a voltage */
    EMU_Q_ALARM,   /* 0/1 */
    EMU_Q_AR,      /* alarm reason bits */
    EMU_Q_RELAY,   /* 0/1 */
    EMU_Q_SYNCED,  /* 0/1: synchronised since start */
    EMU_Q_H1_AH,   /* deepest discharge */
    EMU_Q_H2_AH,   /* last discharge */
    EMU_Q_H3_AH,   /* average discharge */
    EMU_Q_H4,      /* charge cycles */
    EMU_Q_H5,      /* full discharges */
    EMU_Q_H6_AH,   /* cumulative Ah drawn */
    EMU_Q_H7_V,    /* min voltage */
    EMU_Q_H8_V,    /* max voltage */
    EMU_Q_H9_S,    /* seconds since full */
    EMU_Q_H10,     /* automatic syncs */
    EMU_Q_H11,     /* low voltage alarms */
    EMU_Q_H12,     /* high voltage alarms */
    EMU_Q_H15_V,   /* min aux voltage */
    EMU_Q_H16_V,   /* max aux voltage */
    EMU_Q_H17_KWH, /* discharged energy */
    EMU_Q_H18_KWH, /* charged energy */
    /* a charging source (MPPT, mains charger, DC-DC) */
    EMU_Q_OUT_I,   /* A into the battery (MPPT: charge current minus load output) */
    EMU_Q_OUT_P,   /* W into the battery */
    EMU_Q_CHG_I,   /* A: the charger's own output current */
    EMU_Q_IN_V,    /* V: panel or DC input voltage */
    EMU_Q_IN_I,    /* A: panel or DC input current */
    EMU_Q_IN_P,    /* W: panel or DC input power */
    EMU_Q_CS,      /* state of operation (VE.Direct CS code) */
    EMU_Q_TRACKER, /* MPPT mode: 0 off, 1 limited, 2 tracking */
    EMU_Q_OR,      /* off reason bits */
    EMU_Q_ERR,     /* error code */
    EMU_Q_LOAD_ON, /* 0/1: load output state */
    EMU_Q_LOAD_I,  /* A: load output current */
    EMU_Q_YIELD_TOTAL_KWH,
    EMU_Q_YIELD_USER_KWH,
    EMU_Q_YIELD_TODAY_KWH,
    EMU_Q_PMAX_TODAY_W,
    EMU_Q_YIELD_YDAY_KWH,
    EMU_Q_PMAX_YDAY_W,
    EMU_Q_HSDS,     /* day sequence number 0..364 */
    EMU_Q_DEV_T,    /* °C internal temperature */
    EMU_Q_MAX_I,    /* A: rated charge current */
    EMU_Q_V_ABS,    /* V: absorption voltage */
    EMU_Q_V_FLOAT,  /* V: float voltage */
    EMU_Q_V_SYSTEM, /* V: nominal system voltage (24) */
    /* inverter */
    EMU_Q_AC_V,
    EMU_Q_AC_I,
    EMU_Q_AC_S, /* VA */
    EMU_Q_WARN,
    /* filled by the device itself, not the model */
    EMU_Q_DEV_MODE, /* device mode register value */
    EMU_Q_UPTIME_S,
    EMU_Q_COUNT
};

struct emu_values {
    double q[EMU_Q_COUNT];
};

/* One day of an MPPT's history (VE.Direct HEX registers 0x1050..0x106E), in SI-ish units. */
struct emu_day {
    double yield_kwh;
    double consumed_kwh;
    double bat_v_max;
    double bat_v_min;
    double bulk_min;
    double abs_min;
    double float_min;
    double p_max_w;
    double bat_i_max;
    double pv_v_max;
    double seq; /* day sequence number */
};

#endif
