/* pubsub_codec.c - Pub/Sub resource names and base64.
 *
 * Names. Settings give short names ("profiling-events") resolved within
 * GOOGLE_CLOUD_PROJECT, or full ones ("projects/p/topics/profiling-events")
 * used as they are. Every name ends up in a URL path, so it is checked against
 * Pub/Sub's own rules first (a letter, then 2..254 of letters, digits and
 * - _ . ~ + %, not starting with "goog"); a bad one is a configuration error
 * that names the variable, not a confusing 400 later.
 *
 * Base64. Message data travels base64-encoded in the REST API's JSON. The
 * codec is a few lines, written here rather than borrowed from a library whose
 * decoder keeps the padding bytes. */
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

int ps_resource_name(char *out, size_t outlen, const char *project, const char *kind,
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

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *ps_b64_encode(const void *data, size_t len)
{
    const unsigned char *p = data;
    char *out = malloc((len + 2) / 3 * 4 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < len)
            v |= p[i + 2];
        out[o++] = B64[(v >> 18) & 63];
        out[o++] = B64[(v >> 12) & 63];
        out[o++] = i + 1 < len ? B64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? B64[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

static int b64_value(char c)
{
    const char *p = c ? strchr(B64, c) : NULL;
    if (p)
        return (int)(p - B64);
    if (c == '-') /* the URL-safe alphabet, in case a producer used it */
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

char *ps_b64_decode(const char *s, size_t len, size_t *outlen)
{
    while (len && s[len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return NULL;
    char *out = malloc(len / 4 * 3 + 3);
    if (!out)
        return NULL;
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value(s[i]);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[o] = '\0';
    *outlen = o;
    return out;
}
