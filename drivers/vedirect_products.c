/* vedirect_products: VE.Direct product ids → product name and service class, as data.
 *
 * Source: shared/reference/protocols.md §1.3 (VE.Direct Protocol 3.33 via KinDR007 victron.cpp,
 * cross-checked with go-victron veproduct/product.go). An unknown PID falls back to the ranges
 * below, so a new model still gets the right service class. */
#include "vedirect_products.h"

#include "core/util.h"

#include <stddef.h>

static const struct ved_product ved_products[] = {
    {0x0203, "BMV-700",                                      "battery"     },
    {0x0204, "BMV-702",                                      "battery"     },
    {0x0205, "BMV-700H",                                     "battery"     },
    {0x0300, "BlueSolar MPPT 70|15",                         "solarcharger"},
    {0xA040, "BlueSolar MPPT 75|50",                         "solarcharger"},
    {0xA041, "BlueSolar MPPT 150|35",                        "solarcharger"},
    {0xA042, "BlueSolar MPPT 75|15",                         "solarcharger"},
    {0xA043, "BlueSolar MPPT 100|15",                        "solarcharger"},
    {0xA044, "BlueSolar MPPT 100|30",                        "solarcharger"},
    {0xA045, "BlueSolar MPPT 100|50",                        "solarcharger"},
    {0xA046, "BlueSolar MPPT 150|70",                        "solarcharger"},
    {0xA047, "BlueSolar MPPT 150|100",                       "solarcharger"},
    {0xA048, "BlueSolar MPPT 75|50 rev2",                    "solarcharger"},
    {0xA049, "BlueSolar MPPT 100|50 rev2",                   "solarcharger"},
    {0xA04A, "BlueSolar MPPT 100|30 rev2",                   "solarcharger"},
    {0xA04B, "BlueSolar MPPT 150|35 rev2",                   "solarcharger"},
    {0xA04C, "BlueSolar MPPT 75|10",                         "solarcharger"},
    {0xA04D, "BlueSolar MPPT 150|45",                        "solarcharger"},
    {0xA04E, "BlueSolar MPPT 150|60",                        "solarcharger"},
    {0xA04F, "BlueSolar MPPT 150|85",                        "solarcharger"},
    {0xA050, "SmartSolar MPPT 250|100",                      "solarcharger"},
    {0xA051, "SmartSolar MPPT 150|100",                      "solarcharger"},
    {0xA052, "SmartSolar MPPT 150|85",                       "solarcharger"},
    {0xA053, "SmartSolar MPPT 75|15",                        "solarcharger"},
    {0xA054, "SmartSolar MPPT 75|10",                        "solarcharger"},
    {0xA055, "SmartSolar MPPT 100|15",                       "solarcharger"},
    {0xA056, "SmartSolar MPPT 100|30",                       "solarcharger"},
    {0xA057, "SmartSolar MPPT 100|50",                       "solarcharger"},
    {0xA058, "SmartSolar MPPT 150|35",                       "solarcharger"},
    {0xA059, "SmartSolar MPPT 150|100 rev2",                 "solarcharger"},
    {0xA05A, "SmartSolar MPPT 150|85 rev2",                  "solarcharger"},
    {0xA05B, "SmartSolar MPPT 250|70",                       "solarcharger"},
    {0xA05C, "SmartSolar MPPT 250|85",                       "solarcharger"},
    {0xA05D, "SmartSolar MPPT 250|60",                       "solarcharger"},
    {0xA05E, "SmartSolar MPPT 250|45",                       "solarcharger"},
    {0xA05F, "SmartSolar MPPT 100|20",                       "solarcharger"},
    {0xA060, "SmartSolar MPPT 100|20 48V",                   "solarcharger"},
    {0xA061, "SmartSolar MPPT 150|45",                       "solarcharger"},
    {0xA062, "SmartSolar MPPT 150|60",                       "solarcharger"},
    {0xA063, "SmartSolar MPPT 150|70",                       "solarcharger"},
    {0xA064, "SmartSolar MPPT 250|85 rev2",                  "solarcharger"},
    {0xA065, "SmartSolar MPPT 250|100 rev2",                 "solarcharger"},
    {0xA066, "BlueSolar MPPT 100|20",                        "solarcharger"},
    {0xA067, "BlueSolar MPPT 100|20 48V",                    "solarcharger"},
    {0xA068, "SmartSolar MPPT 250|60 rev2",                  "solarcharger"},
    {0xA069, "SmartSolar MPPT 250|70 rev2",                  "solarcharger"},
    {0xA06A, "SmartSolar MPPT 150|45 rev2",                  "solarcharger"},
    {0xA06B, "SmartSolar MPPT 150|60 rev2",                  "solarcharger"},
    {0xA06C, "SmartSolar MPPT 150|70 rev2",                  "solarcharger"},
    {0xA06D, "SmartSolar MPPT 150|85 rev3",                  "solarcharger"},
    {0xA06E, "SmartSolar MPPT 150|100 rev3",                 "solarcharger"},
    {0xA06F, "BlueSolar MPPT 150|45 rev2",                   "solarcharger"},
    {0xA070, "BlueSolar MPPT 150|60 rev2",                   "solarcharger"},
    {0xA071, "BlueSolar MPPT 150|70 rev2",                   "solarcharger"},
    {0xA072, "BlueSolar MPPT 150|45 rev3",                   "solarcharger"},
    {0xA073, "SmartSolar MPPT 150|45 rev3",                  "solarcharger"},
    {0xA074, "SmartSolar MPPT 75|10 rev2",                   "solarcharger"},
    {0xA075, "SmartSolar MPPT 75|15 rev2",                   "solarcharger"},
    {0xA076, "BlueSolar MPPT 100|30 rev3",                   "solarcharger"},
    {0xA077, "BlueSolar MPPT 100|50 rev3",                   "solarcharger"},
    {0xA078, "BlueSolar MPPT 150|35 rev2",                   "solarcharger"},
    {0xA079, "BlueSolar MPPT 75|10 rev2",                    "solarcharger"},
    {0xA07A, "BlueSolar MPPT 75|15 rev2",                    "solarcharger"},
    {0xA07B, "BlueSolar MPPT 100|15 rev2",                   "solarcharger"},
    {0xA07C, "BlueSolar MPPT 75/10 rev3",                    "solarcharger"},
    {0xA07D, "BlueSolar MPPT 75|15 rev3",                    "solarcharger"},
    {0xA07E, "SmartSolar Charger MPPT 100/30",               "solarcharger"},
    {0xA102, "SmartSolar MPPT VE.Can 150/70",                "solarcharger"},
    {0xA103, "SmartSolar MPPT VE.Can 150/45",                "solarcharger"},
    {0xA104, "SmartSolar MPPT VE.Can 150/60",                "solarcharger"},
    {0xA105, "SmartSolar MPPT VE.Can 150/85",                "solarcharger"},
    {0xA106, "SmartSolar MPPT VE.Can 150/100",               "solarcharger"},
    {0xA107, "SmartSolar MPPT VE.Can 250/45",                "solarcharger"},
    {0xA108, "SmartSolar MPPT VE.Can 250/60",                "solarcharger"},
    {0xA109, "SmartSolar MPPT VE.Can 250/70",                "solarcharger"},
    {0xA10A, "SmartSolar MPPT VE.Can 250/85",                "solarcharger"},
    {0xA10B, "SmartSolar MPPT VE.Can 250/100",               "solarcharger"},
    {0xA10C, "SmartSolar MPPT VE.Can 150/70 rev2",           "solarcharger"},
    {0xA10D, "SmartSolar MPPT VE.Can 150/85 rev2",           "solarcharger"},
    {0xA10E, "SmartSolar MPPT VE.Can 150/100 rev2",          "solarcharger"},
    {0xA10F, "BlueSolar MPPT VE.Can 150/100",                "solarcharger"},
    {0xA110, "SmartSolar MPPT RS 450/100",                   "solarcharger"},
    {0xA111, "SmartSolar MPPT RS 450/200",                   "solarcharger"},
    {0xA112, "BlueSolar MPPT VE.Can 250/70",                 "solarcharger"},
    {0xA113, "BlueSolar MPPT VE.Can 250/100",                "solarcharger"},
    {0xA114, "SmartSolar MPPT VE.Can 250/70 rev2",           "solarcharger"},
    {0xA115, "SmartSolar MPPT VE.Can 250/100 rev2",          "solarcharger"},
    {0xA116, "SmartSolar MPPT VE.Can 250/85 rev2",           "solarcharger"},
    {0xA117, "BlueSolar MPPT VE.Can 150|100",                "solarcharger"},
    {0xA201, "Phoenix Inverter 12V 250VA 230V",              "inverter"    },
    {0xA202, "Phoenix Inverter 24V 250VA 230V",              "inverter"    },
    {0xA204, "Phoenix Inverter 48V 250VA 230V",              "inverter"    },
    {0xA211, "Phoenix Inverter 12V 375VA 230V",              "inverter"    },
    {0xA212, "Phoenix Inverter 24V 375VA 230V",              "inverter"    },
    {0xA214, "Phoenix Inverter 48V 375VA 230V",              "inverter"    },
    {0xA221, "Phoenix Inverter 12V 500VA 230V",              "inverter"    },
    {0xA222, "Phoenix Inverter 24V 500VA 230V",              "inverter"    },
    {0xA224, "Phoenix Inverter 48V 500VA 230V",              "inverter"    },
    {0xA231, "Phoenix Inverter 12V 250VA 230V",              "inverter"    },
    {0xA232, "Phoenix Inverter 24V 250VA 230V",              "inverter"    },
    {0xA234, "Phoenix Inverter 48V 250VA 230V",              "inverter"    },
    {0xA239, "Phoenix Inverter 12V 250VA 120V",              "inverter"    },
    {0xA23A, "Phoenix Inverter 24V 250VA 120V",              "inverter"    },
    {0xA23C, "Phoenix Inverter 48V 250VA 120V",              "inverter"    },
    {0xA241, "Phoenix Inverter 12V 375VA 230V",              "inverter"    },
    {0xA242, "Phoenix Inverter 24V 375VA 230V",              "inverter"    },
    {0xA244, "Phoenix Inverter 48V 375VA 230V",              "inverter"    },
    {0xA249, "Phoenix Inverter 12V 375VA 120V",              "inverter"    },
    {0xA24A, "Phoenix Inverter 24V 375VA 120V",              "inverter"    },
    {0xA24C, "Phoenix Inverter 48V 375VA 120V",              "inverter"    },
    {0xA251, "Phoenix Inverter 12V 500VA 230V",              "inverter"    },
    {0xA252, "Phoenix Inverter 24V 500VA 230V",              "inverter"    },
    {0xA254, "Phoenix Inverter 48V 500VA 230V",              "inverter"    },
    {0xA259, "Phoenix Inverter 12V 500VA 120V",              "inverter"    },
    {0xA25A, "Phoenix Inverter 24V 500VA 120V",              "inverter"    },
    {0xA25C, "Phoenix Inverter 48V 500VA 120V",              "inverter"    },
    {0xA261, "Phoenix Inverter 12V 800VA 230V",              "inverter"    },
    {0xA262, "Phoenix Inverter 24V 800VA 230V",              "inverter"    },
    {0xA264, "Phoenix Inverter 48V 800VA 230V",              "inverter"    },
    {0xA269, "Phoenix Inverter 12V 800VA 120V",              "inverter"    },
    {0xA26A, "Phoenix Inverter 24V 800VA 120V",              "inverter"    },
    {0xA26C, "Phoenix Inverter 48V 800VA 120V",              "inverter"    },
    {0xA271, "Phoenix Inverter 12V 1200VA 230V",             "inverter"    },
    {0xA272, "Phoenix Inverter 24V 1200VA 230V",             "inverter"    },
    {0xA274, "Phoenix Inverter 48V 1200VA 230V",             "inverter"    },
    {0xA279, "Phoenix Inverter 12V 1200VA 120V",             "inverter"    },
    {0xA27A, "Phoenix Inverter 24V 1200VA 120V",             "inverter"    },
    {0xA27C, "Phoenix Inverter 48V 1200VA 120V",             "inverter"    },
    {0xA281, "Phoenix Inverter 12V 1600VA 230V",             "inverter"    },
    {0xA282, "Phoenix Inverter 24V 1600VA 230V",             "inverter"    },
    {0xA284, "Phoenix Inverter 48V 1600VA 230V",             "inverter"    },
    {0xA291, "Phoenix Inverter 12V 2000VA 230V",             "inverter"    },
    {0xA292, "Phoenix Inverter 24V 2000VA 230V",             "inverter"    },
    {0xA294, "Phoenix Inverter 48V 2000VA 230V",             "inverter"    },
    {0xA2A1, "Phoenix Inverter 12V 3000VA 230V",             "inverter"    },
    {0xA2A2, "Phoenix Inverter 24V 3000VA 230V",             "inverter"    },
    {0xA2A4, "Phoenix Inverter 48V 3000VA 230V",             "inverter"    },
    {0xA2B1, "Phoenix Inverter Smart 12V 5000VA 230Vac 64k", "inverter"    },
    {0xA2B2, "Phoenix Inverter Smart 24V 5000VA 230Vac 64k", "inverter"    },
    {0xA2B4, "Phoenix Inverter Smart 48V 5000VA 230Vac 64k", "inverter"    },
    {0xA2E1, "Phoenix Inverter 12V 800VA 230Vac 64k HS",     "inverter"    },
    {0xA2E2, "Phoenix Inverter 24V 800VA 230Vac 64k HS",     "inverter"    },
    {0xA2E4, "Phoenix Inverter 48V 800VA 230Vac 64k HS",     "inverter"    },
    {0xA2E9, "Phoenix Inverter 12V 800VA 120Vac 64k HS",     "inverter"    },
    {0xA2EA, "Phoenix Inverter 24V 800VA 120Vac 64k HS",     "inverter"    },
    {0xA2EC, "Phoenix Inverter 48V 800VA 120Vac 64k HS",     "inverter"    },
    {0xA2F1, "Phoenix Inverter 12V 1200VA 230Vac 64k HS",    "inverter"    },
    {0xA2F2, "Phoenix Inverter 24V 1200VA 230Vac 64k HS",    "inverter"    },
    {0xA2F4, "Phoenix Inverter 48V 1200VA 230Vac 64k HS",    "inverter"    },
    {0xA2F9, "Phoenix Inverter 12V 1200VA 120V",             "inverter"    },
    {0xA2FA, "Phoenix Inverter 24V 1200VA 120Vac 64k HS",    "inverter"    },
    {0xA2FC, "Phoenix Inverter 48V 1200VA 120Vac 64k HS",    "inverter"    },
    {0xA30A, "Blue Smart IP65 Charger 12|25",                "charger"     },
    {0xA332, "Blue Smart IP22 Charger 24|8",                 "charger"     },
    {0xA334, "Blue Smart IP22 Charger 24|12",                "charger"     },
    {0xA336, "Blue Smart IP22 Charger 24|16",                "charger"     },
    {0xA340, "Phoenix Smart IP43 Charger 12|50 (1+1)",       "charger"     },
    {0xA341, "Phoenix Smart IP43 Charger 12|50 (3)",         "charger"     },
    {0xA342, "Phoenix Smart IP43 Charger 24|25 (1+1)",       "charger"     },
    {0xA343, "Phoenix Smart IP43 Charger 24|25 (3)",         "charger"     },
    {0xA344, "Phoenix Smart IP43 Charger 12|30 (1+1)",       "charger"     },
    {0xA345, "Phoenix Smart IP43 Charger 12|30 (3)",         "charger"     },
    {0xA346, "Phoenix Smart IP43 Charger 24|16 (1+1)",       "charger"     },
    {0xA347, "Phoenix Smart IP43 Charger 24|16 (3)",         "charger"     },
    {0xA381, "BMV-712 Smart",                                "battery"     },
    {0xA382, "BMV-710H Smart",                               "battery"     },
    {0xA383, "BMV-712 Smart Rev2",                           "battery"     },
    {0xA389, "SmartShunt 500A/50mV",                         "battery"     },
    {0xA38A, "SmartShunt 1000A/50mV",                        "battery"     },
    {0xA38B, "SmartShunt 2000A/50mV",                        "battery"     },
    {0xA3F0, "Orion XS 12V/12V-50A",                         "dcdc"        },
    {0xA3F1, "Orion XS 1400",                                "dcdc"        },
    {0xA442, "Multi RS Solar 48V 6000VA 230V",               "inverter"    },
};

