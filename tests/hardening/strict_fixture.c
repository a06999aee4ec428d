/* strict_fixture.c - the strict API, token minting, store counts, raw HTTP
 * and log capture of the strict-input tests. See strict_fixture.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "profd/log.h"
#include "strict_fixture.h"

profd_api *strict_api;
char strict_base[128];
EVP_PKEY *strict_key;
char strict_jwks[300];
static profd_config strict_cfg;

static void b64url(const unsigned char *p, size_t n, char *out)
{
    profd_b64_encode(p, n, true, out);
}

/* The JWKS of strict_key: {"keys":[{"kty":"EC","kid":"rsa1",...}]}. */
static void write_jwks(void)
{
    unsigned char pub[65];
    size_t pl = 0;
    assert_int_equal(
        EVP_PKEY_get_octet_string_param(strict_key, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub, &pl),
        1);
    assert_int_equal(pl, 65);
    char x[64], y[64];
    b64url(pub + 1, 32, x);
    b64url(pub + 33, 32, y);
    snprintf(strict_jwks, sizeof strict_jwks, "%s/jwks.json", dir);
    FILE *f = fopen(strict_jwks, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"keys\":[{\"kty\":\"EC\",\"kid\":\"" STRICT_KID "\",\"use\":\"sig\","
            "\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}]}\n",
            x, y);
    fclose(f);
}

int strict_setup(void **state)
{
    if (setup(state) != 0)
        return -1;
    strict_key = EVP_EC_gen("P-256");
    assert_non_null(strict_key);
    write_jwks();
    strict_cfg = cfg;
    snprintf(strict_cfg.jwt_public_key, sizeof strict_cfg.jwt_public_key, "%s", strict_jwks);
    snprintf(strict_cfg.jwt_issuer, sizeof strict_cfg.jwt_issuer, STRICT_ISS);
    snprintf(strict_cfg.jwt_audience, sizeof strict_cfg.jwt_audience, STRICT_AUD);
    snprintf(strict_cfg.alert_token, sizeof strict_cfg.alert_token, ALERT_TOKEN);
    snprintf(strict_cfg.alert_service_labels, sizeof strict_cfg.alert_service_labels, "service");
    strict_cfg.alert_cooldown = 0;
    strict_cfg.alert_max_running = 4;
    strict_cfg.alert_max_per_service = 4;
    strict_cfg.lease_seconds = STRICT_LEASE_S; /* the alert caps' "can run" horizon */
    profd_api_opts o = {.cfg = &strict_cfg,
                        .store = store,
                        .bus = bus,
                        .blob = blob,
                        .link_key = link_key,
                        .timeout_s = 2};
    profd_error err;
    strict_api = profd_api_start(&o, &err);
    if (!strict_api)
        fail_msg("strict api: %s", err.msg);
    snprintf(strict_base, sizeof strict_base, "http://127.0.0.1:%d", profd_api_port(strict_api));
    return 0;
}

int strict_teardown(void **state)
{
    profd_api_stop(strict_api);
    EVP_PKEY_free(strict_key);
    return teardown(state);
}

char *es256(const char *header, const char *payload)
{
    size_t hl = strlen(header), pl = strlen(payload);
    char *in = malloc((hl + pl) * 2 + 8);
    assert_non_null(in);
    b64url((const unsigned char *)header, hl, in);
    size_t n = strlen(in);
    in[n++] = '.';
    b64url((const unsigned char *)payload, pl, in + n);
    unsigned char der[128], raw[64];
    size_t derlen = sizeof der;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, strict_key), 1);
    assert_int_equal(EVP_DigestSign(ctx, der, &derlen, (unsigned char *)in, strlen(in)), 1);
    EVP_MD_CTX_free(ctx);
    const unsigned char *d = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &d, (long)derlen);
    const BIGNUM *r, *s;
    ECDSA_SIG_get0(es, &r, &s);
    BN_bn2binpad(r, raw, 32);
    BN_bn2binpad(s, raw + 32, 32);
    ECDSA_SIG_free(es);
    char sig[100];
    b64url(raw, 64, sig);
    char *t = malloc(strlen(in) + strlen(sig) + 2);
    assert_non_null(t);
    sprintf(t, "%s.%s", in, sig);
    free(in);
    return t;
}

char *strict_claims(const char *sub, const char *iss, const char *aud, const char *roles)
{
    char *out = malloc(2048);
    assert_non_null(out);
    snprintf(out, 2048, "{\"sub\":%s,\"iss\":%s,\"aud\":%s,\"roles\":%s,\"exp\":%lld}",
             sub ? sub : "\"idp-user\"", iss ? iss : "\"" STRICT_ISS "\"",
             aud ? aud : "\"" STRICT_AUD "\"", roles ? roles : "[\"admin\"]",
             (long long)(profd_now_ms() / 1000 + 600));
    return out;
}

int stored_sessions(void)
{
    profd_session *list = calloc(100, sizeof *list);
    assert_non_null(list);
    profd_list_filter f = {NULL, -1, 100};
    profd_error err;
    int n = store->ops->list(store, &f, list, 100, &err);
    if (n < 0)
        fail_msg("store list: %s", err.msg);
    for (int i = 0; i < n; i++)
        profd_session_free(&list[i]);
    free(list);
    return n;
}

int published_requests(void)
{
    return profd_bus_memory_count(PROFD_TOPIC_REQUESTS);
}

int raw_http(int port, const char *bytes, size_t len, char *answer, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    for (size_t off = 0; off < len;) {
        ssize_t w = send(fd, bytes + off, len - off, MSG_NOSIGNAL);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    shutdown(fd, SHUT_WR);
    size_t got = 0;
    for (;;) {
        ssize_t k = recv(fd, answer + got, cap - 1 - got, 0);
        if (k <= 0 || (got += (size_t)k) >= cap - 1)
            break;
    }
    close(fd);
    answer[got] = '\0';
    int status = 0;
    if (sscanf(answer, "HTTP/1.%*d %d", &status) != 1)
        status = 0;
    return status;
}

static int saved_fd = -1;
static char cap_path[] = "/tmp/profd-strict-log-XXXXXX";

void log_capture_start(const char *format)
{
    snprintf(cap_path, sizeof cap_path, "/tmp/profd-strict-log-XXXXXX");
    int fd = mkstemp(cap_path);
    assert_true(fd >= 0);
    fflush(stderr);
    saved_fd = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
    setenv("PROFD_LOG_FORMAT", format, 1);
    setenv("PROFD_LOG_LEVEL", "info", 1);
    profd_log_init();
}

char *log_capture_end(void)
{
    fflush(stderr);
    setenv("PROFD_LOG_LEVEL", "error", 1);
    profd_log_init();
    dup2(saved_fd, STDERR_FILENO);
    close(saved_fd);
    size_t n = 0;
    char *text = profd_read_file(cap_path, 1 << 22, &n);
    unlink(cap_path);
    assert_non_null(text);
    return text;
}
