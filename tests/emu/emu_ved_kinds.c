/* emu_ved_kinds: the emulated VE.Direct products as data: identity, text blocks, HEX registers.
 *
 * Field order and formats follow real captures in shared/testdata/vedirect/:
 *   BMV-712      kindr007_bmv712smart_pidA381.raw (PID V VS I P CE SOC TTG Alarm Relay AR BMV FW
 *                MON, then H1..H12 H15..H18); with the aux input set to temperature and no sensor
 *                fitted the VS line becomes "T ---".
 *   SmartShunt   mpp-solar_smartshunt_500A_pidA389.raw (no Relay, no MON at FW 0405).
 *   BMV-700      karioja_bvm702.dump (PID 0x203, no aux, no H15/H16).
 *   MPPT         kindr007_smartsolar_75-15_pidA053_faker.raw, go-victron 100/30 block.
 *   Phoenix      rexlinz_phoenix_12-1200_230V_pidA2F1_block.raw.
 *   Blue Smart   kindr007_bluesmart_ip22_24-8_pidA332.raw (FWE, T ---, HC#).
 *   Orion XS     kindr007_orion_xs_12-12-50_pidA3F0.raw (FWE, P, DC_IN_*).
 * Register ids and scales: protocols.md §2 (go-victron veregister) and the go-victron
 * transcripts (history registers 0x0300..0x0311 are 4 bytes wide). */
#include "emu_ved_kinds.h"

#include "core/util.h"

#include <stdint.h>
#include <string.h>

/* Text rows: {label, format, quantity, scale, literal}. */
static const struct emu_field bmv712_main[] = {
    {"PID",   EMU_FMT_PID,    EMU_Q_NONE,    1,    NULL       },
    {"V",     EMU_FMT_NUM,    EMU_Q_BAT_V,   1000, NULL       },
    {"T",     EMU_FMT_NUM_NA, EMU_Q_BAT_T,   1,    NULL       },
    {"I",     EMU_FMT_NUM,    EMU_Q_BAT_I,   1000, NULL       },
    {"P",     EMU_FMT_NUM,    EMU_Q_BAT_P,   1,    NULL       },
    {"CE",    EMU_FMT_NUM,    EMU_Q_CE_AH,   1000, NULL       },
    {"SOC",   EMU_FMT_NUM,    EMU_Q_SOC,     10,   NULL       },
    {"TTG",   EMU_FMT_NUM,    EMU_Q_TTG_MIN, 1,    NULL       },
    {"Alarm", EMU_FMT_ONOFF,  EMU_Q_ALARM,   1,    NULL       },
    {"Relay", EMU_FMT_ONOFF,  EMU_Q_RELAY,   1,    NULL       },
    {"AR",    EMU_FMT_NUM,    EMU_Q_AR,      1,    NULL       },
    {"BMV",   EMU_FMT_TEXT,   EMU_Q_NONE,    1,    "712 Smart"},
    {"FW",    EMU_FMT_FW,     EMU_Q_NONE,    1,    NULL       },
    {"MON",   EMU_FMT_TEXT,   EMU_Q_NONE,    1,    "0"        },
};

static const struct emu_field smartshunt_main[] = {
    {"PID",   EMU_FMT_PID,   EMU_Q_NONE,    1,    NULL                  },
    {"V",     EMU_FMT_NUM,   EMU_Q_BAT_V,   1000, NULL                  },
    {"VS",    EMU_FMT_NUM,   EMU_Q_AUX_V,   1000, NULL                  },
    {"I",     EMU_FMT_NUM,   EMU_Q_BAT_I,   1000, NULL                  },
    {"P",     EMU_FMT_NUM,   EMU_Q_BAT_P,   1,    NULL                  },
    {"CE",    EMU_FMT_NUM,   EMU_Q_CE_AH,   1000, NULL                  },
    {"SOC",   EMU_FMT_NUM,   EMU_Q_SOC,     10,   NULL                  },
    {"TTG",   EMU_FMT_NUM,   EMU_Q_TTG_MIN, 1,    NULL                  },
    {"Alarm", EMU_FMT_ONOFF, EMU_Q_ALARM,   1,    NULL                  },
    {"AR",    EMU_FMT_NUM,   EMU_Q_AR,      1,    NULL                  },
    {"BMV",   EMU_FMT_TEXT,  EMU_Q_NONE,    1,    "SmartShunt 500A/50mV"},
    {"FW",    EMU_FMT_FW,    EMU_Q_NONE,    1,    NULL                  },
};

