/* fuzz_conf: libFuzzer target for the configuration parser and validator. */
#include "core/conf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct conf *c = NULL;
    char err[512];
    if (conf_parse_string("fuzz.conf", text, &c, err, sizeof(err)) == 0)
        conf_free(c);
    free(text);
    return 0;
}
