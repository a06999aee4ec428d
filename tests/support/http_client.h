/* http_client.h - one HTTP exchange over libcurl, for the API and alert tests. */
#ifndef PROFD_TEST_HTTP_CLIENT_H
#define PROFD_TEST_HTTP_CLIENT_H

#include <stddef.h>

typedef struct test_resp {
    long status; /* 0 when the exchange failed */
    char *body;  /* NUL-terminated, never NULL; free() it */
    size_t len;
    char headers[4096]; /* the response headers as received (truncated) */
} test_resp;

/* method NULL: POST with a body, GET without. headers: NULL-terminated extra
 * header lines (Content-Type: application/json is always sent). user/pass:
 * basic auth when user is not NULL. */
test_resp test_http(const char *method, const char *url, const char *const *headers,
                    const char *user, const char *pass, const char *body);

#endif