static const struct emu_field bmv700_main[] = {
    {"PID",   EMU_FMT_PID,   EMU_Q_NONE,    1,    NULL },
    {"V",     EMU_FMT_NUM,   EMU_Q_BAT_V,   1000, NULL },
    {"I",     EMU_FMT_NUM,   EMU_Q_BAT_I,   1000, NULL },
    {"P",     EMU_FMT_NUM,   EMU_Q_BAT_P,   1,    NULL },
    {"CE",    EMU_FMT_NUM,   EMU_Q_CE_AH,   1000, NULL },
    {"SOC",   EMU_FMT_NUM,   EMU_Q_SOC,     10,   NULL },
    {"TTG",   EMU_FMT_NUM,   EMU_Q_TTG_MIN, 1,    NULL },
    {"Alarm", EMU_FMT_ONOFF, EMU_Q_ALARM,   1,    NULL },
    {"Relay", EMU_FMT_ONOFF, EMU_Q_RELAY,   1,    NULL },
    {"AR",    EMU_FMT_NUM,   EMU_Q_AR,      1,    NULL },
    {"BMV",   EMU_FMT_TEXT,  EMU_Q_NONE,    1,    "700"},
    {"FW",    EMU_FMT_FW,    EMU_Q_NONE,    1,    NULL },
};

static const struct emu_field monitor_hist[] = {
    {"H1",  EMU_FMT_NUM, EMU_Q_H1_AH,   1000, NULL},
    {"H2",  EMU_FMT_NUM, EMU_Q_H2_AH,   1000, NULL},
    {"H3",  EMU_FMT_NUM, EMU_Q_H3_AH,   1000, NULL},
    {"H4",  EMU_FMT_NUM, EMU_Q_H4,      1,    NULL},
    {"H5",  EMU_FMT_NUM, EMU_Q_H5,      1,    NULL},
    {"H6",  EMU_FMT_NUM, EMU_Q_H6_AH,   1000, NULL},
    {"H7",  EMU_FMT_NUM, EMU_Q_H7_V,    1000, NULL},
    {"H8",  EMU_FMT_NUM, EMU_Q_H8_V,    1000, NULL},
    {"H9",  EMU_FMT_NUM, EMU_Q_H9_S,    1,    NULL},
    {"H10", EMU_FMT_NUM, EMU_Q_H10,     1,    NULL},
    {"H11", EMU_FMT_NUM, EMU_Q_H11,     1,    NULL},
    {"H12", EMU_FMT_NUM, EMU_Q_H12,     1,    NULL},
    {"H15", EMU_FMT_NUM, EMU_Q_H15_V,   1000, NULL},
    {"H16", EMU_FMT_NUM, EMU_Q_H16_V,   1000, NULL},
    {"H17", EMU_FMT_NUM, EMU_Q_H17_KWH, 100,  NULL},
    {"H18", EMU_FMT_NUM, EMU_Q_H18_KWH, 100,  NULL},
};

