/* vedirect_products: product id → name and service class. */
#ifndef SITEWATCH_VEDIRECT_PRODUCTS_H
#define SITEWATCH_VEDIRECT_PRODUCTS_H

#include <stdint.h>

struct ved_product {
    uint16_t pid;
    const char *name;
    const char *service; /* Venus service class: battery, solarcharger, inverter, charger, dcdc */
};

/* The table row for pid, or NULL when the product is not in the table. */
const struct ved_product *ved_product_find(uint16_t pid);
/* The service class of pid (from the table, else from its family range), or NULL if unknown. */
const char *ved_product_service(uint16_t pid);
/* A family name for an id missing from the table ("MPPT solar charger"). */
const char *ved_product_family(uint16_t pid);

#endif
