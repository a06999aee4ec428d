/* routes.c - matching a method and path to a route, and parsing list queries.
 *
 * The routes are one table (profd_routes): a path template, a method, a
 * route id and who may call it per row. It is the one list of what the server serves: dispatch
 * (http.c) maps ids to handlers, the OpenAPI test (tests/api) checks that
 * every row is documented in src/api/openapi.json and every documented
 * operation is a row. Templates are literal segments and {name} segments (one
 * non-empty segment each); a final {object} takes the rest of the path, slashes
 * included. The first template that matches the path wins, so literal rows
 * ("…/start") come before parameter rows ("…/{id}"); the method then picks the
 * row among that template's, HEAD standing for GET. A path that exists with
 * another method yields method_ok = false (405 with Allow); anything else is
 * ROUTE_NONE (404). Path parameters are copied, never validated here: the
 * handler checks the session id is a UUID and the file object name against
 * the blob store's rules, so the error texts live with the code that knows
 * them. Pure functions over strings, so they are unit-tested and fuzzed
 * without a server. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profd/api.h"

#define PROFILE "/api/v1/monitoring/profile"

const profd_route_def profd_routes[] = {
    {"POST", PROFILE "/start", PROFD_ROUTE_START, "POST", PROFD_ACCESS_ADMIN},
    {"GET", PROFILE, PROFD_ROUTE_LIST, "GET, HEAD", PROFD_ACCESS_READ},
    {"GET", PROFILE "/{id}", PROFD_ROUTE_GET, "GET, HEAD, DELETE", PROFD_ACCESS_READ},
    {"DELETE", PROFILE "/{id}", PROFD_ROUTE_CANCEL, "GET, HEAD, DELETE", PROFD_ACCESS_ADMIN},
    {"GET", PROFILE "/{id}/flamegraph", PROFD_ROUTE_FLAMEGRAPH, "GET, HEAD", PROFD_ACCESS_READ},
    {"GET", PROFILE "/{id}/raw", PROFD_ROUTE_RAW, "GET, HEAD", PROFD_ACCESS_READ},
    {"GET", PROFILE "/{id}/diff/{other}", PROFD_ROUTE_DIFF, "GET, HEAD", PROFD_ACCESS_READ},
    {"GET", PROFILE "/{id}/live", PROFD_ROUTE_LIVE, "GET, HEAD", PROFD_ACCESS_READ},
    {"GET", PROFILE "/{id}/export/{format}", PROFD_ROUTE_EXPORT, "GET, HEAD", PROFD_ACCESS_READ},
    {"GET", "/api/v1/files/{object}", PROFD_ROUTE_FILE, "GET, HEAD", PROFD_ACCESS_PUBLIC},
    {"POST", "/api/v1/monitoring/alerts/alertmanager", PROFD_ROUTE_ALERT_ALERTMANAGER, "POST",
     PROFD_ACCESS_PUBLIC},
    {"POST", "/api/v1/monitoring/alerts/gcp", PROFD_ROUTE_ALERT_GCP, "POST", PROFD_ACCESS_PUBLIC},
    {"GET", "/api/v1/openapi.json", PROFD_ROUTE_OPENAPI, "GET, HEAD", PROFD_ACCESS_PUBLIC},
    {"POST", "/api/v1/console/signin", PROFD_ROUTE_SIGNIN, "POST", PROFD_ACCESS_PUBLIC},
    {"GET", "/api/v1/console/whoami", PROFD_ROUTE_WHOAMI, "GET, HEAD", PROFD_ACCESS_READ},
    {"GET", "/healthz", PROFD_ROUTE_HEALTHZ, "GET, HEAD", PROFD_ACCESS_PUBLIC},
    {"GET", "/readyz", PROFD_ROUTE_READYZ, "GET, HEAD", PROFD_ACCESS_PUBLIC},
    {"GET", "/metrics", PROFD_ROUTE_METRICS, "GET, HEAD", PROFD_ACCESS_PUBLIC},
    {"GET", "/", PROFD_ROUTE_CONSOLE, "GET, HEAD", PROFD_ACCESS_PUBLIC},
    {"GET", "/console/{asset}", PROFD_ROUTE_CONSOLE_ASSET, "GET, HEAD", PROFD_ACCESS_PUBLIC},
    {NULL, NULL, PROFD_ROUTE_NONE, NULL, PROFD_ACCESS_PUBLIC},
};

/* Match path against a template; params are copied into p1 and p2. */
static bool match_template(const char *t, const char *path, char *p1, size_t l1, char *p2,
                           size_t l2)
{
    int nparam = 0;
    while (*t) {
        if (*t != '{') {
            if (*t++ != *path++)
                return false;
            continue;
        }
        const char *close = strchr(t, '}');
        if (!close)
            return false;
        bool rest = strncmp(t, "{object}", 8) == 0 && close[1] == '\0';
        size_t n = rest ? strlen(path) : strcspn(path, "/");
        char *dst = nparam == 0 ? p1 : p2;
        size_t cap = nparam == 0 ? l1 : l2;
        if (n == 0 || n >= cap)
            return false;
        memcpy(dst, path, n);
        dst[n] = '\0';
        nparam++;
        path += n;
        t = close + 1;
    }
    return *path == '\0';
}

void profd_route_match(const char *method, const char *path, profd_route *r)
{
    memset(r, 0, sizeof *r);
    r->name = "unmatched";
    if (!method || !path)
        return;
    if (strcmp(path, PROFILE "/") == 0)
        path = PROFILE;
    const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;
    const char *tmpl = NULL;
    for (const profd_route_def *d = profd_routes; d->path; d++) {
        if (tmpl && strcmp(d->path, tmpl) != 0)
            continue;
        if (!tmpl) {
            r->param[0] = r->param2[0] = '\0';
            if (!match_template(d->path, path, r->param, sizeof r->param, r->param2,
                                sizeof r->param2))
                continue;
            tmpl = d->path;
            r->id = d->id; /* this template's first row, for the 405 */
            r->allow = d->allow;
            r->name = d->path;
        }
        if (strcmp(d->method, m) == 0 &&
            (strcmp(method, "HEAD") != 0 || strstr(d->allow, "HEAD"))) {
            r->id = d->id;
            r->access = d->access;
            r->method_ok = true;
            return;
        }
    }
    if (!tmpl)
        r->param[0] = r->param2[0] = '\0';
}

static int parse_limit(const char *s, int *out)
{
    if (!s) {
        *out = 50;
        return 0;
    }
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*s < '0' || *s > '9' || *end || errno || v < 1 || v > 100)
        return -1;
    *out = (int)v;
    return 0;
}

int profd_list_query_parse(const char *service, const char *status, const char *limit,
                           profd_list_filter *out, char *detail, size_t dl)
{
    out->service = NULL;
    out->status = -1;
    out->limit = 50;
    if (parse_limit(limit, &out->limit) < 0) {
        snprintf(detail, dl, "limit must be an integer between 1 and 100");
        return -1;
    }
    if (service && *service) {
        if (!profd_service_name_valid(service)) {
            snprintf(detail, dl, "service_name must match ^[a-z0-9][a-z0-9._-]{0,62}$");
            return -1;
        }
        out->service = service;
    }
    if (status && *status) {
        profd_status st;
        if (profd_status_parse(status, &st) < 0) {
            snprintf(detail, dl, "status must be one of queued, running, completed, failed");
            return -1;
        }
        out->status = (int)st;
    }
    return 0;
}
