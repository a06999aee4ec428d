/* fuzz_request.c - libFuzzer target for profd_request_parse (built with
 * -DPROFD_FUZZ=ON and clang). Seed it with the fixture set:
 *
 *   fuzz_request -max_len=70000 tests/fixtures/requests/good tests/fixtures/requests/bad
 *
 * Any input must give either a request that re-encodes to a message that
 * parses again, or invalid_request with a one-line message; never a crash,
 * a leak or undefined behaviour (ASan and UBSan are on). */
#include <stdlib.h>
#include <string.h>

#include "profd/session.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static const profd_limits lim = {10, 300};
    profd_request r, again;
    profd_error err;
    if (profd_request_parse((const char *)data, size, &lim, &r, &err) != 0) {
        if (!err.code || strcmp(err.code, PROFD_E_INVALID) != 0 || strchr(err.msg, '\n'))
            abort();
        profd_request_free(&r);
        return 0;
    }
    json_object *j = profd_request_to_json(&r);
    const char *text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
    if (profd_request_parse(text, strlen(text), &lim, &again, &err) != 0)
        abort();
    json_object_put(j);
    profd_request_free(&r);
    profd_request_free(&again);
    return 0;
}
