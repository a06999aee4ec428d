/* parse.c - webhook bodies to a flat list of alerts.
 *
 * Two shapes come in:
 *  - Alertmanager webhook version 4: {"version":"4","status","groupKey",
 *    "commonLabels","alerts":[{"status","labels","annotations","startsAt",
 *    "fingerprint"}]}. An alert's labels are commonLabels overlaid with its
 *    own (Alertmanager already copies common labels into every alert; the
 *    overlay only matters for hand-written payloads). A missing per-alert
 *    status falls back to the group's.
 *  - Cloud Monitoring incident notifications (schema 1.2):
 *    {"version":"1.2","incident":{"incident_id","state":"open"|"closed",
 *    "policy_name","condition_name","resource":{"labels"},"metric":{"labels"},
 *    "metadata":{"system_labels","user_labels"},"policy_user_labels"}}.
 *    One incident is one alert. Its labels are those five maps merged, the
 *    more specific later ones winning: policy user labels, system labels,
 *    resource user labels, monitored-resource labels, metric labels; then
 *    alertname (the policy name) and incident_id when not already set.
 * Only string label values are kept: both sources send strings, and a number
 * would be a hand-made payload whose meaning we would have to guess.
 * The payload is already bounded (64 KiB on HTTP and on the bus), and at most
 * PROFD_ALERT_MAX_ALERTS alerts are read. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "profd/alert.h"

static json_object *member(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
        return NULL;
    return v;
}

static const char *string_member(json_object *o, const char *key)
{
    json_object *v = member(o, key);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* Copy the string members of src into dst (overwriting). */
static void overlay(json_object *dst, json_object *src)
{
    if (!src || !json_object_is_type(src, json_type_object))
        return;
    json_object_object_foreach(src, k, v)
    {
        if (v && json_object_is_type(v, json_type_string))
            json_object_object_add(dst, k, json_object_get(v));
    }
}

static void set_if_absent(json_object *labels, const char *key, const char *value)
{
    if (value && *value && !member(labels, key))
        json_object_object_add(labels, key, json_object_new_string(value));
}

static int grow(profd_alert_list *l, int cap)
{
    profd_alert *v = calloc((size_t)cap, sizeof *v);
    if (!v)
        return -1;
    l->v = v;
    return 0;
}

/* ---- Alertmanager -------------------------------------------------------- */

static void am_alert(json_object *a, json_object *common, const char *group_status,
                     profd_alert *out)
{
    const char *status = string_member(a, "status");
    if (!status)
        status = group_status;
    out->labels = json_object_new_object();
    overlay(out->labels, common);
    overlay(out->labels, member(a, "labels"));
    out->firing = status && strcmp(status, "firing") == 0;
    out->state = !status                           ? "unknown"
                 : strcmp(status, "firing") == 0   ? "firing"
                 : strcmp(status, "resolved") == 0 ? "resolved"
                                                   : "other";
    const char *name = string_member(out->labels, "alertname");
    profd_strlcpy(out->name, name ? name : "", sizeof out->name);
}

static int parse_alertmanager(json_object *p, profd_alert_list *out, profd_error *err)
{
    json_object *version = member(p, "version");
    if (version && (!json_object_is_type(version, json_type_string) ||
                    strcmp(json_object_get_string(version), "4") != 0)) {
        profd_error_set(err, PROFD_E_INVALID,
                        "version: this endpoint takes Alertmanager webhook version \"4\"");
        return -1;
    }
    json_object *alerts = member(p, "alerts");
    if (!alerts || !json_object_is_type(alerts, json_type_array)) {
        profd_error_set(err, PROFD_E_INVALID,
                        "alerts: must be an array (an Alertmanager webhook body)");
        return -1;
    }
    int n = (int)json_object_array_length(alerts);
    int keep = n < PROFD_ALERT_MAX_ALERTS ? n : PROFD_ALERT_MAX_ALERTS;
    if (keep > 0 && grow(out, keep) < 0) {
        profd_error_set(err, NULL, "out of memory");
        return -1;
    }
    json_object *common = member(p, "commonLabels");
    const char *group_status = string_member(p, "status");
    for (int i = 0; i < keep; i++) {
        json_object *a = json_object_array_get_idx(alerts, (size_t)i);
        if (!a || !json_object_is_type(a, json_type_object)) {
            out->v[out->n].state = "malformed";
            out->n++;
            continue;
        }
        am_alert(a, common, group_status, &out->v[out->n++]);
    }
    out->extra = n - keep;
    return 0;
}

/* ---- Cloud Monitoring ---------------------------------------------------- */

static json_object *labels_of(json_object *o)
{
    return member(o, "labels");
}

static int parse_gcp(json_object *p, profd_alert_list *out, profd_error *err)
{
    json_object *inc = member(p, "incident");
    if (!inc || !json_object_is_type(inc, json_type_object)) {
        profd_error_set(err, PROFD_E_INVALID,
                        "incident: must be an object (a Cloud Monitoring notification)");
        return -1;
    }
    const char *state = string_member(inc, "state");
    if (!state) {
        profd_error_set(err, PROFD_E_INVALID, "incident.state: must be a string (open or closed)");
        return -1;
    }
    if (grow(out, 1) < 0) {
        profd_error_set(err, NULL, "out of memory");
        return -1;
    }
    profd_alert *a = &out->v[0];
    out->n = 1;
    a->labels = json_object_new_object();
    json_object *meta = member(inc, "metadata");
    overlay(a->labels, member(inc, "policy_user_labels"));
    overlay(a->labels, member(meta, "system_labels"));
    overlay(a->labels, member(meta, "user_labels"));
    overlay(a->labels, labels_of(member(inc, "resource")));
    overlay(a->labels, labels_of(member(inc, "metric")));
    set_if_absent(a->labels, "alertname", string_member(inc, "policy_name"));
    set_if_absent(a->labels, "incident_id", string_member(inc, "incident_id"));
    a->firing = strcasecmp(state, "open") == 0;
    a->state = a->firing ? "open" : strcasecmp(state, "closed") == 0 ? "closed" : "other";
    const char *name = string_member(inc, "policy_name");
    profd_strlcpy(a->name, name ? name : "", sizeof a->name);
    return 0;
}

int profd_alert_parse(const char *source, json_object *payload, profd_alert_list *out,
                      profd_error *err)
{
    memset(out, 0, sizeof *out);
    profd_error_clear(err);
    if (!payload || !json_object_is_type(payload, json_type_object)) {
        profd_error_set(err, PROFD_E_INVALID, "payload: must be a JSON object");
        return -1;
    }
    int rc;
    if (source && strcmp(source, "alertmanager") == 0) {
        rc = parse_alertmanager(payload, out, err);
    } else if (source && strcmp(source, "gcp") == 0) {
        rc = parse_gcp(payload, out, err);
    } else {
        profd_error_set(err, PROFD_E_INVALID, "source: must be alertmanager or gcp");
        rc = -1;
    }
    if (rc < 0)
        profd_alert_list_free(out);
    return rc;
}

void profd_alert_list_free(profd_alert_list *l)
{
    for (int i = 0; l->v && i < l->n; i++)
        json_object_put(l->v[i].labels);
    free(l->v);
    memset(l, 0, sizeof *l);
}
