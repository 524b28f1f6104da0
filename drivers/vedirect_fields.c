/* vedirect_fields: VE.Direct text labels as data: syntax, scaling and Venus D-Bus paths.
 *
 * Labels and units: shared/reference/protocols.md §1.2 (VE.Direct Protocol 3.33 as implemented by
 * KinDR007 victron.cpp, Tasmota xsns_107 and go-victron). Paths: the Venus OS D-Bus paths of the
 * service class (shared/reference/gx-modbus/attributes.csv) where the GX has one, otherwise the
 * path Venus' own VE.Direct driver uses (Load/State, Load/I, OffReason, Ac/Out/L1/S). */
#include "vedirect_fields.h"

#include "core/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum ved_kind {
    K_INT,   /* signed decimal, "---" allowed */
    K_HEX,   /* 0x + 1..8 hex digits */
    K_ONOFF, /* ON | OFF */
    K_TEXT,  /* printable text (already enforced by the framer) */
    K_FW,    /* 3 or 4 digits */
    K_FWE,   /* 5 or 6 hex digits */
};

struct ved_label {
    const char *label;
    enum ved_kind kind;
    long min; /* plausible raw range: protects against corruption the checksum missed */
    long max;
};

/* Every label of protocols.md §1.2, sorted by strcmp() for the binary search in ved_label_find
 * (tests/unit/test_vedirect_proto.c checks the order). Ranges are the wire limits of the devices
 * (e.g. mV up to 450 V panels, mA up to ±10 kA), so a value outside them cannot be real. */
static const struct ved_label ved_labels[] = {
    {"AC_OUT_I", K_INT,   -10000,      10000     },
    {"AC_OUT_S", K_INT,   0,           1000000   },
    {"AC_OUT_V", K_INT,   0,           100000    },
    {"AR",       K_INT,   0,           65535     },
    {"Alarm",    K_ONOFF, 0,           0         },
    {"BMV",      K_TEXT,  0,           0         },
    {"CE",       K_INT,   -100000000,  100000000 },
    {"CS",       K_INT,   0,           255       },
    {"DC_IN_I",  K_INT,   -100000,     100000    },
    {"DC_IN_P",  K_INT,   0,           1000000   },

    {"DC_IN_V",  K_INT,   0,           100000    },
    {"DM",       K_INT,   -1000,       1000      },
    {"ERR",      K_INT,   0,           255       },
    {"FW",       K_FW,    0,           0         },
    {"FWE",      K_FWE,   0,           0         },
    {"H1",       K_INT,   -1000000000, 1000000000},
    {"H10",      K_INT,   0,           1000000   },
    {"H11",      K_INT,   0,           1000000   },
    {"H12",      K_INT,   0,           1000000   },
    {"H13",      K_INT,   0,           1000000   },
    {"H14",      K_INT,   0,           1000000   },
    {"H15",      K_INT,   -100000,     1000000   },
    {"H16",      K_INT,   -100000,     1000000   },
    {"H17",      K_INT,   0,           2000000000},
    {"H18",      K_INT,   0,           2000000000},
    {"H19",      K_INT,   0,           2000000000},
    {"H2",       K_INT,   -1000000000, 1000000000},
    {"H20",      K_INT,   0,           100000    },
    {"H21",      K_INT,   0,           1000000   },
    {"H22",      K_INT,   0,           100000    },
    {"H23",      K_INT,   0,           1000000   },
    {"H3",       K_INT,   -1000000000, 1000000000},
    {"H4",       K_INT,   0,           1000000   },
    {"H5",       K_INT,   0,           1000000   },
    {"H6",       K_INT,   -2000000000, 2000000000},
    {"H7",       K_INT,   0,           1000000   },
    {"H8",       K_INT,   0,           1000000   },
    {"H9",       K_INT,   0,           2000000000},
    {"HC#",      K_TEXT,  0,           0         },
    {"HSDS",     K_INT,   0,           365       },
    {"I",        K_INT,   -10000000,   10000000  },
    {"I2",       K_INT,   -10000000,   10000000  },
    {"I3",       K_INT,   -10000000,   10000000  },
    {"IL",       K_INT,   -10000000,   10000000  },
    {"LOAD",     K_ONOFF, 0,           0         },
    {"MODE",     K_INT,   0,           255       },
    {"MON",      K_INT,   -9,          8         },
    {"MPPT",     K_INT,   0,           255       },
    {"OR",       K_HEX,   0,           0         },
    {"P",        K_INT,   -1000000,    1000000   },
    {"PID",      K_HEX,   0,           0         },
    {"PPV",      K_INT,   0,           1000000   },
    {"Relay",    K_ONOFF, 0,           0         },
    {"SER#",     K_TEXT,  0,           0         },
    {"SOC",      K_INT,   0,           1000      },
    {"T",        K_INT,   -100,        200       },
    {"TTG",      K_INT,   -1,          100000    },
    {"V",        K_INT,   0,           1000000   },
    {"V2",       K_INT,   0,           1000000   },
    {"V3",       K_INT,   0,           1000000   },
    {"VM",       K_INT,   0,           1000000   },
    {"VPV",      K_INT,   0,           1000000   },
    {"VS",       K_INT,   -100000,     1000000   },
    {"WARN",     K_INT,   0,           65535     },
};