/* The BMV-700 has no auxiliary input, hence no H15/H16. */
static const struct emu_field bmv700_hist[] = {
    {"H1",  EMU_FMT_NUM, EMU_Q_H1_AH,   1000, NULL},
    {"H2",  EMU_FMT_NUM, EMU_Q_H2_AH,   1000, NULL},
    {"H3",  EMU_FMT_NUM, EMU_Q_H3_AH,   1000, NULL},
    {"H4",  EMU_FMT_NUM, EMU_Q_H4,      1,    NULL},
    {"H5",  EMU_FMT_NUM, EMU_Q_H5,      1,    NULL},
    {"H6",  EMU_FMT_NUM, EMU_Q_H6_AH,   1000, NULL},
    {"H7",  EMU_FMT_NUM, EMU_Q_H7_V,    1000, NULL},
    {"H8",  EMU_FMT_NUM, EMU_Q_H8_V,    1000, NULL},
    {"H9",  EMU_FMT_NUM, EMU_Q_H9_S,    1,    NULL},
    {"H10", EMU_FMT_NUM, EMU_Q_H10,     1,    NULL},
    {"H11", EMU_FMT_NUM, EMU_Q_H11,     1,    NULL},
    {"H12", EMU_FMT_NUM, EMU_Q_H12,     1,    NULL},
    {"H17", EMU_FMT_NUM, EMU_Q_H17_KWH, 100,  NULL},
    {"H18", EMU_FMT_NUM, EMU_Q_H18_KWH, 100,  NULL},
};

static const struct emu_field mppt_main[] = {
    {"PID",  EMU_FMT_PID,    EMU_Q_NONE,            1,    NULL},
    {"FW",   EMU_FMT_FW,     EMU_Q_NONE,            1,    NULL},
    {"SER#", EMU_FMT_SERIAL, EMU_Q_NONE,            1,    NULL},
    {"V",    EMU_FMT_NUM,    EMU_Q_BAT_V,           1000, NULL},
    {"I",    EMU_FMT_NUM,    EMU_Q_OUT_I,           1000, NULL},
    {"VPV",  EMU_FMT_NUM,    EMU_Q_IN_V,            1000, NULL},
    {"PPV",  EMU_FMT_NUM,    EMU_Q_IN_P,            1,    NULL},
    {"CS",   EMU_FMT_NUM,    EMU_Q_CS,              1,    NULL},
    {"MPPT", EMU_FMT_NUM,    EMU_Q_TRACKER,         1,    NULL},
    {"OR",   EMU_FMT_HEX32,  EMU_Q_OR,              1,    NULL},
    {"ERR",  EMU_FMT_NUM,    EMU_Q_ERR,             1,    NULL},
    {"LOAD", EMU_FMT_ONOFF,  EMU_Q_LOAD_ON,         1,    NULL},
    {"IL",   EMU_FMT_NUM,    EMU_Q_LOAD_I,          1000, NULL},
    {"H19",  EMU_FMT_NUM,    EMU_Q_YIELD_USER_KWH,  100,  NULL},
    {"H20",  EMU_FMT_NUM,    EMU_Q_YIELD_TODAY_KWH, 100,  NULL},
    {"H21",  EMU_FMT_NUM,    EMU_Q_PMAX_TODAY_W,    1,    NULL},
    {"H22",  EMU_FMT_NUM,    EMU_Q_YIELD_YDAY_KWH,  100,  NULL},
    {"H23",  EMU_FMT_NUM,    EMU_Q_PMAX_YDAY_W,     1,    NULL},
    {"HSDS", EMU_FMT_NUM,    EMU_Q_HSDS,            1,    NULL},
};

static const struct emu_field phoenix_main[] = {
    {"PID",      EMU_FMT_PID,    EMU_Q_NONE,     1,    NULL},
    {"FW",       EMU_FMT_FW,     EMU_Q_NONE,     1,    NULL},
    {"SER#",     EMU_FMT_SERIAL, EMU_Q_NONE,     1,    NULL},
    {"MODE",     EMU_FMT_NUM,    EMU_Q_DEV_MODE, 1,    NULL},
    {"CS",       EMU_FMT_NUM,    EMU_Q_CS,       1,    NULL},
    {"AC_OUT_V", EMU_FMT_NUM,    EMU_Q_AC_V,     100,  NULL},
    {"AC_OUT_I", EMU_FMT_NUM,    EMU_Q_AC_I,     10,   NULL},
    {"AC_OUT_S", EMU_FMT_NUM,    EMU_Q_AC_S,     1,    NULL},
    {"V",        EMU_FMT_NUM,    EMU_Q_BAT_V,    1000, NULL},
    {"AR",       EMU_FMT_NUM,    EMU_Q_AR,       1,    NULL},
    {"WARN",     EMU_FMT_NUM,    EMU_Q_WARN,     1,    NULL},
    {"OR",       EMU_FMT_HEX32,  EMU_Q_OR,       1,    NULL},
};

