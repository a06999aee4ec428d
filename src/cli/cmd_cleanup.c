/* cmd_cleanup.c - `profd cleanup --days N [--dry-run]`: remove sessions older
 * than N days from the store (records and index entries) and objects older
 * than N days from the blob store (docs/cleanup.md). The work itself is
 * src/batch/cleanup.c, which the workers also run periodically. */
#include <stdio.h>
#include <string.h>

#include "profd/batch.h"
#include "profd/blob.h"
#include "profd/cli.h"
#include "profd/config.h"
#include "profd/store.h"

#define CMD "cleanup"

static int parse_args(int argc, char **argv, profd_cleanup_opts *o)
{
    long days = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dry-run")) {
            o->dry_run = true;
        } else if (!strcmp(argv[i], "--days")) {
            if (i + 1 >= argc)
                return profd_usage_error(CMD, "--days needs a value");
            if (profd_parse_int(CMD, "--days", argv[++i], 1, 36500, &days) != 0)
                return PROFD_EXIT_USAGE;
        } else {
            return profd_usage_error(CMD, "unknown argument '%s'", argv[i]);
        }
    }
    if (days < 0)
        return profd_usage_error(CMD, "--days N is required");
    o->days = (int)days;
    return 0;
}

static int run(int argc, char **argv)
{
    profd_cleanup_opts o = {0};
    int rc = parse_args(argc, argv, &o);
    if (rc != 0)
        return rc;
    o.listing = o.dry_run ? stdout : NULL;
    profd_config cfg;
    profd_error err = {0};
    if (profd_config_load(&cfg, &err) != 0) {
        fprintf(stderr, "profd %s: %s\n", CMD, err.msg);
        return PROFD_EXIT_USAGE;
    }
    profd_store *store = profd_store_open(&cfg, &err);
    profd_blob *blob = store ? profd_blob_open(&cfg, &err) : NULL;
    profd_cleanup_stats stats;
    rc = PROFD_EXIT_FAIL;
    if (blob && profd_cleanup_run(store, blob, &o, &stats, &err) == 0) {
        char summary[300];
        profd_cleanup_summary(&stats, o.dry_run, summary, sizeof summary);
        printf("%s\n", summary);
        rc = stats.failed ? PROFD_EXIT_FAIL : PROFD_EXIT_OK;
    } else {
        fprintf(stderr, "profd %s: %s\n", CMD, err.msg);
    }
    if (blob)
        blob->ops->close(blob);
    if (store)
        store->ops->close(store);
    return rc;
}

const profd_command profd_cmd_cleanup = {
    CMD, run, "remove sessions and blobs older than N days",
    "Usage: profd cleanup --days N [--dry-run]\n\n"
    "Removes every session created more than N days ago from the session store (its record\n"
    "and its index entries), then every object under sessions/ in the blob store that is\n"
    "older than N days or belongs to a session removed now, so the blobs of records that\n"
    "already expired go too. Prints the counts: sessions: 12 removed; objects: 36 removed\n"
    "(4.1 MB). Exit status 1 when a removal failed (each failure is logged).\n\n"
    "  --days N    age limit in days, 1 or more (required)\n"
    "  --dry-run   remove nothing; list each session and object that would go, then the counts\n\n"
    "Workers also clean up by themselves: see PROFD_CLEANUP_DAYS and PROFD_CLEANUP_INTERVAL.\n\n"
    "Environment:\n"
    "  PROFD_REDIS_URL, PROFD_STORAGE (and STORAGE_EMULATOR_HOST, GOOGLE_APPLICATION_CREDENTIALS)\n"
    "Run 'profd help env' for defaults; docs/cleanup.md has the details.\n"};