#define ALL VED_CLS_ALL
#define BAT VED_CLS_BATTERY
#define SOL VED_CLS_SOLAR
#define INV VED_CLS_INVERTER
#define CHG VED_CLS_CHARGER
#define DCDC VED_CLS_DCDC

/* First matching row (label, class) wins. The fifth column is the decimal exponent of the wire
 * unit: -3 = mV, mA, mAh; -1 = ‰, 0.1 %; -2 = 0.01 kWh, 0.01 V. */
const struct ved_map ved_map[] = {
    {"V",        ALL,              "Dc/0/Voltage",                     "V",   -3, VED_CONV_NUM  },
    {"V2",       CHG,              "Dc/1/Voltage",                     "V",   -3, VED_CONV_NUM  },
    {"V3",       CHG,              "Dc/2/Voltage",                     "V",   -3, VED_CONV_NUM  },
    {"VS",       BAT,              "Dc/1/Voltage",                     "V",   -3, VED_CONV_NUM  },
    {"VM",       BAT,              "Dc/0/MidVoltage",                  "V",   -3, VED_CONV_NUM  },
    {"DM",       BAT,              "Dc/0/MidVoltageDeviation",         "%",   -1, VED_CONV_NUM  },
    {"I",        ALL,              "Dc/0/Current",                     "A",   -3, VED_CONV_NUM  },
    {"I2",       CHG,              "Dc/1/Current",                     "A",   -3, VED_CONV_NUM  },
    {"I3",       CHG,              "Dc/2/Current",                     "A",   -3, VED_CONV_NUM  },
    {"P",        BAT,              "Dc/0/Power",                       "W",   0,  VED_CONV_NUM  },
    {"T",        BAT | CHG | SOL,  "Dc/0/Temperature",                 "°C", 0,  VED_CONV_NUM  },
    {"CE",       BAT,              "ConsumedAmphours",                 "Ah",  -3, VED_CONV_NUM  },
    {"SOC",      BAT,              "Soc",                              "%",   -1, VED_CONV_NUM  },
    {"TTG",      BAT,              "TimeToGo",                         "s",   0,  VED_CONV_TTG  },
    {"Alarm",    BAT | INV,        "Alarms/Alarm",                     "",    0,  VED_CONV_ALARM},
    {"Relay",    ALL,              "Relay/0/State",                    "",    0,  VED_CONV_ONOFF},
    {"VPV",      SOL,              "Pv/V",                             "V",   -3, VED_CONV_NUM  },
    {"PPV",      SOL,              "Yield/Power",                      "W",   0,  VED_CONV_NUM  },
    {"IL",       SOL,              "Load/I",                           "A",   -3, VED_CONV_NUM  },
    {"IL",       CHG,              "Ac/In/L1/I",                       "A",   -3, VED_CONV_NUM  },
    {"LOAD",     SOL,              "Load/State",                       "",    0,  VED_CONV_ONOFF},
    {"CS",       ALL,              "State",                            "",    0,  VED_CONV_NUM  },
    {"ERR",      SOL | CHG | DCDC, "ErrorCode",                        "",    0,  VED_CONV_NUM  },
    {"MPPT",     SOL,              "MppOperationMode",                 "",    0,  VED_CONV_NUM  },
    {"OR",       SOL | INV | DCDC, "OffReason",                        "",    0,  VED_CONV_HEX  },
    {"MODE",     INV | CHG | DCDC, "Mode",                             "",    0,  VED_CONV_NUM  },
    {"H1",       BAT,              "History/DeepestDischarge",         "Ah",  -3, VED_CONV_NUM  },
    {"H2",       BAT,              "History/LastDischarge",            "Ah",  -3, VED_CONV_NUM  },
    {"H3",       BAT,              "History/AverageDischarge",         "Ah",  -3, VED_CONV_NUM  },
    {"H4",       BAT,              "History/ChargeCycles",             "",    0,  VED_CONV_NUM  },
    {"H5",       BAT,              "History/FullDischarges",           "",    0,  VED_CONV_NUM  },
    {"H6",       BAT,              "History/TotalAhDrawn",             "Ah",  -3, VED_CONV_NUM  },
    {"H7",       BAT,              "History/MinimumVoltage",           "V",   -3, VED_CONV_NUM  },
    {"H8",       BAT,              "History/MaximumVoltage",           "V",   -3, VED_CONV_NUM  },
    {"H9",       BAT,              "History/TimeSinceLastFullCharge",  "s",   0,  VED_CONV_NUM  },
    {"H10",      BAT,              "History/AutomaticSyncs",           "",    0,  VED_CONV_NUM  },
    {"H11",      BAT,              "History/LowVoltageAlarms",         "",    0,  VED_CONV_NUM  },
    {"H12",      BAT,              "History/HighVoltageAlarms",        "",    0,  VED_CONV_NUM  },
    {"H13",      BAT,              "History/LowStarterVoltageAlarms",  "",    0,  VED_CONV_NUM  },
    {"H14",      BAT,              "History/HighStarterVoltageAlarms", "",    0,  VED_CONV_NUM  },
    {"H15",      BAT,              "History/MinimumStarterVoltage",    "V",   -3, VED_CONV_NUM  },
    {"H16",      BAT,              "History/MaximumStarterVoltage",    "V",   -3, VED_CONV_NUM  },
    {"H17",      BAT,              "History/DischargedEnergy",         "kWh", -2, VED_CONV_NUM  },
    {"H18",      BAT,              "History/ChargedEnergy",            "kWh", -2, VED_CONV_NUM  },
    {"H19",      SOL,              "Yield/User",                       "kWh", -2, VED_CONV_NUM  },
    {"H20",      SOL,              "History/Daily/0/Yield",            "kWh", -2, VED_CONV_NUM  },
    {"H21",      SOL,              "History/Daily/0/MaxPower",         "W",   0,  VED_CONV_NUM  },
    {"H22",      SOL,              "History/Daily/1/Yield",            "kWh", -2, VED_CONV_NUM  },
    {"H23",      SOL,              "History/Daily/1/MaxPower",         "W",   0,  VED_CONV_NUM  },
    {"HSDS",     SOL,              "History/DaySequenceNumber",        "",    0,  VED_CONV_NUM  },
    {"AC_OUT_V", INV,              "Ac/Out/L1/V",                      "V",   -2, VED_CONV_NUM  },
    {"AC_OUT_I", INV,              "Ac/Out/L1/I",                      "A",   -1, VED_CONV_NUM  },
    {"AC_OUT_S", INV,              "Ac/Out/L1/S",                      "VA",  0,  VED_CONV_NUM  },
    {"DC_IN_V",  DCDC,             "Dc/In/V",                          "V",   -2, VED_CONV_NUM  },
    {"DC_IN_I",  DCDC,             "Dc/In/I",                          "A",   -1, VED_CONV_NUM  },
    {"DC_IN_P",  DCDC,             "Dc/In/P",                          "W",   0,  VED_CONV_NUM  },
};
const size_t ved_map_len = UTIL_ARRAY_SIZE(ved_map);

