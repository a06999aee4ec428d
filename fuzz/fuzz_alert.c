/* fuzz_alert.c - libFuzzer target for the alert webhook parsers
 * (src/alert/parse.c, target.c, auth.c): Alertmanager and
 * Cloud Monitoring payloads, as they arrive from anyone who can reach the
 * webhook or the bus.
 *
 * Input: the first byte picks the source (even: alertmanager, odd: gcp), the
 * rest is the JSON body. Properties beyond "no crash, leak or UB":
 *  - at most PROFD_ALERT_MAX_ALERTS alerts are read;
 *  - a target taken from labels has a valid service name, and a pid only
 *    together with a host;
 *  - bounded labels: at most PROFD_ALERT_MAX_LABELS, string values without
 *    control characters, of bounded length.
 * The webhook token check also gets the body as an Authorization header and
 * as a query token, and must refuse it unless it carries the token. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "profd/alert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_labels(json_object *labels)
{
    json_object *b = profd_alert_bounded_labels(labels);
    if (!b)
        return;
    if (json_object_object_length(b) > PROFD_ALERT_MAX_LABELS)
        abort();
    json_object_object_foreach(b, k, v)
    {
        (void)k;
        if (!json_object_is_type(v, json_type_string))
            abort();
        const char *s = json_object_get_string(v);
        if (strlen(s) > 256 * 4)
            abort();
        for (const unsigned char *p = (const unsigned char *)s; *p; p++)
            if (*p < 0x20 || *p == 0x7f)
                abort();
    }
    json_object_put(b);
}

static void check_alerts(const char *source, json_object *payload)
{
    profd_alert_list l;
    profd_error err = {0};
    if (profd_alert_parse(source, payload, &l, &err) != 0) {
        if (strchr(err.msg, '\n'))
            abort();
        return;
    }
    if (l.n < 0 || l.n > PROFD_ALERT_MAX_ALERTS)
        abort();
    for (int i = 0; i < l.n; i++) {
        profd_alert_target t;
        const char *reason = NULL;
        char detail[256];
        if (profd_alert_target_of(l.v[i].labels, "service,job", &t, &reason, detail,
                                  sizeof detail) == 0) {
            if (!profd_service_name_valid(t.service) || t.pid < 0 || (t.pid && !t.host[0]))
                abort();
        } else if (!reason) {
            abort();
        }
        if (l.v[i].labels)
            check_labels(l.v[i].labels);
    }
    profd_alert_list_free(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *source = data[0] & 1 ? "gcp" : "alertmanager";
    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    json_object *payload = json_tokener_parse(text);
    if (payload) {
        check_alerts(source, payload);
        json_object_put(payload);
    }
    static const char token[] = "fuzz-alert-token-1234";
    if (profd_alert_token_ok(token, text, text) && !strstr(text, token) && !strstr(text, "Basic "))
        abort();
    free(text);
    return 0;
}
