/* tls.c - rediss://: an OpenSSL client under hiredis's reply reader.
 *
 * hiredis 0.14 has no TLS, but conn.c only needs bytes in and out, so this
 * file gives it SSL_read/SSL_write with the send()/recv() conventions it
 * already handles (EAGAIN plus which way to poll, since TLS may need to read
 * in order to write and the other way round).
 *
 * Verification is never optional: the server's chain must lead to the CA in
 * PROFD_REDIS_CA (else the system store), and its certificate must name the
 * URL's host (subjectAltName DNS or IP; no partial wildcards). A failure says
 * which of the two went wrong and which variable to fix. TLS 1.2 is the floor.
 *
 * The handshake runs on the non-blocking socket under the connection's
 * deadline, so a server that accepts TCP but never speaks TLS costs one
 * bounded failure like any other.
 *
 * OpenSSL writes to the socket with write(), which raises SIGPIPE on a
 * connection the server reset; not every profd command ignores SIGPIPE, so
 * each call that may write blocks it for this thread and swallows a SIGPIPE
 * it caused (the send(MSG_NOSIGNAL) of the plain transport, done by hand). */
#include "tls.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct pipe_guard {
    sigset_t old;
    int was_pending;
} pipe_guard;

static void pipe_block(pipe_guard *g)
{
    sigset_t pipe, pending;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    sigpending(&pending);
    g->was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, &g->old);
}

