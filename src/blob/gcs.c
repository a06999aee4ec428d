/* gcs.c - placeholder: the GCS store is being written. */
#include "blob/blob_internal.h"

profd_blob *profd_blob_gcs_open(const profd_config *cfg, const char *bucket, const char *prefix,
                                profd_error *err)
{
    (void)cfg;
    (void)prefix;
    profd_error_set(err, NULL, "gs://%s: the GCS store is not available in this build", bucket);
    return NULL;
}
