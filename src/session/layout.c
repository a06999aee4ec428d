/* layout.c - the storage layout of a session: its artefacts and their names.
 *
 * Before this file, the three output files were listed in four places (the
 * worker's results and spool cleanup, reprocess, `profd profile`) and the
 * object name "sessions/%s/%s" was formatted in three (results, reprocess,
 * cleanup), so a new output file had to be added five times and one missed
 * spot would silently leave it out of reprocessing or cleanup. The table and
 * the name live here, beside the record fields that keep the names, because
 * the layout is part of the session contract (docs/storage.md), not of any
 * one module that writes or reads it.
 *
 * The table names renderer formats, so this module includes render.h for the
 * profd_format enum; it calls nothing in the renderer. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "profd/session.h"

const profd_artifact profd_artifacts[PROFD_ARTIFACTS] = {
    [PROFD_ART_STACKS] = {"stacks.txt", "text/plain; charset=utf-8", PROFD_FMT_COLLAPSED,
                          offsetof(profd_session, stacks_object)},
    [PROFD_ART_PROFILE] = {"profile.json", "application/json", PROFD_FMT_SPEEDSCOPE,
                           offsetof(profd_session, raw_data_object)},
    [PROFD_ART_FLAMEGRAPH] = {"flamegraph.html", "text/html; charset=utf-8", PROFD_FMT_HTML,
                              offsetof(profd_session, flame_graph_object)},
};

int profd_session_object(const char *id, const char *file, char *out, size_t len)
{
    int n = snprintf(out, len, PROFD_OBJECT_PREFIX "%s/%s", id, file);
    if (n < 0 || (size_t)n >= len) {
        if (len)
            out[0] = '\0';
        return -1;
    }
    return 0;
}

bool profd_session_object_id(const char *object, char *id)
{
    size_t pl = strlen(PROFD_OBJECT_PREFIX);
    if (strncmp(object, PROFD_OBJECT_PREFIX, pl) != 0)
        return false;
    const char *start = object + pl, *slash = strchr(start, '/');
    if (!slash || slash - start != PROFD_UUID_LEN)
        return false;
    memcpy(id, start, PROFD_UUID_LEN);
    id[PROFD_UUID_LEN] = '\0';
    return true;
}

char *profd_session_artifact_object(profd_session *s, int i)
{
    return (char *)s + profd_artifacts[i].record_field;
}