static void pipe_unblock(pipe_guard *g)
{
    if (!g->was_pending) {
        sigset_t pipe;
        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        struct timespec zero = {0, 0};
        int saved = errno;
        while (sigtimedwait(&pipe, NULL, &zero) == SIGPIPE)
            ;
        errno = saved;
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* The last OpenSSL error as a short phrase ("certificate verify failed"). */
static void ssl_reason(char *why, size_t n, const char *fallback)
{
    unsigned long e = ERR_get_error(), last = e;
    while (e) {
        last = e;
        e = ERR_get_error();
    }
    const char *r = last ? ERR_reason_error_string(last) : NULL;
    snprintf(why, n, "%s", r ? r : fallback);
}

/* A missing or unreadable file gets the system's reason ("no such file or
 * directory"), which OpenSSL would only call "system lib". */
static int readable(const char *var, const char *what, const char *path, profd_error *err)
{
    if (access(path, R_OK) == 0)
        return 0;
    char why[128];
    snprintf(why, sizeof why, "%s", strerror(errno));
    why[0] = (char)tolower((unsigned char)why[0]);
    profd_error_set(err, NULL, "%s: cannot read %s %s (%s)", var, what, path, why);
    return -1;
}

static int load_ca(SSL_CTX *ctx, const char *ca, profd_error *err)
{
    if (!ca || !ca[0]) {
        if (SSL_CTX_set_default_verify_paths(ctx) == 1)
            return 0;
        profd_error_set(err, NULL,
                        "PROFD_REDIS_CA: the system CA store cannot be loaded; "
                        "set PROFD_REDIS_CA to your CA's PEM file");
        return -1;
    }
    if (readable("PROFD_REDIS_CA", "the CA certificates", ca, err) != 0)
        return -1;
    struct stat st;
    int dir = stat(ca, &st) == 0 && S_ISDIR(st.st_mode);
    if (SSL_CTX_load_verify_locations(ctx, dir ? NULL : ca, dir ? ca : NULL) == 1)
        return 0;
    char why[160];
    ssl_reason(why, sizeof why, "unreadable");
    profd_error_set(err, NULL, "PROFD_REDIS_CA: cannot load CA certificates from %s (%s)", ca, why);
    return -1;
}

static int load_client_cert(SSL_CTX *ctx, const char *cert, const char *key, profd_error *err)
{
    char why[160];
    if ((!cert || !cert[0]) && key && key[0]) {
        profd_error_set(err, NULL,
                        "PROFD_REDIS_KEY is set without PROFD_REDIS_CERT; set both "
                        "(or neither)");
        return -1;
    }
    if (!cert || !cert[0])
        return 0;
    if (!key || !key[0])
        key = cert;
    if (readable("PROFD_REDIS_CERT", "the certificate", cert, err) != 0 ||
        readable("PROFD_REDIS_KEY", "the private key", key, err) != 0)
        return -1;
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        ssl_reason(why, sizeof why, "unreadable");
        profd_error_set(err, NULL, "PROFD_REDIS_CERT: cannot load the certificate %s (%s)", cert,
                        why);
        return -1;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        ssl_reason(why, sizeof why, "unreadable");
        if (strstr(why, "mismatch"))
            snprintf(why, sizeof why, "it does not match the certificate in PROFD_REDIS_CERT");
        profd_error_set(err, NULL, "PROFD_REDIS_KEY: cannot load the private key %s (%s)", key,
                        why);
        return -1;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ERR_clear_error();
        profd_error_set(err, NULL,
                        "PROFD_REDIS_KEY: the key %s does not match the "
                        "certificate in PROFD_REDIS_CERT",
                        key);
        return -1;
    }
    return 0;
}

SSL_CTX *store__tls_ctx_new(const profd_redis_tls *t, profd_error *err)
{
    static const profd_redis_tls none = {NULL, NULL, NULL};
    if (!t)
        t = &none;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        profd_error_set(err, NULL, "redis TLS: cannot create an OpenSSL context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (load_ca(ctx, t->ca, err) != 0 || load_client_cert(ctx, t->cert, t->key, err) != 0) {
        SSL_CTX_free(ctx);
        ERR_clear_error();
        return NULL;
    }
    return ctx;
}

static int is_ip(const char *host)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

static int set_peer_name(SSL *ssl, const char *host)
{
    X509_VERIFY_PARAM *p = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(p, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (is_ip(host))
        return X509_VERIFY_PARAM_set1_ip_asc(p, host) == 1 ? 0 : -1;
    if (SSL_set_tlsext_host_name(ssl, host) != 1)
        return -1;
    return SSL_set1_host(ssl, host) == 1 ? 0 : -1;
}

static void handshake_failure(SSL *ssl, int e, char *why, size_t n)
{
    long v = SSL_get_verify_result(ssl);
    if (v != X509_V_OK) {
        const char *hint = v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH
                               ? "use the host name the certificate names in the URL"
                               : "check PROFD_REDIS_CA";
        snprintf(why, n, "TLS certificate verification failed: %s (%s)",
                 X509_verify_cert_error_string(v), hint);
        ERR_clear_error();
        return;
    }
    char r[160];
    ssl_reason(r, sizeof r,
               e == SSL_ERROR_SYSCALL ? "connection closed during the handshake" : "unknown error");
    snprintf(why, n,
             "TLS handshake failed: %s (is this a TLS port? does the server require a "
             "client certificate: PROFD_REDIS_CERT/PROFD_REDIS_KEY?)",
             r);
}

SSL *store__tls_connect(SSL_CTX *ctx, int fd, const char *host, int64_t deadline, char *why,
                        size_t why_len)
{
    ERR_clear_error();
    SSL *ssl = SSL_new(ctx);
    if (!ssl || SSL_set_fd(ssl, fd) != 1 || set_peer_name(ssl, host) != 0) {
        snprintf(why, why_len, "TLS setup failed for host %s", host);
        SSL_free(ssl);
        return NULL;
    }
    for (;;) {
        pipe_guard g;
        pipe_block(&g);
        int r = SSL_connect(ssl);
        pipe_unblock(&g);
        if (r == 1)
            return ssl;
        int e = SSL_get_error(ssl, r);
        short ev = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
        if (!ev) {
            handshake_failure(ssl, e, why, why_len);
            SSL_free(ssl);
            return NULL;
        }
        int w = store__conn_wait_fd(fd, ev, deadline);
        if (w <= 0) {
            snprintf(why, why_len, w == 0 ? "TLS handshake timed out" : "TLS handshake: %s",
                     strerror(errno));
            SSL_free(ssl);
            return NULL;
        }
    }
}

/* Map an SSL_read/SSL_write result r (<= 0) to the send()/recv() ones. */
static ssize_t io_result(SSL *ssl, int r, short *want, char *why, size_t why_len)
{
    int e = SSL_get_error(ssl, r);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        *want = POLLIN;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_WANT_WRITE:
        *want = POLLOUT;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        if (errno == 0 || errno == EAGAIN)
            errno = ECONNRESET;
        return -1;
    default:
        ssl_reason(why, why_len, "TLS protocol error");
        errno = EPROTO;
        return -1;
    }
}

ssize_t store__tls_write(SSL *ssl, const char *buf, size_t len, short *want, char *why,
                         size_t why_len)
{
    ERR_clear_error();
    errno = 0;
    pipe_guard g;
    pipe_block(&g);
    int r = SSL_write(ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
    pipe_unblock(&g);
    return r > 0 ? r : io_result(ssl, r, want, why, why_len);
}

ssize_t store__tls_read(SSL *ssl, char *buf, size_t len, short *want, char *why, size_t why_len)
{
    ERR_clear_error();
    errno = 0;
    pipe_guard g; /* a read may answer a TLS KeyUpdate with a write */
    pipe_block(&g);
    int r = SSL_read(ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
    pipe_unblock(&g);
    return r > 0 ? r : io_result(ssl, r, want, why, why_len);
}

int store__tls_idle_ok(SSL *ssl)
{
    char b;
    ERR_clear_error();
    pipe_guard g;
    pipe_block(&g);
    int r = SSL_peek(ssl, &b, 1);
    pipe_unblock(&g);
    int ok = r <= 0 && SSL_get_error(ssl, r) == SSL_ERROR_WANT_READ;
    ERR_clear_error();
    return ok;
}

void store__tls_close(SSL *ssl)
{
    if (!ssl)
        return;
    pipe_guard g;
    pipe_block(&g);
    SSL_shutdown(ssl); /* one non-blocking attempt; the socket closes next */
    pipe_unblock(&g);
    SSL_free(ssl);
    ERR_clear_error();
}