static const struct emu_field charger_main[] = {
    {"PID",  EMU_FMT_PID,    EMU_Q_NONE,  1,    NULL   },
    {"FWE",  EMU_FMT_FW,     EMU_Q_NONE,  1,    NULL   },
    {"SER#", EMU_FMT_SERIAL, EMU_Q_NONE,  1,    NULL   },
    {"V",    EMU_FMT_NUM,    EMU_Q_BAT_V, 1000, NULL   },
    {"I",    EMU_FMT_NUM,    EMU_Q_OUT_I, 1000, NULL   },
    {"T",    EMU_FMT_NUM_NA, EMU_Q_BAT_T, 1,    NULL   },
    {"ERR",  EMU_FMT_NUM,    EMU_Q_ERR,   1,    NULL   },
    {"CS",   EMU_FMT_NUM,    EMU_Q_CS,    1,    NULL   },
    {"HC#",  EMU_FMT_TEXT,   EMU_Q_NONE,  1,    "57825"},
};

static const struct emu_field orion_main[] = {
    {"PID",     EMU_FMT_PID,    EMU_Q_NONE,  1,    NULL},
    {"FWE",     EMU_FMT_FW,     EMU_Q_NONE,  1,    NULL},
    {"SER#",    EMU_FMT_SERIAL, EMU_Q_NONE,  1,    NULL},
    {"V",       EMU_FMT_NUM,    EMU_Q_BAT_V, 1000, NULL},
    {"I",       EMU_FMT_NUM,    EMU_Q_OUT_I, 1000, NULL},
    {"P",       EMU_FMT_NUM,    EMU_Q_OUT_P, 1,    NULL},
    {"DC_IN_V", EMU_FMT_NUM,    EMU_Q_IN_V,  100,  NULL},
    {"DC_IN_I", EMU_FMT_NUM,    EMU_Q_IN_I,  10,   NULL},
    {"DC_IN_P", EMU_FMT_NUM,    EMU_Q_IN_P,  1,    NULL},
    {"CS",      EMU_FMT_NUM,    EMU_Q_CS,    1,    NULL},
    {"OR",      EMU_FMT_HEX32,  EMU_Q_OR,    1,    NULL},
    {"ERR",     EMU_FMT_NUM,    EMU_Q_ERR,   1,    NULL},
};

/* Register rows: {reg, type, quantity, scale, writable, default, min, max, allowed, effect}. */

/* Every product answers these. */
static const struct emu_reg common_regs[] = {
    {0x0100, EMU_R_PRODUCT, EMU_Q_NONE,     1, false, 0, 0, 0, 0, EMU_EFF_NONE},
    {0x010A, EMU_R_SERIAL,  EMU_Q_NONE,     1, false, 0, 0, 0, 0, EMU_EFF_NONE},
    {0x010B, EMU_R_MODEL,   EMU_Q_NONE,     1, false, 0, 0, 0, 0, EMU_EFF_NONE},
    {0x0120, EMU_R_U32,     EMU_Q_UPTIME_S, 1, false, 0, 0, 0, 0, EMU_EFF_NONE},
};

/* BMV-70x / BMV-71x / SmartShunt. Settings 0x1000..0x1007 are kept by the device; the model's
 * own battery (400 Ah, 28.4 V charged, 4 % tail) does not follow them. */
