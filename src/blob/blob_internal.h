/* blob_internal.h - helpers shared by the blob stores (not a public interface). */
#ifndef PROFD_BLOB_INTERNAL_H
#define PROFD_BLOB_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profd/blob.h"

/* An object name: printable ASCII, at most 1024 bytes, no leading '/', no
 * empty segment ("a//b", trailing '/'), no "." or ".." segment. Sets err
 * with a sentence naming the rule that failed. */
bool profd_blob_name_valid(const char *object, profd_error *err);

/* Lower-case hex of len bytes into out (2 * len + 1 bytes). */
void profd_blob_hex(const unsigned char *in, size_t len, char *out);

/* Percent-encode everything outside RFC 3986 unreserved characters; '/' is
 * kept when keep_slash. -1 when out is too small. */
int profd_blob_urlencode(const char *in, bool keep_slash, char *out, size_t outlen);

/* Parse "gs://bucket[/prefix]" into its parts. -1 with err when malformed. */
int profd_blob_parse_gs(const char *url, char *bucket, size_t blen, char *prefix, size_t plen,
                        profd_error *err);

/* A growable NUL-terminated string; on allocation failure it sets oom and
 * stops growing, so callers check once at the end. */
typedef struct profd_sb {
    char *s;
    size_t len, cap;
    bool oom;
} profd_sb;

void profd_sb_add(profd_sb *b, const char *s);
void profd_sb_addn(profd_sb *b, const char *s, size_t n);
void profd_sb_addf(profd_sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s percent-encoded (RFC 3986 unreserved kept, '/' kept if keep_slash). */
void profd_sb_addenc(profd_sb *b, const char *s, bool keep_slash);
void profd_sb_free(profd_sb *b);

#endif