/* Product-id ranges by family, for ids missing from the table above. */
static const struct {
    uint16_t lo, hi;
    const char *service;
    const char *family;
} ved_ranges[] = {
    {0x0200, 0x02FF, "battery",      "BMV battery monitor"   },
    {0x0300, 0x03FF, "solarcharger", "MPPT solar charger"    },
    {0xA040, 0xA1FF, "solarcharger", "MPPT solar charger"    },
    {0xA200, 0xA2FF, "inverter",     "Phoenix inverter"      },
    {0xA300, 0xA37F, "charger",      "AC charger"            },
    {0xA380, 0xA3EF, "battery",      "battery monitor"       },
    {0xA3F0, 0xA3FF, "dcdc",         "Orion DC-DC"           },
    {0xA400, 0xA4FF, "inverter",     "Multi RS / Inverter RS"},
};

const struct ved_product *ved_product_find(uint16_t pid)
{
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(ved_products); i++)
        if (ved_products[i].pid == pid)
            return &ved_products[i];
    return NULL;
}

const char *ved_product_service(uint16_t pid)
{
    const struct ved_product *p = ved_product_find(pid);
    if (p)
        return p->service;
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(ved_ranges); i++)
        if (pid >= ved_ranges[i].lo && pid <= ved_ranges[i].hi)
            return ved_ranges[i].service;
    return NULL;
}

const char *ved_product_family(uint16_t pid)
{
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(ved_ranges); i++)
        if (pid >= ved_ranges[i].lo && pid <= ved_ranges[i].hi)
            return ved_ranges[i].family;
    return "unknown VE.Direct product";
}
