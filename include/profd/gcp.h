/* gcp.h - one client for Google's APIs (Cloud Storage, Pub/Sub, IAM): the
 * credentials, the HTTP exchange and the one retry rule.
 *
 * A profd_gcp holds where credentials come from and the connections it
 * keeps open; it is thread-safe and shared by every request of its owner
 * (the GCS store, the Pub/Sub bus, `profd storage sign`). Credentials, in
 * order:
 *   no_auth (an emulator)          no token; signing still works with a key file
 *   a service-account key file     JWT (RS256) exchanged at the key's token_uri
 *   the metadata server            GCE / GKE Workload Identity
 * Tokens are cached until 60 s before they expire. Tokens and keys are never
 * logged nor put into error messages.
 *
 * Every authenticated request goes through profd_gcp_call(), which applies
 * one rule (profd_gcp_next(), Google's retry strategy as
 * ../shared/testdata/gcs/retry_tests.json encodes it) and one backoff
 * (profd_gcp_backoff_*). docs/storage.md "Retries" describes both. */
#ifndef PROFD_GCP_H
#define PROFD_GCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util.h"

typedef struct profd_gcp profd_gcp;

typedef struct profd_gcp_opts {
    const char *key_file;      /* GOOGLE_APPLICATION_CREDENTIALS; NULL/"": the metadata server */
    const char *metadata_host; /* GCE_METADATA_HOST; NULL/"": metadata.google.internal */
    const char *iam_endpoint;  /* NULL/"": https://iamcredentials.googleapis.com */
    bool no_auth;              /* emulator: requests carry no Authorization header */
    /* Keep connections open between exchanges. libcurl resends a request once,
     * unseen by the retry rule, when a kept connection turns out dead; set it
     * only when every request is safe to repeat that way (Pub/Sub, which is
     * at-least-once). DNS and TLS sessions are shared either way. */
    bool keep_alive;
} profd_gcp_opts;

/* NULL with err when the key file is unreadable or not a service-account key. */
profd_gcp *profd_gcp_new(const profd_gcp_opts *o, profd_error *err);
void profd_gcp_free(profd_gcp *g);

/* ---- credentials ---- */

/* The service account's e-mail (key file, else the metadata server). 0 or -1 with err. */
int profd_gcp_email(profd_gcp *g, char *out, size_t outlen, profd_error *err);
/* RSA-SHA256 signature of data: with the key file's private key, else the IAM
 * Credentials signBlob API. *sig is malloc'ed. 0 or -1 with err. */
int profd_gcp_sign(profd_gcp *g, const void *data, size_t len, unsigned char **sig, size_t *siglen,
                   profd_error *err);
/* True when signing uses a local private key (no network). */
bool profd_gcp_has_key(const profd_gcp *g);

/* ---- one HTTP exchange ---- */

#define PROFD_GCP_MAX_HEADERS 16

typedef struct profd_gcp_req {
    const char *method; /* GET, POST, PUT, DELETE */
    const char *url;
    const char *headers[PROFD_GCP_MAX_HEADERS]; /* "Name: value" */
    int nheaders;
    const void *body; /* NULL: no body */
    size_t body_len;
    FILE *out;        /* 2xx response bodies go here when set, else to memory */
    long timeout_ms;  /* whole exchange; 0: none (profd_gcp_call sets it) */
    const char *what; /* "upload of NAME": retries are logged as a warning; NULL: not logged */
} profd_gcp_req;

typedef struct profd_gcp_resp {
    long status; /* 0: no HTTP response (connection failed, reset, timeout, cut short) */
    char *body;  /* NUL-terminated, never NULL after an exchange; error bodies land here */
    size_t body_len;
    int64_t written;      /* bytes written to req->out */
    int attempts;         /* exchanges profd_gcp_call made */
    char range[64];       /* Range: of a 308 */
    char retry_after[32]; /* Retry-After: */
    char location[2048];  /* Location: of a resumable session */
    char goog_hash[160];  /* x-goog-hash: values, comma-joined (crc32c=…,md5=…) */
    char error[256];      /* libcurl's reason when status is 0 */
} profd_gcp_resp;

/* Appends h (not copied) unless PROFD_GCP_MAX_HEADERS are there. */
void profd_gcp_add_header(profd_gcp_req *r, const char *h);
/* One exchange, as is: no Authorization header, no retry. g may be NULL (no
 * shared connections). 0 when an HTTP response arrived (any status), -1 when
 * none did (resp->error says why). Free resp either way. */
