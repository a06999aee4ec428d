/* api.h - the REST API (docs/api.md) and the pieces it is built from.
 *
 * The pure parts (JWT verification, routing, query parsing, rate-limit keys,
 * the metrics registry) are separate functions so they can be tested, and
 * fuzzed, without a server. profd_api_start() runs the HTTP front (src/api/front.c) over a store,
 * a bus and a blob store that the caller opened; `profd api` and `profd serve`
 * are thin commands around it. */
#ifndef PROFD_API_H
#define PROFD_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blob.h"
#include "bus.h"
#include "config.h"
#include "metrics.h"
#include "store.h"
#include "util.h"

/* ---- JWT (src/api/jwt.c) ---------------------------------------------- */

#define PROFD_JWT_LEEWAY_S 30 /* clock skew allowed on exp and nbf */
#define PROFD_JWT_MAX_LEN 8192

typedef struct profd_jwt_keys profd_jwt_keys;

typedef struct profd_jwt_settings {
    const char *secret;          /* HS256 shared secret; NULL or "": HS256 refused */
    const char *public_key_path; /* PEM public key or JWKS file; NULL or "": none */
    const char *issuer;          /* required iss; NULL or "": any */
    const char *audience;        /* required aud; NULL or "": any */
    const char *admin_role;      /* role required by authorize */
} profd_jwt_settings;

/* Loads the key material. NULL with err when the key file is unreadable or
 * holds no usable key. */
profd_jwt_keys *profd_jwt_keys_new(const profd_jwt_settings *s, profd_error *err);
void profd_jwt_keys_free(profd_jwt_keys *k);
/* True when neither a secret nor a public key is configured. */
bool profd_jwt_keys_empty(const profd_jwt_keys *k);

typedef enum { PROFD_AUTH_OK = 0, PROFD_AUTH_INVALID = 401, PROFD_AUTH_FORBIDDEN = 403 } profd_auth;

/* Tokens with this role (and not the admin role) may read sessions, their
 * files, diffs and live stacks, but not start or cancel (docs/auth.md). */
#define PROFD_VIEWER_ROLE "viewer"

typedef struct profd_jwt_claims {
    char sub[128];
    bool admin;  /* carries the admin role */
    bool viewer; /* carries PROFD_VIEWER_ROLE */
} profd_jwt_claims;

/* Verify signature, algorithm, exp/nbf (with PROFD_JWT_LEEWAY_S), iss, aud and
 * sub; then the admin role. INVALID or FORBIDDEN come with a reason that never
 * quotes the token. */
profd_auth profd_jwt_verify(profd_jwt_keys *k, const char *token, int64_t now_s,
                            profd_jwt_claims *out, char *reason, size_t reason_len);
/* Verify the value of an Authorization header ("Bearer <jwt>"). */
profd_auth profd_jwt_authorize(profd_jwt_keys *k, const char *header, int64_t now_s,
                               profd_jwt_claims *out, char *reason, size_t reason_len);
/* Mint an HS256 token over a JSON claims object (malloc'd; NULL on error). */
char *profd_jwt_sign_hs256(const char *secret, const char *claims_json);

/* ---- metrics: see metrics.h (src/core/metrics.c) ------------------------ */

/* ---- rate limiting (src/api/ratelimit.c) ------------------------------ */

/* Fixed one-minute windows per subject, counted with store->ops->incr. */
typedef enum {
    PROFD_RATE_ERROR = -1,  /* the store failed (err) */
    PROFD_RATE_LIMITED = 0, /* over the limit: *retry_after_s set */
    PROFD_RATE_ALLOWED = 1,
} profd_rate_result;
PROFD_MUST_USE profd_rate_result profd_ratelimit_check(profd_store *st, const char *subject,
                                                       int per_minute, int64_t now_s,
                                                       int *retry_after_s, profd_error *err);
/* The counter key for a subject and window: "ratelimit:{sha256(sub)[:32]}:{minute}"
 * (the store adds its namespace: profd:count:ratelimit:... in Redis). */
void profd_ratelimit_key(const char *subject, int64_t now_s, char *out, size_t len);

/* ---- routing and queries (src/api/routes.c) --------------------------- */

