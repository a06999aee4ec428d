/* targets.c - loading PROFD_TARGETS, the allowlist of services.
 *
 *   {"web-api": {"pidfile": "/run/web-api.pid"},
 *    "jobs":    {"cmdline": "celery .*worker"},
 *    "demo":    {"pid": 4242}}
 *
 * Each service names exactly one way to find its process. The file is checked
 * completely at load time (names, types, regexes compiled), so a worker with a
 * bad table refuses to start with one line naming the file, the service and
 * the problem, instead of failing on the first request that needs it. Unknown
 * keys are errors too: a typo ("pidfle") must not silently allow nothing. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MAX_TARGETS_FILE (1024 * 1024)

static int entry_error(profd_error *err, const char *path, const char *svc, const char *msg)
{
    profd_error_set(err, PROFD_E_INVALID, "PROFD_TARGETS %s: service '%.64s': %s", path, svc, msg);
    return -1;
}

static int parse_pid(json_object *v, target_entry *e, const char *path, profd_error *err)
{
    if (!json_object_is_type(v, json_type_int))
        return entry_error(err, path, e->service, "\"pid\" must be an integer >= 1");
    int64_t pid = json_object_get_int64(v);
    if (pid < 1 || pid > 4194304)
        return entry_error(err, path, e->service, "\"pid\" must be an integer >= 1");
    e->kind = BY_PID;
    e->pid = (long)pid;
    return 0;
}

static int parse_pidfile(json_object *v, target_entry *e, const char *path, profd_error *err)
{
    const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
    if (!s || s[0] != '/' || strlen(s) >= 1024)
        return entry_error(err, path, e->service, "\"pidfile\" must be an absolute path");
    e->kind = BY_PIDFILE;
    e->text = strdup(s);
    return e->text ? 0 : entry_error(err, path, e->service, "out of memory");
}

static int parse_cmdline(json_object *v, target_entry *e, const char *path, profd_error *err)
{
    const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
    if (!s || !*s || strlen(s) >= 1024)
        return entry_error(err, path, e->service,
                           "\"cmdline\" must be a non-empty regular expression");
    int rc = regcomp(&e->re, s, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char why[200], msg[300];
        regerror(rc, &e->re, why, sizeof why);
        snprintf(msg, sizeof msg, "\"cmdline\" is not a valid regular expression: %s", why);
        return entry_error(err, path, e->service, msg);
    }
    e->kind = BY_CMDLINE;
    e->text = strdup(s);
    if (!e->text) {
        regfree(&e->re);
        return entry_error(err, path, e->service, "out of memory");
    }
    return 0;
}

static int parse_entry(const char *svc, json_object *spec, target_entry *e, const char *path,
                       profd_error *err)
{
    profd_strlcpy(e->service, svc, sizeof e->service);
    if (!profd_service_name_valid(svc))
        return entry_error(err, path, svc,
                           "not a valid service name (^[a-z0-9][a-z0-9._-]{0,62}$)");
    if (!json_object_is_type(spec, json_type_object) || json_object_object_length(spec) != 1)
        return entry_error(err, path, svc,
                           "must be an object with exactly one of \"pid\", \"pidfile\", "
                           "\"cmdline\"");
    json_object_object_foreach(spec, key, val)
    {
        if (strcmp(key, "pid") == 0)
            return parse_pid(val, e, path, err);
        if (strcmp(key, "pidfile") == 0)
            return parse_pidfile(val, e, path, err);
        if (strcmp(key, "cmdline") == 0)
            return parse_cmdline(val, e, path, err);
        char msg[160];
        snprintf(msg, sizeof msg, "unknown key \"%.64s\" (use pid, pidfile or cmdline)", key);
        return entry_error(err, path, svc, msg);
    }
    return -1;
}

static json_object *read_json(const char *path, profd_error *err)
{
    size_t len;
    char *text = profd_read_file(path, MAX_TARGETS_FILE, &len);
    if (!text) {
        profd_error_set(err, PROFD_E_INVALID, "PROFD_TARGETS %s: cannot read: %s", path,
                        strerror(errno ? errno : EIO));
        return NULL;
    }
    json_tokener *tok = json_tokener_new();
    json_object *root = tok ? json_tokener_parse_ex(tok, text, (int)len) : NULL;
    enum json_tokener_error jerr = tok ? json_tokener_get_error(tok) : json_tokener_error_parse_eof;
    if (root && tok->char_offset < (int)len) {
        /* trailing text after the object: only whitespace allowed */
        for (size_t i = (size_t)tok->char_offset; i < len; i++)
            if (text[i] != ' ' && text[i] != '\n' && text[i] != '\t' && text[i] != '\r') {
                json_object_put(root);
                root = NULL;
                jerr = json_tokener_error_parse_unexpected;
                break;
            }
    }
    if (!root)
        profd_error_set(err, PROFD_E_INVALID, "PROFD_TARGETS %s: invalid JSON: %s", path,
                        jerr == json_tokener_continue ? "unexpected end of file"
                                                      : json_tokener_error_desc(jerr));
    if (tok)
        json_tokener_free(tok);
    free(text);
    return root;
}

profd_targets *profd_targets_load(const char *path, profd_error *err)
{
    profd_targets *t = calloc(1, sizeof *t);
    if (!t) {
        profd_error_set(err, NULL, "out of memory");
        return NULL;
    }
    if (!path || !*path)
        return t;
    profd_strlcpy(t->path, path, sizeof t->path);
    json_object *root = read_json(path, err);
    if (!root) {
        free(t);
        return NULL;
    }
    if (!json_object_is_type(root, json_type_object)) {
        profd_error_set(err, PROFD_E_INVALID,
                        "PROFD_TARGETS %s: must be a JSON object mapping service names to "
                        "{\"pid\"|\"pidfile\"|\"cmdline\": ...}",
                        path);
        json_object_put(root);
        free(t);
        return NULL;
    }
    size_t n = (size_t)json_object_object_length(root);
    t->entries = calloc(n ? n : 1, sizeof *t->entries);
    int rc = t->entries ? 0 : -1;
    json_object_object_foreach(root, svc, spec)
    {
        if (rc != 0)
            break;
        rc = parse_entry(svc, spec, &t->entries[t->n], path, err);
        if (rc == 0)
            t->n++;
        else
            free(t->entries[t->n].text);
    }
    json_object_put(root);
    if (rc != 0) {
        profd_targets_free(t);
        return NULL;
    }
    return t;
}

void profd_targets_free(profd_targets *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++) {
        if (t->entries[i].kind == BY_CMDLINE)
            regfree(&t->entries[i].re);
        free(t->entries[i].text);
    }
    free(t->entries);
    free(t);
}

bool profd_targets_configured(const profd_targets *t)
{
    return t && t->path[0];
}

const target_entry *target__targets_find(const profd_targets *t, const char *service)
{
    if (!t || !service)
        return NULL;
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->entries[i].service, service) == 0)
            return &t->entries[i];
    return NULL;
}

bool profd_targets_has(const profd_targets *t, const char *service)
{
    return target__targets_find(t, service) != NULL;
}

size_t profd_targets_services(const profd_targets *t, const char **names, size_t max)
{
    size_t n = t ? t->n : 0;
    for (size_t i = 0; i < n && i < max; i++)
        names[i] = t->entries[i].service;
    return n;
}
