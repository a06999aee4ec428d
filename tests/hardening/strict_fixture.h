/* strict_fixture.h - what the strict-input hardening tests share.
 *
 * hardening_strict (one regression test per defect of issue 15) and
 * hardening_nul_matrix run against the HTTP API fixture of tests/api (real
 * redis-server, memory bus, file blob store), plus a second API, "strict",
 * started here over the same store and bus, that has every check switched
 * on: an issuer, an audience, a JWKS with key ids (an EC P-256 key, kid
 * "rsa1" - the name of the repro), the HS256 secret, and an alert
 * token. Helpers mint tokens, count what the store and the bus hold, speak
 * raw HTTP where libcurl cannot send the bytes, and capture the log. */
#ifndef PROFD_TEST_STRICT_FIXTURE_H
#define PROFD_TEST_STRICT_FIXTURE_H

#include <openssl/evp.h>

#include "api/api_http_fixture.h"

#define STRICT_ISS "https://idp.example"
#define STRICT_AUD "profd-api"
#define STRICT_KID "rsa1"
#define ALERT_TOKEN "alert-token-for-tests"
#define STRICT_LEASE_S 3 /* PROFD_LEASE_SECONDS of the strict API */

extern profd_api *strict_api;
extern char strict_base[128];
extern EVP_PKEY *strict_key; /* the JWKS key, kid STRICT_KID */
extern char strict_jwks[300];

/* Start / stop the strict API (after / before the fixture's setup / teardown). */
int strict_setup(void **state);
int strict_teardown(void **state);

/* An ES256 token with this header and payload, signed with strict_key. */
char *es256(const char *header_json, const char *payload_json);
/* A payload with every claim the strict API checks, each replaceable:
 * NULL keeps the good value. Values are JSON text (quoted strings). */
char *strict_claims(const char *sub, const char *iss, const char *aud, const char *roles);
/* Sessions in the store (all statuses, up to 100) and requests on the bus. */
int stored_sessions(void);
int published_requests(void);
/* Raw bytes to port; the status of the answer, 0 when none came. */
int raw_http(int port, const char *bytes, size_t len, char *answer, size_t cap);
/* Log capture: stderr into a file at level info in the given format. */
void log_capture_start(const char *format);
char *log_capture_end(void); /* the captured text; free() it */

#endif
