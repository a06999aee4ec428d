/* log.c - one line per event on stderr, JSON when not a TTY.
 *
 * Lines are formatted into one buffer and written with a single write(2), so
 * lines from the worker's threads and from a child's stderr never interleave
 * mid-line.
 *
 * A message often carries text from outside (a token's subject, a service
 * name), so nothing in it may forge a line: every field goes through
 * profd_escape (src/core/escape.c) first. In the text format control
 * characters and backslashes are escaped too (a subject "a\nb" is written as
 * the four characters a\nb); in the json format json-c escapes the controls,
 * and invalid UTF-8 becomes \xHH in both, so each line is one valid UTF-8
 * record. A line that does not fit is cut, and still ends in a newline. */
#include "profd/log.h"
#include "profd/util.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int min_level = PROFD_LOG_INFO;
static int as_json = 1;
static const char *const names[] = {"debug", "info", "warn", "error"};

void profd_log_init(void)
{
    const char *lvl = getenv("PROFD_LOG_LEVEL");
    min_level = PROFD_LOG_INFO;
    for (int i = 0; lvl && i < 4; i++)
        if (strcasecmp(lvl, names[i]) == 0 || (i == 2 && strcasecmp(lvl, "warning") == 0))
            min_level = i;
    const char *fmt = getenv("PROFD_LOG_FORMAT");
    if (fmt && strcmp(fmt, "json") == 0)
        as_json = 1;
    else if (fmt && strcmp(fmt, "text") == 0)
        as_json = 0;
    else
        as_json = !isatty(STDERR_FILENO);
}

void profd_log(int level, const char *session, const char *event, const char *fmt, ...)
{
    if (level < min_level)
        return;
    char raw[2048], msg[2048], ev[128], sid[128], ts[40], line[16384];
    va_list ap;
    va_start(ap, fmt);
    int rn = vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    size_t rl = rn < 0 ? 0 : (size_t)rn < sizeof raw ? (size_t)rn : sizeof raw - 1;
    unsigned esc = as_json ? 0 : PROFD_ESC_CONTROLS;
    profd_escape(raw, rl, esc, msg, sizeof msg);
    event = event ? event : "log";
    profd_escape(event, strlen(event), esc, ev, sizeof ev);
    profd_escape(session ? session : "", session ? strlen(session) : 0, esc, sid, sizeof sid);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    size_t k = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + k, sizeof ts - k, ".%03dZ", (int)(tv.tv_usec / 1000));
    int n;
    if (as_json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "ts", json_object_new_string(ts));
        json_object_object_add(o, "level", json_object_new_string(names[level]));
        json_object_object_add(o, "event", json_object_new_string(ev));
        if (sid[0])
            json_object_object_add(o, "session_id", json_object_new_string(sid));
        json_object_object_add(o, "msg", json_object_new_string(msg));
        n = snprintf(line, sizeof line, "%s\n",
                     json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                           JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
    } else {
        n = snprintf(line, sizeof line, "%s %-5s %s%s%s %s\n", ts, names[level], ev,
                     sid[0] ? " " : "", sid, msg);
    }
    if (n > (int)sizeof line - 1) { /* cut, but still one line */
        n = (int)sizeof line - 1;
        line[n - 1] = '\n';
    }
    if (n > 0 && write(STDERR_FILENO, line, (size_t)n) < 0)
        return;
}
