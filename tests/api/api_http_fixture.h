/* api_http_fixture.h - the fixture and helpers the HTTP API tests share.
 *
 * test_api_http, test_api_http_sessions and test_api_http_clients each run
 * their tests against one API of their own, set up here: a real
 * redis-server, the memory bus, the file blob store in a temporary directory
 * and an admin token. The globals are that fixture; the helpers make one
 * request and check what comes back. */
#ifndef PROFD_TEST_API_HTTP_FIXTURE_H
#define PROFD_TEST_API_HTTP_FIXTURE_H

#include <json-c/json.h>
#include <stdbool.h>

#include "profd/api.h"
#include "profd/blob.h"
#include "profd/bus.h"
#include "profd/store.h"
#include "support/http_client.h"
#include "support/redis_server.h"

#define P "/api/v1/monitoring/profile"
#define SECRET "http-test-secret"

extern profd_test_redis redis;
extern profd_config cfg;
extern profd_store *store;
extern profd_bus *bus;
extern profd_blob *blob;
extern profd_api *api;
extern char base[128], dir[], admin[1024];
extern const char *link_key;

typedef test_resp resp;

/* One request; extra is one more header line or NULL. */
resp http_on(const char *url_base, const char *method, const char *path, const char *token,
             const char *body, const char *extra);
resp http(const char *method, const char *path, const char *token, const char *body,
          const char *extra);
const char *jget(json_object *o, const char *k);
/* The body parsed (caller puts). */
json_object *body_json(const resp *r);
void expect_detail(resp r, long status, const char *detail);
char *token_for(const char *sub, const char *roles_json);

/* The cmocka group setup and teardown: start and stop the fixture. */
int setup(void **state);
int teardown(void **state);
/* For main: without redis-server the tests are skipped; says so on stdout
 * and returns true (main then exits 0). */
bool api_http_skip(void);

#endif
