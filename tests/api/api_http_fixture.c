/* api_http_fixture.c - the fixture of the HTTP API tests: a real
 * redis-server as the session store, the memory bus (read back to check what
 * was published), the file blob store in a temporary directory and the API
 * listening on a free port, plus the request helpers. See api_http_fixture.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "profd/log.h"
#include "api_http_fixture.h"

profd_test_redis redis;
profd_config cfg;
profd_store *store;
profd_bus *bus;
profd_blob *blob;
profd_api *api;
char base[128], dir[] = "/tmp/profd-apitest-XXXXXX", admin[1024];
const char *link_key = "0123456789abcdef0123456789abcdef";

/* One request; extra is one more header line or NULL. */
resp http_on(const char *url_base, const char *method, const char *path, const char *token,
             const char *body, const char *extra)
{
    char url[4096], auth[2048];
    const char *headers[3] = {NULL, NULL, NULL};
    int n = 0;
    snprintf(url, sizeof url, "%s%s", url_base, path);
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        headers[n++] = auth;
    }
    if (extra)
        headers[n++] = extra;
    return test_http(method, url, headers, NULL, NULL, body);
}

resp http(const char *method, const char *path, const char *token, const char *body,
          const char *extra)
{
    return http_on(base, method, path, token, body, extra);
}

const char *jget(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && v ? json_object_get_string(v) : NULL;
}

/* The body parsed (caller puts). */
json_object *body_json(const resp *r)
{
    json_object *o = json_tokener_parse(r->body);
    assert_non_null(o);
    return o;
}

void expect_detail(resp r, long status, const char *detail)
{
    if (r.status != status)
        fprintf(stderr, "expected %ld, got %ld: %s\n", status, r.status, r.body);
    assert_int_equal(r.status, status);
    json_object *o = body_json(&r);
    const char *d = jget(o, "detail");
    assert_non_null(d);
    if (detail && strcmp(d, detail) != 0)
        fail_msg("detail '%s' != '%s'", d, detail);
    json_object_put(o);
    free(r.body);
}

char *token_for(const char *sub, const char *roles_json)
{
    char claims[512];
    snprintf(claims, sizeof claims, "{\"sub\":\"%s\",\"roles\":%s,\"exp\":%lld}", sub, roles_json,
             (long long)(profd_now_ms() / 1000 + 600));
    return profd_jwt_sign_hs256(SECRET, claims);
}

int setup(void **state)
{
    (void)state;
    if (!profd_test_redis_binary()) {
        fprintf(stderr, "SKIP: redis-server is not installed\n");
        return -1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    setenv("PROFD_LOG_LEVEL", "error", 1);
    profd_log_init();
    assert_int_equal(profd_test_redis_start(&redis, false), 0);
    profd_error err;
    assert_int_equal(profd_config_load(&cfg, &err), 0);
    snprintf(cfg.redis_url, sizeof cfg.redis_url, "%s", redis.url);
    snprintf(cfg.jwt_secret, sizeof cfg.jwt_secret, SECRET);
    cfg.jwt_public_key[0] = cfg.jwt_issuer[0] = cfg.jwt_audience[0] = '\0';
    snprintf(cfg.listen, sizeof cfg.listen, "127.0.0.1:0");
    snprintf(cfg.bus, sizeof cfg.bus, "memory");
    snprintf(cfg.sampler, sizeof cfg.sampler, "builtin");
    snprintf(cfg.admin_role, sizeof cfg.admin_role, "admin");
    cfg.rate_limit = 100000;
    cfg.duration_min = 10;
    cfg.duration_max = 300;
    assert_non_null(mkdtemp(dir));
    store = profd_store_redis_open(redis.url, 3600, &err);
    assert_non_null(store);
    bus = profd_bus_memory_open(&cfg, PROFD_BUS_PRODUCE, &err);
    assert_non_null(bus);
    blob = profd_blob_file_open(dir, &err);
    assert_non_null(blob);
    profd_api_opts o = {.cfg = &cfg,
                        .store = store,
                        .bus = bus,
                        .blob = blob,
                        .link_key = link_key,
                        .timeout_s = 2};
    api = profd_api_start(&o, &err);
    if (!api)
        fail_msg("api: %s", err.msg);
    snprintf(base, sizeof base, "http://127.0.0.1:%d", profd_api_port(api));
    profd_blob_file_set_link_base(blob, base, link_key);
    char *t = token_for("alice", "[\"admin\"]");
    snprintf(admin, sizeof admin, "%s", t);
    free(t);
    return 0;
}

int teardown(void **state)
{
    (void)state;
    profd_api_stop(api);
    bus->ops->close(bus);
    blob->ops->close(blob);
    store->ops->close(store);
    profd_test_redis_stop(&redis);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "%s", dir);
    /* remove the blob dir tree */
    pid_t pid = fork();
    if (pid == 0) {
        execlp("rm", "rm", "-rf", cmd, (char *)NULL);
        _exit(127);
    }
    waitpid(pid, NULL, 0);
    curl_global_cleanup();
    return 0;
}

bool api_http_skip(void)
{
    if (profd_test_redis_binary())
        return false;
    printf("SKIP: redis-server is not installed\n");
    return true;
}
