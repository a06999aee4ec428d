/* metrics.c - the two alert counters, on the process-wide registry.
 *
 * profd_alerts_received_total{source} and profd_alerts_skipped_total{reason}:
 * every alert read from a payload is received once, and either starts a
 * capture (profd_sessions_started_total{trigger="alert"}) or is skipped with
 * one reason, so received = started + skipped in each process. The families
 * are registered on first use, so a process that never sees an alert shows
 * none. */
#include <pthread.h>
#include <stddef.h>

#include "profd/metrics.h"

static profd_metric *received, *skipped;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void)
{
    static const char *const src[] = {"source"}, *const why[] = {"reason"};
    received = profd_metric_counter("profd_alerts_received_total",
                                    "Alerts read from webhook payloads, by source.", 1, src);
    skipped = profd_metric_counter("profd_alerts_skipped_total",
                                   "Alerts that started no capture, by reason.", 1, why);
}

void profd_metrics_alerts_received(const char *source, int n)
{
    pthread_once(&once, init);
    if (n > 0)
        profd_metric_add(received, &source, (double)n);
}

void profd_metrics_alert_skipped(const char *reason)
{
    pthread_once(&once, init);
    profd_metric_add(skipped, &reason, 1);
}
