/* vedirect_hex: HEX register table (the values the text protocol lacks) and history layout.
 *
 * Register ids and scales: shared/reference/protocols.md §2 (go-victron veregister) and Victron's
 * velib ve_regs.h (battery monitor settings 0x1000..0x1007, "compatible with BMV HEX protocol").
 * Daily history record (0x1050..): 34 value bytes, verified on the async 0x1050 frames of
 * karioja_bluesolar_1.23.dump, whose day sequence number (offset 32) equals the text HSDS (274)
 * and whose max power (offset 24, 11 W) equals H21. */
#include "vedirect_hex.h"

#include "core/util.h"
#include "vedirect_fields.h"
#include "vedirect_proto.h"

#include <errno.h>

#define BAT VED_CLS_BATTERY
#define SOL VED_CLS_SOLAR

/* Columns: register, width, signed, exp10 and mul (value = raw × mul × 10^exp10: -1 = 0.1 V,
 * 0.1 %, 0.1 A; -2 = 0.01; mul 60 = minutes → seconds), classes, path, unit, "not available". */
const struct ved_hex_reg ved_hex_regs[] = {
    {0x1000, 2, false, 0,  1,  BAT, "Capacity",                      "Ah",  0     },
    {0x1001, 2, false, -1, 1,  BAT, "Settings/ChargedVoltage",       "V",   0     },
    {0x1002, 2, false, -1, 1,  BAT, "Settings/TailCurrent",          "%",   0     },
    {0x1003, 2, false, 0,  60, BAT, "Settings/ChargedDetectionTime", "s",   0     },
    {0x1004, 2, false, 0,  1,  BAT, "Settings/ChargeEfficiency",     "%",   0     },
    {0x1005, 2, false, -2, 1,  BAT, "Settings/PeukertExponent",      "",    0     },
    {0x1006, 2, false, -2, 1,  BAT, "Settings/CurrentThreshold",     "A",   0     },
    {0x1007, 2, false, 0,  60, BAT, "Settings/TimeToGoAveraging",    "s",   0     },
    {0xEDA8, 1, false, 0,  1,  SOL, "Load/State",                    "",    0xFF  },
    {0xEDAD, 2, false, -1, 1,  SOL, "Load/I",                        "A",   0xFFFF},
    {0xEDDD, 4, false, -2, 1,  SOL, "Yield/System",                  "kWh", 0     },
    {0xEDDB, 2, true,  -2, 1,  SOL, "Dc/0/InternalTemperature",      "°C", 0x7FFF},
    {0xEDF0, 2, false, -1, 1,  SOL, "Settings/ChargeCurrentLimit",   "A",   0xFFFF},
};
const size_t ved_hex_regs_len = UTIL_ARRAY_SIZE(ved_hex_regs);

/* Columns: offset, width, exp10, mul (as in ved_hex_regs), name, unit. */
const struct ved_hist_field ved_hist_fields[] = {
    {1,  4, -2, 1,  "Yield",             "kWh"},
    {5,  4, -2, 1,  "Consumption",       "kWh"},
    {9,  2, -2, 1,  "MaxBatteryVoltage", "V"  },
    {11, 2, -2, 1,  "MinBatteryVoltage", "V"  },
    {13, 1, 0,  1,  "LastError1",        ""   },
    {14, 1, 0,  1,  "LastError2",        ""   },
    {15, 1, 0,  1,  "LastError3",        ""   },
    {16, 1, 0,  1,  "LastError4",        ""   },
    {18, 2, 0,  60, "TimeInBulk",        "s"  },
    {20, 2, 0,  60, "TimeInAbsorption",  "s"  },
    {22, 2, 0,  60, "TimeInFloat",       "s"  },
    {24, 4, 0,  1,  "MaxPower",          "W"  },
    {28, 2, -1, 1,  "MaxBatteryCurrent", "A"  },
    {30, 2, -2, 1,  "MaxPvVoltage",      "V"  },
};
const size_t ved_hist_fields_len = UTIL_ARRAY_SIZE(ved_hist_fields);

const struct ved_hex_reg *ved_hex_reg_find(uint16_t reg, unsigned cls)
{
    for (size_t i = 0; i < ved_hex_regs_len; i++)
        if (ved_hex_regs[i].reg == reg && (ved_hex_regs[i].classes & cls))
            return &ved_hex_regs[i];
    return NULL;
}

int ved_hex_reg_value(const struct ved_hex_reg *r, const uint8_t *val, size_t len, double *out)
{
    if (len != r->width)
        return -EINVAL;
    uint32_t raw = ved_le_u32(val, len);
    if (r->na_raw && raw == r->na_raw)
        return 0;
    int64_t v = r->is_signed ? (int64_t)ved_le_s32(val, len) : (int64_t)raw;
    *out = util_scale_decimal(v * r->mul, r->exp10);
    return 1;
}

double ved_hist_field_value(const struct ved_hist_field *h, const uint8_t *record)
{
    return util_scale_decimal((int64_t)ved_le_u32(record + h->offset, h->width) * h->mul, h->exp10);
}
