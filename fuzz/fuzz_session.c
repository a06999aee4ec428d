/* fuzz_session.c - libFuzzer target for the Redis record decoder,
 * profd_session_parse: what the store reads back from profd:session:{id}.
 *
 * Redis is shared state, so a record may be damaged, written by another
 * version, or written by someone else entirely. Any input must either be
 * refused with a one-line error, or decode to a session whose stored encoding
 * decodes again and is then stable (encode(parse(encode(s))) == encode(s)):
 * a record the worker rewrites must never drift or become unreadable. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "profd/session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *reencode(const char *text)
{
    profd_session s;
    profd_error err = {0};
    if (profd_session_parse(text, strlen(text), &s, &err) != 0)
        abort(); /* our own encoding must decode */
    char *out = profd_session_to_string(&s, true);
    profd_session_free(&s);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    profd_session s;
    profd_error err = {0};
    if (profd_session_parse((const char *)data, size, &s, &err) != 0) {
        if (strchr(err.msg, '\n'))
            abort();
        return 0;
    }
    char *once = profd_session_to_string(&s, true);
    profd_session_free(&s);
    if (!once)
        return 0;
    char *twice = reencode(once);
    if (!twice || strcmp(once, twice) != 0)
        abort();
    free(once);
    free(twice);
    return 0;
}
