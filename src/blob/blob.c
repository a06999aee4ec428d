/* blob.c - choose the blob store from PROFD_STORAGE.
 *
 *   file:///abs/dir        objects under /abs/dir
 *   file://./rel, file://rel   relative to the current directory
 *   gs://bucket[/prefix]   Google Cloud Storage (prefix prepended to names)
 *
 * Anything else is refused with one line naming the accepted forms. */
#include <string.h>

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
