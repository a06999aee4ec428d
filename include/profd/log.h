/* log.h - structured logs on stderr: one JSON object a line (or text on a TTY),
 * each carrying the session id it concerns, so `grep <id>` follows a session
 * through API, bus and worker. Secrets are never passed to these functions. */
#ifndef PROFD_LOG_H
#define PROFD_LOG_H

enum { PROFD_LOG_DEBUG, PROFD_LOG_INFO, PROFD_LOG_WARN, PROFD_LOG_ERROR };

/* Reads PROFD_LOG_LEVEL and PROFD_LOG_FORMAT. Safe to call more than once. */
void profd_log_init(void);
/* event: short machine-readable name ("capture.started"); session may be NULL. */
void profd_log(int level, const char *session, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define LOG_D(sid, ev, ...) profd_log(PROFD_LOG_DEBUG, sid, ev, __VA_ARGS__)
#define LOG_I(sid, ev, ...) profd_log(PROFD_LOG_INFO, sid, ev, __VA_ARGS__)
#define LOG_W(sid, ev, ...) profd_log(PROFD_LOG_WARN, sid, ev, __VA_ARGS__)
#define LOG_E(sid, ev, ...) profd_log(PROFD_LOG_ERROR, sid, ev, __VA_ARGS__)

#endif
