/* tls.h - the OpenSSL client side of rediss:// for conn.c (internal). */
#ifndef PROFD_STORE_TLS_H
#define PROFD_STORE_TLS_H

#include <openssl/ssl.h>
#include <stdint.h>
#include <sys/types.h>

#include "conn.h"

/* A client context that verifies the server against t->ca (or the system
 * store) and presents t->cert/t->key if given. NULL with a one-line error. */
SSL_CTX *store__tls_ctx_new(const profd_redis_tls *t, profd_error *err);

/* TLS handshake on the connected non-blocking socket fd, checking that the
 * certificate names host (a DNS name or an IP address), by deadline (ms on
 * the monotonic clock). The SSL or NULL with the reason in why[]. */
SSL *store__tls_connect(SSL_CTX *ctx, int fd, const char *host, int64_t deadline, char *why,
                        size_t why_len);

/* SSL_write / SSL_read with send()/recv() conventions: > 0 bytes, 0 closed
 * (read only), -1 with errno. On EAGAIN *want says what to poll for
 * (POLLIN or POLLOUT); on EPROTO why[] holds OpenSSL's reason. */
ssize_t store__tls_write(SSL *ssl, const char *buf, size_t len, short *want, char *why,
                         size_t why_len);
ssize_t store__tls_read(SSL *ssl, char *buf, size_t len, short *want, char *why, size_t why_len);

/* On an idle connection whose socket polled readable: 1 if that was only TLS
 * housekeeping (TLS 1.3 session tickets), 0 if the server closed or sent
 * anything else. */
int store__tls_idle_ok(SSL *ssl);

/* Close quietly (one non-blocking close_notify) and free. */
void store__tls_close(SSL *ssl);

#endif
