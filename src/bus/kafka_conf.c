/* kafka_conf.c - PROFD_KAFKA_CONFIG: extra librdkafka properties from a file.
 *
 * Operators need SASL, TLS and tuning settings that profd has no business
 * knowing about, so the file is passed through verbatim: one "key=value" a
 * line, '#' starts a comment line, blank lines are skipped, whitespace around
 * key and value is trimmed. A line prefixed "consumer." or "producer." applies
 * to that client only (librdkafka has no properties with those prefixes), which
 * keeps consumer-only settings such as session.timeout.ms from producing
 * "ignored by this producer" warnings. Any bad line stops startup with an
 * error naming file:line, because a half-applied security setting is worse
 * than not starting. */
#include "kafka_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

int bus__kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, profd_error *err)
{
    char why[512];
    if (rd_kafka_conf_set(conf, key, value, why, sizeof why) != RD_KAFKA_CONF_OK) {
        profd_error_set(err, NULL, "Kafka setting %s: %s", key, why);
        return -1;
    }
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* Strips a role prefix. Returns the key, or NULL when the line is for the
 * other client. */
static const char *for_role(const char *key, kafka_role role)
{
    if (strncmp(key, "consumer.", 9) == 0)
        return role == KAFKA_CONSUMER ? key + 9 : NULL;
    if (strncmp(key, "producer.", 9) == 0)
        return role == KAFKA_PRODUCER ? key + 9 : NULL;
    return key;
}

static int apply_line(rd_kafka_conf_t *conf, char *line, kafka_role role, const char *path,
                      int lineno, profd_error *err)
{
    char *s = trim(line);
    if (!*s || *s == '#')
        return 0;
    char *eq = strchr(s, '=');
    if (!eq) {
        profd_error_set(err, NULL, "PROFD_KAFKA_CONFIG %s:%d: expected key=value, got '%.80s'",
                        path, lineno, s);
        return -1;
    }
    *eq = '\0';
    const char *key = trim(s), *value = trim(eq + 1);
    if (!*key) {
        profd_error_set(err, NULL, "PROFD_KAFKA_CONFIG %s:%d: the key before '=' is empty", path,
                        lineno);
        return -1;
    }
    const char *k = for_role(key, role);
    char why[512];
    if (k && rd_kafka_conf_set(conf, k, value, why, sizeof why) != RD_KAFKA_CONF_OK) {
        profd_error_set(err, NULL, "PROFD_KAFKA_CONFIG %s:%d: %s", path, lineno, why);
        return -1;
    }
    return 0;
}

int bus__kafka_conf_file(rd_kafka_conf_t *conf, const char *path, kafka_role role, profd_error *err)
{
    if (!path || !*path)
        return 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        profd_error_set(err, NULL, "PROFD_KAFKA_CONFIG %s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char line[4096];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            profd_error_set(err, NULL, "PROFD_KAFKA_CONFIG %s:%d: line longer than %zu bytes", path,
                            lineno, sizeof line - 2);
            rc = -1;
            break;
        }
        rc = apply_line(conf, line, role, path, lineno, err);
    }
    fclose(f);
    return rc;
}
