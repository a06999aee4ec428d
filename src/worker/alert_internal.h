/* alert_internal.h - what the alert files share inside the worker module. */
#ifndef PROFD_WORKER_ALERT_INTERNAL_H
#define PROFD_WORKER_ALERT_INTERNAL_H

/* profd_sessions_started_total{service, trigger="alert"} (alert_metrics.c). */
void profd_alert_count_started(const char *service);

#endif
