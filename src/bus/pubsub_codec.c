/* pubsub_codec.c - Pub/Sub resource names.
 *
 * Names. Settings give short names ("profiling-events") resolved within
 * GOOGLE_CLOUD_PROJECT, or full ones ("projects/p/topics/profiling-events")
 * used as they are. Every name ends up in a URL path, so it is checked against
 * Pub/Sub's own rules first (a letter, then 2..254 of letters, digits and
 * - _ . ~ + %, not starting with "goog"); a bad one is a configuration error
 * that names the variable, not a confusing 400 later. (Message data travels
 * base64-encoded; the codec is core's, profd_b64 and profd_b64_decode.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pubsub_internal.h"

static bool id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("-_.~+%", c) != NULL;
}

/* Pub/Sub's rule for a topic or subscription id (also fine for project ids). */
static bool id_valid(const char *s, size_t len, size_t min)
{
    if (len < min || len > 255 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return false;
    if (len >= 4 && strncmp(s, "goog", 4) == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!id_char(s[i]))
            return false;
    return true;
}

/* A project id ("my-project-123"), or a domain-scoped one ("example.com:my-project"). */
static bool project_valid(const char *s, size_t len)
{
    if (len < 1 || len > 128)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == ':'))
            return false;
    }
    return true;
}

/* "projects/P/KIND/NAME" with P a project id and NAME a valid id. */
static bool full_valid(const char *s, const char *kind)
{
    const char *p = s + strlen("projects/");
    const char *slash = strchr(p, '/');
    if (!slash || !project_valid(p, (size_t)(slash - p)))
        return false;
    size_t kl = strlen(kind);
    if (strncmp(slash + 1, kind, kl) != 0 || slash[1 + kl] != '/')
        return false;
    const char *name = slash + 2 + kl;
    return id_valid(name, strlen(name), 3);
}

int bus__ps_resource_name(char *out, size_t outlen, const char *project, const char *kind,
                          const char *name, const char *var, profd_error *err)
{
    if (strncmp(name, "projects/", 9) == 0) {
        if (!full_valid(name, kind) || strlen(name) >= outlen) {
            profd_error_set(err, NULL, "%s: '%s' is not a valid name; use projects/PROJECT/%s/NAME",
                            var, name, kind);
            return -1;
        }
        profd_strlcpy(out, name, outlen);
        return 0;
    }
    if (!id_valid(name, strlen(name), 3)) {
        profd_error_set(err, NULL,
                        "%s: '%s' is not a valid Pub/Sub name (a letter, then 2-254 letters, "
                        "digits or - _ . ~ + %%, not starting with goog)",
                        var, name);
        return -1;
    }
    if (!project || !project[0]) {
        profd_error_set(err, NULL,
                        "GOOGLE_CLOUD_PROJECT is not set: set it, or give %s as "
                        "projects/PROJECT/%s/%s",
                        var, kind, name);
        return -1;
    }
    if (!project_valid(project, strlen(project))) {
        profd_error_set(err, NULL, "GOOGLE_CLOUD_PROJECT: '%s' is not a valid project id", project);
        return -1;
    }
    if ((size_t)snprintf(out, outlen, "projects/%s/%s/%s", project, kind, name) >= outlen) {
        profd_error_set(err, NULL, "%s: the name is too long", var);
        return -1;
    }
    return 0;
}
