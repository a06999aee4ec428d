/* target.c - from an alert's labels to what to profile.
 *
 * service: the first label of PROFD_ALERT_SERVICE_LABELS that the alert
 * carries (default "service", then "job"). A present but invalid value is not
 * passed over for the next label: it is a skip (invalid_service), so a label
 * holding "web-api; rm -rf /" never quietly turns into another service.
 *
 * host: the label `profd_host`, else `host`. Deliberately not `instance`:
 * Prometheus sets it to the scrape address (an IP and port, a pod IP), which
 * is almost never a worker's PROFD_HOST; a request naming a host that no
 * worker has fails as unroutable, while a request without a host runs on any
 * worker that can resolve the service from PROFD_TARGETS. Operators who want
 * per-host captures add `profd_host` to their alert rules (docs/alerts.md).
 *
 * pid: the label `profd_pid`, else `pid`, used only together with a host (a
 * pid means nothing on an unknown host); without a host it is ignored.
 * A host or pid that is present but malformed skips the alert
 * (invalid_target) rather than widening it to "any process of the service". */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profd/alert.h"

/* A value holding a NUL (json-c keeps "\u0000" inside strings) never
 * reaches a C string comparison cut short: it reads as this value, which no
 * service, host or pid rule accepts. The HTTP and bus paths reject such
 * payloads earlier (profd_json_check); this is the guard of the pure API. */
static const char nul_value[] = "\x7f(a value holding a NUL)";

static bool holds_nul(json_object *v)
{
    return strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v);
}

static const char *label(json_object *labels, const char *key)
{
    json_object *v;
    if (!labels || !json_object_object_get_ex(labels, key, &v) || !v ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return holds_nul(v) ? nul_value : json_object_get_string(v);
}

static const char *first_label(json_object *labels, const char *a, const char *b)
{
    const char *v = label(labels, a);
    return v ? v : label(labels, b);
}

/* The first present label of a comma-separated list; its name in name. */
static const char *service_label(json_object *labels, const char *list, char *name, size_t len)
{
    const char *p = list ? list : "";
    while (*p) {
        while (*p == ',' || *p == ' ')
            p++;
        size_t n = strcspn(p, ", ");
        if (n > 0 && n < len) {
            memcpy(name, p, n);
            name[n] = '\0';
            const char *v = label(labels, name);
            if (v)
                return v;
        }
        p += n;
    }
    return NULL;
}

static int parse_pid(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!isdigit((unsigned char)s[0]) || *end || errno || v < 1 || v > 4194304)
        return -1;
    *out = v;
    return 0;
}

static int fail(const char **reason, const char *r, char *detail, size_t len, const char *fmt,
                const char *a, const char *b)
{
    *reason = r;
    snprintf(detail, len, fmt, a, b);
    return -1;
}

int profd_alert_target_of(json_object *labels, const char *service_labels, profd_alert_target *t,
                          const char **reason, char *detail, size_t dl)
{
    memset(t, 0, sizeof *t);
    char name[128] = "";
    const char *svc = service_label(labels, service_labels, name, sizeof name);
    if (!svc)
        return fail(reason, PROFD_ALERT_NO_SERVICE, detail, dl,
                    "no label among %s%s names the service (PROFD_ALERT_SERVICE_LABELS)",
                    service_labels ? service_labels : "", "");
    if (!profd_service_name_valid(svc))
        return fail(reason, PROFD_ALERT_BAD_SERVICE, detail, dl,
                    "label %s must match ^[a-z0-9][a-z0-9._-]{0,62}$%s", name, "");
    profd_strlcpy(t->service, svc, sizeof t->service);
    const char *host = first_label(labels, "profd_host", "host");
    if (host && !profd_host_name_valid(host))
        return fail(reason, PROFD_ALERT_BAD_TARGET, detail, dl,
                    "label %s must be a host name (letters, digits, . _ -)%s",
                    label(labels, "profd_host") ? "profd_host" : "host", "");
    if (!host)
        return 0;
    profd_strlcpy(t->host, host, sizeof t->host);
    const char *pid = first_label(labels, "profd_pid", "pid");
    if (pid && parse_pid(pid, &t->pid) < 0)
        return fail(reason, PROFD_ALERT_BAD_TARGET, detail, dl,
                    "label %s must be a process id (a positive integer)%s",
                    label(labels, "profd_pid") ? "profd_pid" : "pid", "");
    return 0;
}

/* ---- labels for the session ---------------------------------------------- */

/* At most 256 characters (UTF-8 sequences kept whole), controls as spaces. */
static json_object *bounded_value(const char *s)
{
    size_t len = strlen(s), chars = 0, i = 0;
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    while (s[i]) {
        unsigned char c = (unsigned char)s[i];
        if ((c & 0xC0) != 0x80 && chars++ == 256)
            break;
        out[i] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
        i++;
    }
    out[i] = '\0';
    json_object *v = json_object_new_string(out);
    free(out);
    return v;
}

json_object *profd_alert_bounded_labels(json_object *labels)
{
    json_object *out = json_object_new_object();
    if (!labels || !json_object_is_type(labels, json_type_object))
        return out;
    int n = 0;
    json_object_object_foreach(labels, k, v)
    {
        if (n >= PROFD_ALERT_MAX_LABELS)
            break;
        if (!v || !json_object_is_type(v, json_type_string) || !profd_label_key_valid(k) ||
            holds_nul(v))
            continue;
        json_object *b = bounded_value(json_object_get_string(v));
        if (b) {
            json_object_object_add(out, k, b);
            n++;
        }
    }
    return out;
}
