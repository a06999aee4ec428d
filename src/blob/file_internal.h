/* file_internal.h - pieces of the file store shared between its sources. */
#ifndef PROFD_FILE_INTERNAL_H
#define PROFD_FILE_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "blob_internal.h"

#define PROFD_FILE_TMP_PREFIX ".profd-tmp-"

typedef struct file_blob {
    profd_blob base;
    char dir[PATH_MAX]; /* absolute, no trailing '/' */
    char link_base[512];
    char key[256];
} file_blob;

void blob__file_dirname(const char *path, char *out, size_t outlen);
int blob__file_fsync_dir(const char *dir);
/* Copy src into a fresh fsync'ed temp file beside dest; its path in tmp. */
int blob__file_copy_to_temp(const char *src, const char *dest, char *tmp, size_t tmplen,
                            profd_error *err);
/* The same from an open descriptor (taken: always closed); src names it in errors. */
int blob__file_copy_fd_to_temp(int in, const char *src, const char *dest, char *tmp, size_t tmplen,
                               profd_error *err);
/* Open rel under dirfd for reading, following no symbolic link on the way
 * (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, else O_NOFOLLOW at each
 * step; use_openat2 false forces the fallback, for its tests). fd or -1/errno. */
int blob__file_open_beneath(int dirfd, const char *rel, bool use_openat2);
/* The object's file under dir, a regular file reached without links: an fd
 * (blocking) or -1 with err. */
int blob__file_open_object(const char *dir, const char *object, profd_error *err);
int blob__file_link(profd_blob *b, const char *object, int ttl_s, char *out, size_t outlen,
                    profd_error *err);
int blob__file_list(profd_blob *b, const char *prefix, profd_blob_visit fn, void *arg,
                    profd_error *err);

#endif
