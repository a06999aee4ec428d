/* fuzz_redis_url.c - libFuzzer target for store__redis_url_parse, the parser of
 * PROFD_REDIS_URL (operator input, but it carries a password, so it is the
 * one place a parsing slip could leak a secret). Any input must be refused
 * with a one-line error that does not contain the password, or give a URL
 * whose fields are terminated, in range and, for the host, non-empty. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *url = malloc(size + 1);
    if (!url)
        return 0;
    memcpy(url, data, size);
    url[size] = '\0';
    profd_redis_url u;
    profd_error err = {0};
    if (store__redis_url_parse(url, &u, &err) != 0) {
        if (strchr(err.msg, '\n'))
            abort();
        /* A leak check that cannot match our own wording: no message of the
         * parser contains '~', so a password with one must not show up. */
        if (strchr(u.password, '~') && strstr(err.msg, u.password))
            abort();
    } else {
        if (!u.host[0] || memchr(u.host, '\0', sizeof u.host) == NULL)
            abort();
        if (u.port < 1 || u.port > 65535 || u.db < 0)
            abort();
        if (memchr(u.password, '\0', sizeof u.password) == NULL)
            abort();
    }
    free(url);
    return 0;
}