static const struct emu_reg monitor_regs[] = {
    {0x0FFF, EMU_R_U16, EMU_Q_SOC,     100,  false, 0,   0,   0,    0, EMU_EFF_NONE},
    {0x0FFE, EMU_R_U16, EMU_Q_TTG_MIN, 1,    false, 0,   0,   0,    0, EMU_EFF_NONE},
    {0xED8D, EMU_R_S16, EMU_Q_BAT_V,   100,  false, 0,   0,   0,    0, EMU_EFF_NONE},
    {0xED8F, EMU_R_S16, EMU_Q_BAT_I,   10,   false, 0,   0,   0,    0, EMU_EFF_NONE},
    {0xED8C, EMU_R_S32, EMU_Q_BAT_I,   1000, false, 0,   0,   0,    0, EMU_EFF_NONE},
    {0xED8E, EMU_R_S16, EMU_Q_BAT_P,   1,    false, 0,   0,   0,    0, EMU_EFF_NONE},
    {0xEEFF, EMU_R_S32, EMU_Q_CE_AH,   10,   false, 0,   0,   0,    0, EMU_EFF_NONE},
    {0xED7D, EMU_R_U16, EMU_Q_AUX_V,   100,  false, 0,   0,   0,    0, EMU_EFF_NONE},
    {0xEEB6, EMU_R_U8,  EMU_Q_SYNCED,  1,    false, 0,   0,   0,    0, EMU_EFF_NONE},
    {0x0382, EMU_R_U16, EMU_Q_NONE,    100,  false, 0,   0,   0,    0, EMU_EFF_NONE},
    {0x0383, EMU_R_S16, EMU_Q_NONE,    10,   false, 0,   0,   0,    0, EMU_EFF_NONE},
    {0x0300, EMU_R_S32, EMU_Q_H1_AH,   10,   false, 0,   0,   0,    0, EMU_EFF_NONE},
    {0x0301, EMU_R_S32, EMU_Q_H2_AH,   10,   false, 0,   0,   0,    0, EMU_EFF_NONE},
    {0x0302, EMU_R_S32, EMU_Q_H3_AH,   10,   false, 0,   0,   0,    0, EMU_EFF_NONE},
    {0x0303, EMU_R_U32, EMU_Q_H4,      1,    false, 0,   0,   0,    0, EMU_EFF_NONE},
    {0x0304, EMU_R_U32, EMU_Q_H5,      1,    false, 0,   0,   0,    0, EMU_EFF_NONE},
    {0x0305, EMU_R_S32, EMU_Q_H6_AH,   10,   false, 0,   0,   0,    0, EMU_EFF_NONE},
    {0x0306, EMU_R_U32, EMU_Q_H7_V,    100,  false, 0,   0,   0,    0, EMU_EFF_NONE},
    {0x0307, EMU_R_U32, EMU_Q_H8_V,    100,  false, 0,   0,   0,    0, EMU_EFF_NONE},
    {0x0308, EMU_R_U32, EMU_Q_H9_S,    1,    false, 0,   0,   0,    0, EMU_EFF_NONE},
    {0x0309, EMU_R_U32, EMU_Q_H10,     1,    false, 0,   0,   0,    0, EMU_EFF_NONE},
    {0x030A, EMU_R_U32, EMU_Q_H11,     1,    false, 0,   0,   0,    0, EMU_EFF_NONE},
    {0x030B, EMU_R_U32, EMU_Q_H12,     1,    false, 0,   0,   0,    0, EMU_EFF_NONE},
    {0x030E, EMU_R_S32, EMU_Q_H15_V,   100,  false, 0,   0,   0,    0, EMU_EFF_NONE},
    {0x030F, EMU_R_S32, EMU_Q_H16_V,   100,  false, 0,   0,   0,    0, EMU_EFF_NONE},
    {0x0310, EMU_R_U32, EMU_Q_H17_KWH, 100,  false, 0,   0,   0,    0, EMU_EFF_NONE},
    {0x0311, EMU_R_U32, EMU_Q_H18_KWH, 100,  false, 0,   0,   0,    0, EMU_EFF_NONE},
    {0x1000, EMU_R_U16, EMU_Q_NONE,    1,    true,  400, 1,   9999, 0, EMU_EFF_NONE}, /* Ah */
    {0x1001, EMU_R_U16, EMU_Q_NONE,    1,    true,  284, 0,   950,  0, EMU_EFF_NONE}, /* 0.1 V */
    {0x1002, EMU_R_U16, EMU_Q_NONE,    1,    true,  40,  5,   200,  0, EMU_EFF_NONE}, /* 0.1 % */
    {0x1003, EMU_R_U16, EMU_Q_NONE,    1,    true,  3,   1,   50,   0, EMU_EFF_NONE}, /* min */
    {0x1004, EMU_R_U16, EMU_Q_NONE,    1,    true,  95,  50,  100,  0, EMU_EFF_NONE}, /* % */
    {0x1005, EMU_R_U16, EMU_Q_NONE,    1,    true,  125, 100, 150,  0, EMU_EFF_NONE}, /* 0.01 */
    {0x1006, EMU_R_U16, EMU_Q_NONE,    1,    true,  10,  0,   200,  0, EMU_EFF_NONE}, /* 0.01 A */
    {0x1007, EMU_R_U16, EMU_Q_NONE,    1,    true,  3,   0,   12,   0, EMU_EFF_NONE}, /* min */
};

