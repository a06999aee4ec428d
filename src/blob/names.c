/* names.c - validation and encoding of object and bucket names.
 *
 * Every object name reaches a file path (file store) or a URL (GCS), so it is
 * checked once here, before either store touches it: a name that could climb
 * out of the store's directory ("..") or confuse a path ("a//b", "/abs") is
 * refused with a sentence saying which rule it broke. */
#include <stdio.h>
#include <string.h>

#include "blob_internal.h"

#define MAX_OBJECT 1024

static bool segment_ok(const char *s, size_t n, profd_error *err, const char *object)
{
    if (n == 0) {
        profd_error_set(err, PROFD_E_INVALID,
                        "object name '%s' has an empty path segment; use names like "
                        "sessions/ID/profile.json",
                        object);
        return false;
    }
    if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) {
        profd_error_set(err, PROFD_E_INVALID,
                        "object name '%s' contains a '.' or '..' segment, which is not allowed",
                        object);
        return false;
    }
    return true;
}

bool profd_blob_name_valid(const char *object, profd_error *err)
{
    if (!object || !object[0]) {
        profd_error_set(err, PROFD_E_INVALID, "object name is empty");
        return false;
    }
    size_t len = strlen(object);
    if (len > MAX_OBJECT) {
        profd_error_set(err, PROFD_E_INVALID, "object name is longer than %d bytes", MAX_OBJECT);
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)object[i];
        if (c < 0x21 || c > 0x7e) {
            profd_error_set(err, PROFD_E_INVALID,
                            "object name contains a space, control or non-ASCII byte (0x%02x) "
                            "at offset %zu",
                            c, i);
            return false;
        }
    }
    if (object[0] == '/') {
        profd_error_set(err, PROFD_E_INVALID, "object name '%s' must not start with '/'", object);
        return false;
    }
    const char *seg = object;
    for (const char *p = object;; p++) {
        if (*p == '/' || *p == '\0') {
            if (!segment_ok(seg, (size_t)(p - seg), err, object))
                return false;
            if (*p == '\0')
                break;
            seg = p + 1;
        }
    }
    return true;
}

int blob__urlencode(const char *in, bool keep_slash, char *out, size_t outlen)
{
    static const char digits[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                     (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~' ||
                     (keep_slash && *p == '/');
        if (o + (plain ? 1 : 3) >= outlen)
            return -1;
        if (plain) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = digits[*p >> 4];
            out[o++] = digits[*p & 15];
        }
    }
    if (o >= outlen)
        return -1;
    out[o] = '\0';
    return 0;
}

/* Bucket names: 3..222 bytes of [a-z0-9._-], starting and ending alphanumeric. */
static bool bucket_valid(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 222)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && c != '.' && c != '_' && c != '-')
            return false;
        if ((i == 0 || i == n - 1) && !alnum)
            return false;
    }
    return true;
}

int profd_blob_parse_gs(const char *url, char *bucket, size_t blen, char *prefix, size_t plen,
                        profd_error *err)
{
    if (strncmp(url, "gs://", 5) != 0) {
        profd_error_set(err, NULL, "'%s' is not a gs:// URL; use gs://BUCKET[/PREFIX]", url);
        return -1;
    }
    const char *b = url + 5;
    const char *slash = strchr(b, '/');
    size_t bl = slash ? (size_t)(slash - b) : strlen(b);
    if (bl >= blen) {
        profd_error_set(err, NULL, "bucket name in '%s' is too long", url);
        return -1;
    }
    memcpy(bucket, b, bl);
    bucket[bl] = '\0';
    if (!bucket_valid(bucket)) {
        profd_error_set(err, NULL,
                        "'%s' has no valid bucket name: use gs://BUCKET[/PREFIX] with 3-222 "
                        "characters of a-z 0-9 . _ -",
                        url);
        return -1;
    }
    prefix[0] = '\0';
    if (!slash)
        return 0;
    const char *p = slash + 1;
    size_t pl = strlen(p);
    while (pl > 0 && p[pl - 1] == '/')
        pl--;
    if (pl >= plen) {
        profd_error_set(err, NULL, "prefix in '%s' is too long", url);
        return -1;
    }
    memcpy(prefix, p, pl);
    prefix[pl] = '\0';
    if (prefix[0] && !profd_blob_name_valid(prefix, err)) {
        char why[400];
        profd_strlcpy(why, err->msg, sizeof why);
        profd_error_set(err, NULL, "bad prefix in '%s': %s", url, why);
        return -1;
    }
    return 0;
}