int profd_gcp_http(profd_gcp *g, const profd_gcp_req *r, profd_gcp_resp *resp);
void profd_gcp_resp_free(profd_gcp_resp *resp);
/* The short reason of a Google error body: error.message of the JSON, else
 * the body's first line; at most 160 characters; "" when empty. */
void profd_gcp_reason(const profd_gcp_resp *resp, char *out, size_t outlen);

/* ---- the retry rule ---- */

/* 408, 429, 5xx, and 0 (no response: refused, reset, timeout, cut short). */
bool profd_gcp_retryable(long status);

typedef enum profd_gcp_step {
    PROFD_GCP_DONE,    /* a final answer: hand it to the caller */
    PROFD_GCP_REAUTH,  /* a 401 to a bearer token: drop the token, try again at once */
    PROFD_GCP_BACKOFF, /* transient and safe to repeat: wait the backoff, try again */
} profd_gcp_step;

/* What to do after an answer with this status. idempotent: a repeat is
 * harmless (a read, a write with a precondition, a Pub/Sub call); sent_token:
 * the request carried a bearer token; reauthed: this call re-authenticated
 * already. A 401 is re-authenticated once, and only when a token was sent (an
 * emulator's 401 is final, as in the matrix); transient statuses are retried
 * only when idempotent; everything else is DONE. */
profd_gcp_step profd_gcp_next(long status, bool idempotent, bool sent_token, bool reauthed);

typedef struct profd_gcp_policy {
    int max_attempts; /* exchanges in all, >= 1 (a re-authentication is not limited by it) */
    int deadline_ms;  /* no attempt starts and no wait ends past this, from the start */
    int base_ms;      /* first backoff ceiling; doubles per attempt up to 32 s */
    int timeout_ms;   /* one exchange; 0: whatever is left of the deadline */
} profd_gcp_policy;

#define PROFD_GCP_MAX_BACKOFF_MS 32000

typedef struct profd_gcp_backoff {
    profd_gcp_policy p;
    int64_t deadline_ms; /* monotonic */
    int attempt;         /* attempts made so far */
} profd_gcp_backoff;

void profd_gcp_backoff_start(profd_gcp_backoff *b, const profd_gcp_policy *p);
/* The timeout for the next exchange: the policy's, cut to what is left of
 * the deadline, at least 1 s. */
long profd_gcp_backoff_timeout(const profd_gcp_backoff *b);
/* After a failed attempt: sleep uniform in [0, min(32 s, base * 2^(attempt-1))]
 * ("full jitter"), at least Retry-After when the server sent one, and return
 * true; false (no sleep) when the attempts are used up or the wait would end
 * past the deadline. */
bool profd_gcp_backoff_wait(profd_gcp_backoff *b, const char *retry_after);

/* ---- the one call ---- */

typedef enum profd_gcp_result {
    PROFD_GCP_OK,        /* a final answer is in resp (any status: the caller judges it) */
    PROFD_GCP_TRANSIENT, /* the answer in resp is transient; profd_gcp_call: no retry was left */
    PROFD_GCP_NO_TOKEN,  /* no access token (err says why); no request made, resp empty */
} profd_gcp_result;

/* Send req by profd_gcp_next() and the policy's backoff, with a fresh
 * Authorization header on every attempt; req's headers are as given again
 * when it returns, and resp->attempts counts the exchanges. Free resp after
 * OK and TRANSIENT. */
profd_gcp_result profd_gcp_call(profd_gcp *g, profd_gcp_req *req, bool idempotent,
                                const profd_gcp_policy *p, profd_gcp_resp *resp, profd_error *err);
/* One attempt of profd_gcp_call (a 401 re-authentication included), for
 * callers that change the request between attempts: a resumable upload
 * asking where to resume, a download resuming with Range. b counts the
 * attempt and bounds its timeout; on TRANSIENT the caller may
 * profd_gcp_backoff_wait(b, resp->retry_after) and try again. */
profd_gcp_result profd_gcp_send(profd_gcp *g, profd_gcp_req *req, profd_gcp_backoff *b,
                                profd_gcp_resp *resp, profd_error *err);

#endif