/* SmartSolar MPPT. Daily history 0x1050..0x106E is handled by emu_ved_hex (daily_history). */
static const struct emu_reg solar_regs[] = {
    {0x0200, EMU_R_U8,  EMU_Q_NONE,            1,   true,  1, 1, 4, 0x12, EMU_EFF_MODE},
    {0x0201, EMU_R_U8,  EMU_Q_CS,              1,   false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0x0207, EMU_R_U32, EMU_Q_OR,              1,   false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0xEDD5, EMU_R_U16, EMU_Q_BAT_V,           100, false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0xEDD7, EMU_R_U16, EMU_Q_CHG_I,           10,  false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0xEDBB, EMU_R_U16, EMU_Q_IN_V,            100, false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0xEDBC, EMU_R_U32, EMU_Q_IN_P,            100, false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0xEDBD, EMU_R_U16, EMU_Q_IN_I,            10,  false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0xEDDD, EMU_R_U32, EMU_Q_YIELD_TOTAL_KWH, 100, false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0xEDDC, EMU_R_U32, EMU_Q_YIELD_USER_KWH,  100, false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0xEDDB, EMU_R_S16, EMU_Q_DEV_T,           100, false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0xEDDA, EMU_R_U8,  EMU_Q_ERR,             1,   false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0xEDF0, EMU_R_U16, EMU_Q_MAX_I,           10,  false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0xEDA8, EMU_R_U8,  EMU_Q_LOAD_ON,         1,   false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0xEDAD, EMU_R_U16, EMU_Q_LOAD_I,          10,  false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0xEDAB, EMU_R_U8,  EMU_Q_NONE,            1,   true,  1, 0, 4, 0x13, EMU_EFF_LOAD},
    {0xEDB3, EMU_R_U8,  EMU_Q_TRACKER,         1,   false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0xEDD0, EMU_R_U16, EMU_Q_PMAX_YDAY_W,     1,   false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0xEDD1, EMU_R_U16, EMU_Q_YIELD_YDAY_KWH,  100, false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0xEDD2, EMU_R_U16, EMU_Q_PMAX_TODAY_W,    1,   false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0xEDD3, EMU_R_U16, EMU_Q_YIELD_TODAY_KWH, 100, false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0xEDF7, EMU_R_U16, EMU_Q_V_ABS,           100, false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0xEDF6, EMU_R_U16, EMU_Q_V_FLOAT,         100, false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0xEDEF, EMU_R_U8,  EMU_Q_V_SYSTEM,        1,   false, 0, 0, 0, 0,    EMU_EFF_NONE},
};

