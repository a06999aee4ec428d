/* fuzz_escape.c - libFuzzer target for profd_escape, the one rule that keeps
 * untrusted text from forging log lines or breaking JSON details. The first
 * byte picks the flags and the output capacity; for any input:
 *  - the output is NUL-terminated, its length is the return value, and it
 *    fits the capacity;
 *  - it is well-formed UTF-8: escaping it again without flags changes nothing;
 *  - with PROFD_ESC_CONTROLS it holds no control byte (no newline to forge a
 *    line with), and escaping it again with the flag only doubles its
 *    backslashes (every backslash in it is one the escaper wrote or doubled). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "profd/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned flags = data[0] & 1 ? PROFD_ESC_CONTROLS : 0;
    size_t cap = (data[0] >> 1) == 0 ? 1 : (size_t)(data[0] >> 1) * 64;
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    char *out = malloc(cap), *again = malloc(cap * 2 + 1);
    if (!out || !again) {
        free(out);
        free(again);
        return 0;
    }
    size_t n = profd_escape(in, len, flags, out, cap);
    if (n >= cap || out[n] != '\0' || strlen(out) != n)
        abort();
    size_t m = profd_escape(out, n, 0, again, cap * 2 + 1);
    if (m != n || memcmp(again, out, n) != 0)
        abort(); /* something invalid was let through */
    if (flags) {
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
                abort();
        size_t k = profd_escape(out, n, flags, again, cap * 2 + 1), bs = 0;
        for (size_t i = 0; i < n; i++)
            bs += out[i] == '\\';
        if (k != n + bs && k < cap * 2)
            abort();
    }
    free(out);
    free(again);
    return 0;
}
