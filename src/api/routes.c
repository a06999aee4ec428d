/* routes.c - matching a method and path to a route, and parsing list queries.
 *
 * Pure functions over strings, so they are unit-tested and fuzzed without a
 * server. A path that exists with another method yields method_ok = false
 * (405 with Allow); anything else unknown is ROUTE_NONE (404). Path
 * parameters are copied, never validated here: the handler checks the
 * session id is a UUID and the file object name against the blob store's
 * rules, so the error texts live with the code that knows them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profd/api.h"

#define PROFILE "/api/v1/monitoring/profile"
#define FILES "/api/v1/files/"

static void set(profd_route *r, profd_route_id id, bool ok, const char *allow, const char *name)
{
    r->id = id;
    r->method_ok = ok;
    r->allow = allow;
    r->name = name;
}

static bool is_get(const char *m)
{
    return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
}

static void match_simple(const char *method, const char *path, profd_route *r)
{
    static const struct {
        const char *path;
        profd_route_id id;
    } simple[] = {{"/healthz", PROFD_ROUTE_HEALTHZ},
                  {"/readyz", PROFD_ROUTE_READYZ},
                  {"/metrics", PROFD_ROUTE_METRICS}};
    static const struct {
        const char *path;
        profd_route_id id;
    } alerts[] = {{"/api/v1/monitoring/alerts/alertmanager", PROFD_ROUTE_ALERT_ALERTMANAGER},
                  {"/api/v1/monitoring/alerts/gcp", PROFD_ROUTE_ALERT_GCP}};
    for (size_t i = 0; i < sizeof simple / sizeof *simple; i++)
        if (strcmp(path, simple[i].path) == 0)
            set(r, simple[i].id, is_get(method), "GET, HEAD", simple[i].path);
    for (size_t i = 0; i < sizeof alerts / sizeof *alerts; i++)
        if (strcmp(path, alerts[i].path) == 0)
            set(r, alerts[i].id, strcmp(method, "POST") == 0, "POST", alerts[i].path);
}

/* rest is what follows "/api/v1/monitoring/profile/". */
static void match_session(const char *method, const char *rest, profd_route *r)
{
    if (strcmp(rest, "start") == 0) {
        set(r, PROFD_ROUTE_START, strcmp(method, "POST") == 0, "POST", PROFILE "/start");
        return;
    }
    const char *slash = strchr(rest, '/');
    size_t idlen = slash ? (size_t)(slash - rest) : strlen(rest);
    if (idlen == 0 || idlen >= sizeof r->param)
        return;
    memcpy(r->param, rest, idlen);
    r->param[idlen] = '\0';
    if (!slash) {
        bool del = strcmp(method, "DELETE") == 0;
        set(r, del ? PROFD_ROUTE_CANCEL : PROFD_ROUTE_GET, del || is_get(method),
            "GET, HEAD, DELETE", PROFILE "/{id}");
        return;
    }
    if (strcmp(slash, "/flamegraph") == 0)
        set(r, PROFD_ROUTE_FLAMEGRAPH, is_get(method), "GET, HEAD", PROFILE "/{id}/flamegraph");
    else if (strcmp(slash, "/raw") == 0)
        set(r, PROFD_ROUTE_RAW, is_get(method), "GET, HEAD", PROFILE "/{id}/raw");
    else
        r->param[0] = '\0';
}

void profd_route_match(const char *method, const char *path, profd_route *r)
{
    memset(r, 0, sizeof *r);
    r->name = "unmatched";
    if (!method || !path)
        return;
    size_t pl = strlen(PROFILE);
    if (strcmp(path, PROFILE) == 0 || strcmp(path, PROFILE "/") == 0) {
        set(r, PROFD_ROUTE_LIST, is_get(method), "GET, HEAD", PROFILE);
    } else if (strncmp(path, PROFILE "/", pl + 1) == 0) {
        match_session(method, path + pl + 1, r);
    } else if (strncmp(path, FILES, strlen(FILES)) == 0) {
        const char *obj = path + strlen(FILES);
        if (*obj && strlen(obj) < sizeof r->param) {
            profd_strlcpy(r->param, obj, sizeof r->param);
            set(r, PROFD_ROUTE_FILE, is_get(method), "GET, HEAD", FILES "{object}");
        }
    } else {
        match_simple(method, path, r);
    }
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