/* Phoenix inverter: mode 2 on, 4 off, 5 eco. */
static const struct emu_reg inverter_regs[] = {
    {0x0200, EMU_R_U8,  EMU_Q_NONE,     1,   true,  2, 2, 5, 0x34, EMU_EFF_MODE},
    {0x0201, EMU_R_U8,  EMU_Q_CS,       1,   false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0x0207, EMU_R_U32, EMU_Q_OR,       1,   false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0x031C, EMU_R_U16, EMU_Q_WARN,     1,   false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0x031E, EMU_R_U16, EMU_Q_AR,       1,   false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0x2200, EMU_R_S16, EMU_Q_AC_V,     100, false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0x2201, EMU_R_S16, EMU_Q_AC_I,     10,  false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0x2205, EMU_R_U16, EMU_Q_AC_S,     1,   false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0xED8D, EMU_R_S16, EMU_Q_BAT_V,    100, false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0xEDEF, EMU_R_U8,  EMU_Q_V_SYSTEM, 1,   false, 0, 0, 0, 0,    EMU_EFF_NONE},
};

/* Blue Smart charger: mode 1 on, 4 off. */
static const struct emu_reg charger_regs[] = {
    {0x0200, EMU_R_U8,  EMU_Q_NONE,     1,   true,  1, 1, 4, 0x12, EMU_EFF_MODE},
    {0x0201, EMU_R_U8,  EMU_Q_CS,       1,   false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0x0207, EMU_R_U32, EMU_Q_OR,       1,   false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0xEDD5, EMU_R_U16, EMU_Q_BAT_V,    100, false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0xEDD7, EMU_R_U16, EMU_Q_CHG_I,    10,  false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0xED8D, EMU_R_S16, EMU_Q_BAT_V,    100, false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0xED8F, EMU_R_S16, EMU_Q_OUT_I,    10,  false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0xEDDA, EMU_R_U8,  EMU_Q_ERR,      1,   false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0xEDF0, EMU_R_U16, EMU_Q_MAX_I,    10,  false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0xEDF7, EMU_R_U16, EMU_Q_V_ABS,    100, false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0xEDF6, EMU_R_U16, EMU_Q_V_FLOAT,  100, false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0xEDEF, EMU_R_U8,  EMU_Q_V_SYSTEM, 1,   false, 0, 0, 0, 0,    EMU_EFF_NONE},
};

/* Orion XS DC-DC: input shown on the solar-charger input registers (an assumption: no public
 * register list for the Orion XS input side was found). */
static const struct emu_reg dcdc_regs[] = {
    {0x0200, EMU_R_U8,  EMU_Q_NONE,  1,   true,  1, 1, 4, 0x12, EMU_EFF_MODE},
    {0x0201, EMU_R_U8,  EMU_Q_CS,    1,   false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0x0207, EMU_R_U32, EMU_Q_OR,    1,   false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0xEDD5, EMU_R_U16, EMU_Q_BAT_V, 100, false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0xEDD7, EMU_R_U16, EMU_Q_CHG_I, 10,  false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0xEDBB, EMU_R_U16, EMU_Q_IN_V,  100, false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0xEDBD, EMU_R_U16, EMU_Q_IN_I,  10,  false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0xEDBC, EMU_R_U32, EMU_Q_IN_P,  100, false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0xEDDA, EMU_R_U8,  EMU_Q_ERR,   1,   false, 0, 0, 0, 0,    EMU_EFF_NONE},
    {0xEDF0, EMU_R_U16, EMU_Q_MAX_I, 10,  false, 0, 0, 0, 0,    EMU_EFF_NONE},
};

#define FIELDS(t) t, UTIL_ARRAY_SIZE(t)

