/* fuzz_http.c - libFuzzer target for the HTTP request path as the server
 * sees it: raw bytes through the front's parser (src/api/parse.c: head,
 * Content-Length or chunked body, percent-decoding) and then, for each
 * request that parses, through the real handler path (http.c: routing, JWT
 * check, the handlers in h_*.c) over a memory store, a memory bus and a
 * file blob store under /tmp.
 *
 * Input: one or more pipelined requests (at most 4 are run). The seed corpus
 * (fuzz/corpus/http) holds requests with a valid admin token for the secret
 * below (HS256 "fuzz-secret", exp 2100), so the fuzzer starts past auth.
 * Properties beyond "no crash, leak or UB":
 *  - a parsed head has a path without NUL or control characters, and query
 *    values without NUL (what %00 would have made);
 *  - a body is never larger than PROFD_API_MAX_BODY;
 *  - every request that reaches the handler path gets a status 200..599. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profd/log.h"
#include "server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static profd_api *api;

static void setup(void)
{
    static profd_config cfg;
    profd_error err = {0};
    setenv("PROFD_LOG_LEVEL", "error", 1);
    profd_log_init();
    if (profd_config_load(&cfg, &err) < 0)
        abort();
    snprintf(cfg.redis_url, sizeof cfg.redis_url, "memory");
    snprintf(cfg.bus, sizeof cfg.bus, "memory");
    snprintf(cfg.storage, sizeof cfg.storage, "file:///tmp/profd-fuzz-http");
    snprintf(cfg.jwt_secret, sizeof cfg.jwt_secret, "fuzz-secret");
    cfg.rate_limit = 100000;
    api = calloc(1, sizeof *api);
    api->cfg = cfg;
    api->o.cfg = &api->cfg;
    api->o.store = profd_store_open(&api->cfg, &err);
    api->o.blob = profd_blob_open(&api->cfg, &err);
    api->o.bus = profd_bus_open(&api->cfg, PROFD_BUS_PRODUCE, &err);
    profd_strlcpy(api->link_key, "00112233445566778899aabbccddeeff", sizeof api->link_key);
    profd_jwt_settings js = {cfg.jwt_secret, NULL, NULL, NULL, "admin"};
    api->keys = profd_jwt_keys_new(&js, &err);
    if (!api->o.store || !api->o.blob || !api->o.bus || !api->keys)
        abort();
}

static void check_head(const api_head *h)
{
    for (const unsigned char *p = (const unsigned char *)h->path; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            abort();
    for (int i = 0; i < h->nargs; i++)
        if (!h->args[i].name || !h->args[i].value)
            abort();
}

/* One request from in[0..n): how many bytes it used, 0 when none parsed. */
static size_t one(const char *in, size_t n)
{
    size_t end = 0;
    if (api__head_end(in, n, &end) != API_PARSE_OK)
        return 0;
    api_head h;
    char why[200];
    if (api__parse_head(in, end, &h, why, sizeof why) != API_PARSE_OK) {
        if (!why[0])
            abort(); /* every refusal says why */
        api__head_free(&h);
        return 0;
    }
    check_head(&h);
    char *body = NULL;
    size_t len = 0, used = end;
    if (h.body == API_BODY_LENGTH) {
        if (h.length > PROFD_API_MAX_BODY || h.length > n - end) {
            api__head_free(&h);
            return 0;
        }
        body = malloc(h.length + 1);
        memcpy(body, in + end, h.length);
        body[h.length] = '\0';
        len = h.length;
        used += h.length;
    } else if (h.body == API_BODY_CHUNKED) {
        api_chunked c;
        memset(&c, 0, sizeof c);
        size_t u = 0;
        api_parse_result r =
            api__chunked_feed(&c, in + end, n - end, &u, &body, &len, PROFD_API_MAX_BODY);
        if (len > PROFD_API_MAX_BODY)
            abort();
        if (r != API_PARSE_OK) {
            free(body);
            api__head_free(&h);
            return 0;
        }
        if (!body)
            body = calloc(1, 1);
        used += u;
    }
    api_exchange *x = api__exchange_new(&h, body, len);
    if (!x)
        return 0;
    api__request(api, x);
    int st = api__x_status(x);
    if (st < 200 || st > 599)
        abort();
    api__exchange_free(x);
    return used;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!api)
        setup();
    const char *in = (const char *)data;
    for (int i = 0; i < 4 && size; i++) {
        size_t u = one(in, size);
        if (!u)
            break;
        in += u;
        size -= u;
    }
    return 0;
}
