/* blob_internal.h - helpers shared by the blob stores (not a public interface). */
#ifndef PROFD_BLOB_INTERNAL_H
#define PROFD_BLOB_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profd/blob.h"

/* Percent-encode everything outside RFC 3986 unreserved characters; '/' is
 * kept when keep_slash. -1 when out is too small. */
int blob__urlencode(const char *in, bool keep_slash, char *out, size_t outlen);

#endif