/* AR (alarm, published as 2) and WARN (warning, published as 1) bits, protocols.md §1.4. */
const struct ved_alarm_bit ved_alarm_bits[] = {
    {0x0001, BAT | INV, "Alarms/LowVoltage"        },
    {0x0002, BAT | INV, "Alarms/HighVoltage"       },
    {0x0004, BAT,       "Alarms/LowSoc"            },
    {0x0008, BAT,       "Alarms/LowStarterVoltage" },
    {0x0010, BAT,       "Alarms/HighStarterVoltage"},
    {0x0020, BAT | INV, "Alarms/LowTemperature"    },
    {0x0040, BAT | INV, "Alarms/HighTemperature"   },
    {0x0080, BAT,       "Alarms/MidVoltage"        },
    {0x0100, INV,       "Alarms/Overload"          },
    {0x0200, INV,       "Alarms/Ripple"            },
    {0x0400, INV,       "Alarms/LowVoltageAcOut"   },
    {0x0800, INV,       "Alarms/HighVoltageAcOut"  },
    {0x1000, INV,       "Alarms/ShortCircuit"      },
    {0x2000, BAT | INV, "Alarms/BmsLockout"        },
};
const size_t ved_alarm_bits_len = UTIL_ARRAY_SIZE(ved_alarm_bits);

