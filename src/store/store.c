/* store.c - choosing the session store from the configuration.
 *
 * PROFD_REDIS_URL picks it: "memory" (or empty) gives the in-process store,
 * redis:// the Redis store, rediss:// the Redis store over TLS with the CA and
 * client certificate of PROFD_REDIS_CA / _CERT / _KEY (src/store/tls.c). */
#include <string.h>

#include "profd/store.h"

profd_store *profd_store_open(const profd_config *cfg, profd_error *err)
{
    int ttl = cfg->session_ttl_days > 0 ? cfg->session_ttl_days * 86400 : 7 * 86400;
    const char *url = cfg->redis_url;
    if (!url[0] || strcmp(url, "memory") == 0) {
        profd_store *st = profd_store_memory_open(ttl);
        if (!st)
            profd_error_set(err, NULL, "session store: out of memory");
        return st;
    }
    return profd_store_redis_open_tls(url, ttl, cfg->redis_ca, cfg->redis_cert, cfg->redis_key,
                                      err);
}
