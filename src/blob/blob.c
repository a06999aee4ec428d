/* blob.c - choose the blob store from PROFD_STORAGE.
 *
 *   file:///abs/dir        objects under /abs/dir
 *   file://./rel, file://rel   relative to the current directory
 *   gs://bucket[/prefix]   Google Cloud Storage (prefix prepended to names)
 *
 * Anything else is refused with one line naming the accepted forms.
 *
 * profd_blob_get_fd is the one way to read an object's bytes for those that serve or parse
 * them (the API's object, live and diff routes): the stores write whole files, so the object
 * goes to a temporary file that is unlinked while still open. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blob_internal.h"

profd_blob *profd_blob_open(const profd_config *cfg, profd_error *err)
{
    const char *url = cfg->storage;
    if (strncmp(url, "file://", 7) == 0) {
        const char *dir = url + 7;
        if (!dir[0]) {
            profd_error_set(err, NULL,
                            "PROFD_STORAGE '%s' names no directory; use file:///DIR or "
                            "file://./DIR",
                            url);
            return NULL;
        }
        if (strncmp(dir, "localhost/", 10) == 0)
            dir += 9;
        return profd_blob_file_open(dir, err);
    }
    if (strncmp(url, "gs://", 5) == 0) {
        char bucket[256], prefix[1024];
        if (profd_blob_parse_gs(url, bucket, sizeof bucket, prefix, sizeof prefix, err) != 0)
            return NULL;
        return profd_blob_gcs_open(cfg, bucket, prefix, err);
    }
    profd_error_set(err, NULL,
                    "PROFD_STORAGE '%s' is not supported; use gs://BUCKET[/PREFIX] or "
                    "file:///DIR (file://./DIR for a relative directory)",
                    url);
    return NULL;
}

profd_blob_fd_result profd_blob_get_fd(profd_blob *b, const char *object, int *fd, profd_error *err)
{
    const char *dir = getenv("TMPDIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/profd-blob-XXXXXX", dir && dir[0] ? dir : "/tmp");
    *fd = mkstemp(path);
    if (*fd < 0) {
        profd_error_set(err, NULL, "cannot create a temporary file %s: %s", path, strerror(errno));
        return PROFD_BLOB_FD_LOCAL;
    }
    close(*fd);
    *fd = -1;
    profd_blob_fd_result rc = PROFD_BLOB_FD_UNAVAILABLE;
    if (b->ops->get_file(b, object, path, err) == 0) {
        *fd = open(path, O_RDONLY | O_CLOEXEC);
        rc = *fd >= 0 ? PROFD_BLOB_FD_OK : PROFD_BLOB_FD_LOCAL;
        if (*fd < 0)
            profd_error_set(err, NULL, "cannot open %s: %s", path, strerror(errno));
    }
    unlink(path);
    return rc;
}