int ved_parse_int(const char *s, long *out)
{
    return util_parse_long(s, 10, -2147483647L - 1, 2147483647L, out) == 0 ? 0 : -EINVAL;
}

static bool is_hex_digits(const char *s, size_t min, size_t max)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return n >= min && n <= max;
}

int ved_parse_hex(const char *s, unsigned long *out)
{
    if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || !is_hex_digits(s + 2, 1, 8))
        return -EINVAL;
    *out = strtoul(s + 2, NULL, 16);
    return 0;
}

static int ved_label_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct ved_label *)elem)->label);
}

static const struct ved_label *ved_label_find(const char *label)
{
    return bsearch(label, ved_labels, UTIL_ARRAY_SIZE(ved_labels), sizeof(ved_labels[0]),
                   ved_label_cmp);
}

bool ved_labels_sorted(void)
{
    for (size_t i = 1; i < UTIL_ARRAY_SIZE(ved_labels); i++)
        if (strcmp(ved_labels[i - 1].label, ved_labels[i].label) >= 0)
            return false;
    return true;
}

bool ved_label_known(const char *label)
{
    return ved_label_find(label) != NULL;
}

static bool is_digits(const char *s, size_t min, size_t max)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (s[n] < '0' || s[n] > '9')
            return false;
    return n >= min && n <= max;
}

int ved_field_check(const char *label, const char *value)
{
    const struct ved_label *l = ved_label_find(label);
    if (!l)
        return 0;
    long v;
    unsigned long u;
    switch (l->kind) {
    case K_INT:
        if (strcmp(value, "---") == 0)
            return 0;
        if (ved_parse_int(value, &v) != 0 || v < l->min || v > l->max)
            return -EINVAL;
        return 0;
    case K_HEX:
        return ved_parse_hex(value, &u);
    case K_ONOFF:
        return strcmp(value, "ON") == 0 || strcmp(value, "OFF") == 0 ? 0 : -EINVAL;
    case K_TEXT:
        return value[0] ? 0 : -EINVAL;
    case K_FW:
        return is_digits(value, 3, 4) ? 0 : -EINVAL;
    case K_FWE:
        return is_hex_digits(value, 5, 6) ? 0 : -EINVAL;
    }
    return -EINVAL;
}

int ved_field_value(const struct ved_map *m, const char *value, double *out)
{
    long v;
    unsigned long u;
    switch (m->conv) {
    case VED_CONV_NUM:
        if (strcmp(value, "---") == 0)
            return 0;
        if (ved_parse_int(value, &v) != 0)
            return -EINVAL;
        *out = util_scale_decimal(v, m->exp10);
        return 1;
    case VED_CONV_TTG:
        if (strcmp(value, "---") == 0)
            return 0;
        if (ved_parse_int(value, &v) != 0)
            return -EINVAL;
        if (v < 0)
            return 0; /* -1 = infinite: Venus publishes it as invalid too */
        *out = util_scale_decimal((int64_t)v * 60, m->exp10); /* minutes → seconds */
        return 1;
    case VED_CONV_ONOFF:
    case VED_CONV_ALARM:
        if (strcmp(value, "ON") == 0)
            *out = m->conv == VED_CONV_ALARM ? 2 : 1;
        else if (strcmp(value, "OFF") == 0)
            *out = 0;
        else
            return -EINVAL;
        return 1;
    case VED_CONV_HEX:
        if (ved_parse_hex(value, &u) != 0)
            return -EINVAL;
        *out = (double)u;
        return 1;
    }
    return -EINVAL;
}

int ved_firmware_text(const char *fw, bool extended, char *out, size_t outlen)
{
    char digits[8];
    size_t n = strlen(fw);
    if (extended) {
        /* 24-bit form: the last two hex digits are the release type (FF = official). */
        if (!is_hex_digits(fw, 5, 6))
            return -EINVAL;
        n -= 2;
    } else if (!is_digits(fw, 3, 4)) {
        return -EINVAL;
    }
    memcpy(digits, fw, n);
    digits[n] = '\0';
    /* major = all but the last two digits (a leading zero is dropped), minor = the last two. */
    char major_text[4];
    memcpy(major_text, digits, n - 2);
    major_text[n - 2] = '\0';
    long major;
    if (util_parse_long(major_text, extended ? 16 : 10, 0, 255, &major) != 0)
        return -EINVAL;
    return util_snprintf(out, outlen, "%ld.%c%c", major, digits[n - 2], digits[n - 1]);
}
