/* metrics.h - the process-wide Prometheus registry (src/core/metrics.c).
 *
 * Counters and histograms with labels, thread-safe, rendered in the text
 * exposition format 0.0.4 by GET /metrics. The API records HTTP durations,
 * rejections and the sessions it starts; the worker records finished
 * sessions, capture durations and overheads, and bytes stored into the same registry, so
 * under `profd serve` one /metrics shows both. Depends only on libc, pthreads
 * and libm, so it can move to any module. */
#ifndef PROFD_METRICS_H
#define PROFD_METRICS_H

/* The process-wide registry; all functions are thread-safe and may be called
 * by the worker as well as the API. Label values are escaped on output. */
void profd_metrics_session_started(const char *service, const char *trigger);
void profd_metrics_session_finished(const char *status);
void profd_metrics_capture_duration(double seconds);
/* overhead_percent of a capture whose sampler ran to the end. */
void profd_metrics_capture_overhead(double percent);
void profd_metrics_bytes_stored(long long bytes);
void profd_metrics_http_request(const char *route, int code, double seconds);
void profd_metrics_rejected(const char *reason);
/* Alert intake (src/alert/metrics.c, docs/alerts.md):
 * profd_alerts_received_total{source} counts the alerts read from payloads,
 * profd_alerts_skipped_total{reason} those that started no capture. */
void profd_metrics_alerts_received(const char *source, int n);
void profd_metrics_alert_skipped(const char *reason);
/* Prometheus text exposition format 0.0.4; malloc'd. */
char *profd_metrics_render(void);
void profd_metrics_reset(void); /* tests */

/* Generic pieces, for more metrics. */
typedef struct profd_metric profd_metric;
profd_metric *profd_metric_counter(const char *name, const char *help, int nlabels,
                                   const char *const *labels);
profd_metric *profd_metric_histogram(const char *name, const char *help, int nlabels,
                                     const char *const *labels, const double *buckets,
                                     int nbuckets);
void profd_metric_add(profd_metric *m, const char *const *values, double v);
void profd_metric_observe(profd_metric *m, const char *const *values, double v);

#endif
