/* h_alert.c - POST /api/v1/monitoring/alerts/alertmanager and .../gcp.
 *
 * Webhook receivers for Alertmanager (payload version 4) and Cloud
 * Monitoring incident notifications. They take no JWT: senders cannot mint
 * one. They take PROFD_ALERT_TOKEN instead, as a bearer token, as the
 * basic-auth password or as ?auth_token= (Cloud Monitoring can send only the
 * last two); without a configured token the endpoints are off (503).
 *
 * Answers, in order of checks: 503 disabled; 401 no or wrong token; 400
 * malformed JSON (the strict RFC 8259 check of session.h: a NUL in a label is
 * malformed, it never reaches the label mapping); 422 a JSON body that is not a webhook body of
 * that source; else 202 with {"received", "started":[ids], "skipped":[{reason, service, alert,
 * detail}]} - 202 even when everything was skipped, since a sender that got an error would only
 * retry the same notification. The work itself (mapping, guards, records, publication) is
 * profd_alert_ingest, the same code the worker runs for type "alert" messages on the bus. */
#include <stdio.h>
#include <string.h>

#include "server.h"
#include "profd/alert.h"
#include "profd/log.h"

#define ALERT_JSON_DEPTH (PROFD_JSON_MAX_DEPTH + 1)

static int authorised(api_req *r)
{
    const char *token = r->api->cfg.alert_token;
    if (!token[0]) {
        profd_metrics_rejected("alerts_disabled");
        api__reply_detail(r, 503, "alert webhooks are disabled: set PROFD_ALERT_TOKEN");
        return -1;
    }
    if (profd_alert_token_ok(token, api__req_header(r, "Authorization"),
                             api__req_query(r, "auth_token")))
        return 0;
    profd_metrics_rejected("alert_unauthorized");
    api__reply_detail(r, 401,
                      "Not authenticated: present PROFD_ALERT_TOKEN as a bearer token, as the "
                      "basic-auth password, or as ?auth_token=");
    api__reply_header(r, "WWW-Authenticate", "Basic realm=\"profd-alerts\"");
    return -1;
}

static json_object *parse_body(api_req *r)
{
    if (!r->body || r->len == 0 || strlen(r->body) != r->len) {
        api__reply_detail(r, 400, "Request body must be a JSON object (the webhook payload)");
        return NULL;
    }
    /* The strict check first: json-c keeps a \u0000 inside a label, and C
     * strings then end there ("svc\u0000; rm -rf /" would name "svc"). */
    const char *why;
    size_t at;
    if (profd_json_check(r->body, r->len, &why, &at) != 0) {
        api__reply_detail(r, 400, "Malformed JSON at byte %zu: %s", at, why);
        return NULL;
    }
    json_tokener *tok = json_tokener_new_ex(ALERT_JSON_DEPTH);
    if (!tok) {
        api__reply_detail(r, 500, "out of memory");
        return NULL;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *o = json_tokener_parse_ex(tok, r->body, (int)r->len);
    enum json_tokener_error e = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    while (end < r->len && strchr(" \t\r\n", r->body[end]))
        end++;
    if (e != json_tokener_success || end != r->len) {
        json_object_put(o);
        api__reply_detail(r, 400, "Malformed JSON: %s",
                          e != json_tokener_success ? json_tokener_error_desc(e) : "trailing data");
        return NULL;
    }
    if (!json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        api__reply_detail(r, 422, "Request body must be a JSON object (the webhook payload)");
        return NULL;
    }
    return o;
}

void api__handle_alert(api_req *r)
{
    const char *source = r->route.id == PROFD_ROUTE_ALERT_GCP ? "gcp" : "alertmanager";
    if (authorised(r) != 0)
        return;
    json_object *payload = parse_body(r);
    if (!payload)
        return;
    profd_alert_ctx c = {&r->api->cfg, r->api->o.store, r->api->o.bus,
                         r->api->o.local ? r->api->cfg.host : NULL, NULL};
    profd_alert_result res;
    profd_error err = {0};
    if (profd_alert_ingest(&c, source, payload, &res, &err) < 0) {
        profd_metrics_rejected("invalid_alert");
        api__reply_detail(r, 422, "%s", err.msg);
    } else {
        LOG_I(NULL, "audit", "action=alert source=%s received=%d started=%d skipped=%d", source,
              res.received, res.nstarted, res.nskipped);
        api__reply_json(r, 202, profd_alert_result_json(&res));
        profd_alert_result_free(&res);
    }
    json_object_put(payload);
}