static const struct emu_kind kinds[] = {
    {
     .name = "bmv712",
     .role = EMU_ROLE_BATTERY,
     .pid = 0xA381,
     .fw = "0416",
     .model = "BMV-712 Smart",
     .aux = EMU_AUX_TEMP,
     .main = FIELDS(bmv712_main),
     .hist = FIELDS(monitor_hist),
     .regs = FIELDS(monitor_regs),
     },
    {
     .name = "smartshunt",
     .role = EMU_ROLE_BATTERY,
     .pid = 0xA389,
     .fw = "0405",
     .model = "BMV-SmartShunt 500A/50mV",
     .aux = EMU_AUX_STARTER,
     .main = FIELDS(smartshunt_main),
     .hist = FIELDS(monitor_hist),
     .regs = FIELDS(monitor_regs),
     },
    {
     .name = "bmv700",
     .role = EMU_ROLE_BATTERY,
     .pid = 0x0203,
     .fw = "0308",
     .model = "BMV-700",
     .aux = EMU_AUX_NONE,
     .main = FIELDS(bmv700_main),
     .hist = FIELDS(bmv700_hist),
     .regs = FIELDS(monitor_regs),
     },
    {
     .name = "mppt",
     .role = EMU_ROLE_SOLAR,
     .pid = 0xA056,
     .fw = "161",
     .model = "SmartSolar Charger MPPT 100/30",
     .main = FIELDS(mppt_main),
     .regs = FIELDS(solar_regs),
     .daily_history = true,
     },
    {
     .name = "phoenix",
     .role = EMU_ROLE_INVERTER,
     .pid = 0xA2F2,
     .fw = "0124",
     .model = "Phoenix Inverter 24V 1200VA 230V",
     .main = FIELDS(phoenix_main),
     .regs = FIELDS(inverter_regs),
     },
    {
     .name = "charger",
     .role = EMU_ROLE_CHARGER,
     .pid = 0xA332,
     .fw = "0342FF",
     .fwe = true,
     .model = "Blue Smart IP22 Charger 24/8",
     .main = FIELDS(charger_main),
     .regs = FIELDS(charger_regs),
     },
    {
     .name = "orion",
     .role = EMU_ROLE_DCDC,
     .pid = 0xA3F0,
     .fw = "112FF",
     .fwe = true,
     .model = "Orion XS 12V/12V-50A",
     .main = FIELDS(orion_main),
     .regs = FIELDS(dcdc_regs),
     },
};

/* Venus service class → the kind a replayed capture of that class answers HEX as. */
static const struct {
    const char *service;
    const char *kind;
} service_kinds[] = {
    {"battery",      "bmv712" },
    {"solarcharger", "mppt"   },
    {"inverter",     "phoenix"},
    {"charger",      "charger"},
    {"dcdc",         "orion"  },
};

const struct emu_kind *emu_kind_find(const char *name)
{
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(kinds); i++)
        if (strcmp(kinds[i].name, name) == 0)
            return &kinds[i];
    return NULL;
}

const struct emu_kind *emu_kind_for_service(const char *service)
{
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(service_kinds); i++)
        if (strcmp(service_kinds[i].service, service) == 0)
            return emu_kind_find(service_kinds[i].kind);
    return NULL;
}

const struct emu_kind *emu_kind_at(size_t i)
{
    return i < UTIL_ARRAY_SIZE(kinds) ? &kinds[i] : NULL;
}

const struct emu_reg *emu_kind_reg(const struct emu_kind *k, uint16_t reg, size_t *row)
{
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(common_regs); i++) {
        if (common_regs[i].reg == reg) {
            *row = SIZE_MAX;
            return &common_regs[i];
        }
    }
    for (size_t i = 0; i < k->n_regs; i++) {
        if (k->regs[i].reg == reg) {
            *row = i;
            return &k->regs[i];
        }
    }
    return NULL;
}

size_t emu_reg_width(enum emu_rtype t)
{
    switch (t) {
    case EMU_R_U8:
        return 1;
    case EMU_R_U16:
    case EMU_R_S16:
        return 2;
    case EMU_R_U32:
    case EMU_R_S32:
        return 4;
    case EMU_R_PRODUCT:
    case EMU_R_SERIAL:
    case EMU_R_MODEL:
        break;
    }
    return 0;
}