typedef enum {
    PROFD_ROUTE_NONE = 0, /* 404 */
    PROFD_ROUTE_START,
    PROFD_ROUTE_LIST,
    PROFD_ROUTE_GET,
    PROFD_ROUTE_CANCEL,
    PROFD_ROUTE_FLAMEGRAPH,
    PROFD_ROUTE_RAW,
    PROFD_ROUTE_FILE,
    PROFD_ROUTE_HEALTHZ,
    PROFD_ROUTE_READYZ,
    PROFD_ROUTE_METRICS,
    PROFD_ROUTE_ALERT_ALERTMANAGER, /* POST .../alerts/alertmanager (docs/alerts.md) */
    PROFD_ROUTE_ALERT_GCP,          /* POST .../alerts/gcp */
    PROFD_ROUTE_DIFF,               /* GET .../{id}/diff/{other} (docs/console.md) */
    PROFD_ROUTE_LIVE,               /* GET .../{id}/live: Server-Sent Events */
    PROFD_ROUTE_OPENAPI,            /* GET /api/v1/openapi.json */
    PROFD_ROUTE_SIGNIN,             /* POST /api/v1/console/signin: one-time code */
    PROFD_ROUTE_CONSOLE,            /* GET /: the console page */
    PROFD_ROUTE_CONSOLE_ASSET,      /* GET /console/{asset} */
    PROFD_ROUTE_EXPORT,             /* GET .../{id}/export/{format} */
    PROFD_ROUTE_WHOAMI,             /* GET /api/v1/console/whoami: the token's subject and role */
    PROFD_ROUTE_COUNT
} profd_route_id;

/* Who may call a route. PUBLIC routes carry their own checks, if any (a signed
 * link, the alert token, the one-time code) or none (health, the console page). */
typedef enum {
    PROFD_ACCESS_PUBLIC,
    PROFD_ACCESS_READ,  /* a bearer token with the admin or the viewer role */
    PROFD_ACCESS_ADMIN, /* a bearer token with the admin role */
} profd_access;

/* One row of the route table: a method (HEAD is served wherever the row's
 * allow lists it), a path template ("/x/{id}", a last {object} takes the rest),
 * the route, the Allow header of its template and who may call it. */
typedef struct profd_route_def {
    const char *method;
    const char *path;
    profd_route_id id;
    const char *allow;
    profd_access access;
} profd_route_def;

/* The one list of served routes, ended by a row with path NULL. */
extern const profd_route_def profd_routes[];

typedef struct profd_route {
    profd_route_id id;
    profd_access access; /* of the matched row (method_ok) */
    bool method_ok;      /* false: the path exists but not for this method (405) */
    const char *allow;   /* Allow header for 405 */
    const char *name;    /* route template, the metrics label */
    char param[1024];    /* {session_id} (unvalidated) or the file object name */
    char param2[64];     /* a second path parameter ({other}, {format}), unvalidated */
} profd_route;

/* Match method and path (without the query string). Never fails on any input. */
void profd_route_match(const char *method, const char *path, profd_route *out);

/* List query: service_name, status, limit (1..100, default 50). 0 ok, -1 with
 * a detail sentence for a 422. NULL arguments mean absent. */
int profd_list_query_parse(const char *service, const char *status, const char *limit,
                           profd_list_filter *out, char *detail, size_t detail_len);

/* ---- the server (src/api/http.c) -------------------------------------- */

typedef struct profd_api_opts {
    const profd_config *cfg;
    profd_store *store;
    profd_bus *bus; /* produce role */
    profd_blob *blob;
    const char *link_key; /* HMAC key of file:// links; NULL: /api/v1/files is off */
    bool local;           /* profd serve: requests get host = cfg->host */
    int connection_limit; /* 0: 256 */
    int timeout_s;        /* per-connection idle timeout; 0: 15 */
} profd_api_opts;

typedef struct profd_api profd_api;

/* Load the JWT keys and bind cfg->listen ("host:port"; port 0 picks a free
 * one). NULL with err on failure. */
profd_api *profd_api_start(const profd_api_opts *o, profd_error *err);
int profd_api_port(const profd_api *a);
/* A new one-time console sign-in code (hex, 33 bytes) valid ttl_s seconds,
 * replacing any earlier one; exchanged once at POST /api/v1/console/signin
 * for an admin token. -1 with err without PROFD_JWT_SECRET. */
int profd_api_signin_code(profd_api *a, int ttl_s, char *code, size_t len, profd_error *err);
void profd_api_stop(profd_api *a);

#define PROFD_API_MAX_BODY (64 * 1024)

/* The worker's own endpoint (PROFD_METRICS_LISTEN): GET /metrics and /healthz
 * only, no auth (bind it to a private address). NULL with err on failure. */
typedef struct profd_metrics_server profd_metrics_server;
profd_metrics_server *profd_metrics_server_start(const char *listen, profd_error *err);
void profd_metrics_server_stop(profd_metrics_server *m);

/* ---- file links (src/api/links.c) ------------------------------------- */

/* HMAC key of file:// links (hex): derived from PROFD_JWT_SECRET, else random. */
void profd_api_link_key(const profd_config *cfg, char *out, size_t len);
/* "http://HOST:PORT" for a listen address and the bound port (wildcards -> 127.0.0.1). */
void profd_api_base_url(const char *listen, int port, char *out, size_t len);

#endif
