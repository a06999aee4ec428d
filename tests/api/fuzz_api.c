/* fuzz_api.c - libFuzzer target over the API's parsers of untrusted input:
 * the JWT verifier (HS256 and a JWKS-free setup), routing and list-query
 * parsing. Build: cmake -DPROFD_FUZZ=ON -DCMAKE_C_COMPILER=clang. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "profd/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static profd_jwt_keys *keys;
    if (!keys) {
        profd_jwt_settings s = {"fuzz-secret", NULL, "iss", "aud", "admin"};
        profd_error err;
        keys = profd_jwt_keys_new(&s, &err);
    }
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    char reason[256];
    profd_jwt_claims c;
    profd_jwt_verify(keys, s, 1700000000, &c, reason, sizeof reason);
    profd_jwt_authorize(keys, s, 1700000000, &c, reason, sizeof reason);
    static const char *const methods[] = {"GET", "POST", "DELETE", "HEAD"};
    profd_route r;
    profd_route_match(methods[size % 4], s, &r);
    profd_list_filter f;
    const char *mid = s + strlen(s) / 2;
    profd_list_query_parse(s, mid, mid, &f, reason, sizeof reason);
    free(s);
    return 0;
}
