/* file_list.c - listing the file store by name prefix.
 *
 * The walk starts at the deepest directory the prefix names (listing
 * "sessions/ID/" reads one directory, not the whole store), collects every
 * regular file whose object name starts with the prefix, and visits them in
 * byte order of their names, as GCS lists. Temp files of writes in flight
 * (".profd-tmp-*") are skipped. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "file_internal.h"

typedef struct entry {
    char *name;
    int64_t mtime_ms, size;
} entry;

typedef struct entries {
    entry *v;
    size_t n, cap;
} entries;

static int add(entries *es, const char *name, const struct stat *st)
{
    if (es->n == es->cap) {
        size_t cap = es->cap ? es->cap * 2 : 64;
        entry *v = realloc(es->v, cap * sizeof *v);
        if (!v)
            return -1;
        es->v = v;
        es->cap = cap;
    }
    entry *e = &es->v[es->n];
    if (!(e->name = strdup(name)))
        return -1;
    e->mtime_ms = ((int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec) / 1000000;
    e->size = st->st_size;
    es->n++;
    return 0;
}

/* rel: object name of dir relative to the store ("" at the top). */
static int walk(const char *root, const char *rel, const char *prefix, entries *es, int depth)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s%s%s", root, rel[0] ? "/" : "", rel);
    DIR *d = opendir(dir);
    if (!d)
        return (errno == ENOENT || errno == ENOTDIR) ? 0 : -1;
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d))) {
        if (de->d_name[0] == '.' &&
            (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
             !strncmp(de->d_name, PROFD_FILE_TMP_PREFIX, strlen(PROFD_FILE_TMP_PREFIX))))
            continue;
        char name[PATH_MAX], path[PATH_MAX];
        if (snprintf(name, sizeof name, "%s%s%s", rel, rel[0] ? "/" : "", de->d_name) >=
                (int)sizeof name ||
            snprintf(path, sizeof path, "%s/%s", root, name) >= (int)sizeof path)
            continue;
        struct stat st;
        if (lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode) && depth < 64) {
            /* Descend only where names under it can still match the prefix. */
            size_t nl = strlen(name);
            if (strncmp(name, prefix, nl < strlen(prefix) ? nl : strlen(prefix)) == 0)
                rc = walk(root, name, prefix, es, depth + 1);
        } else if (S_ISREG(st.st_mode) && strncmp(name, prefix, strlen(prefix)) == 0) {
            rc = add(es, name, &st);
        }
    }
    closedir(d);
    return rc;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}

int blob__file_list(profd_blob *b, const char *prefix, profd_blob_visit fn, void *arg,
                    profd_error *err)
{
    file_blob *fb = (file_blob *)b;
    if (!prefix)
        prefix = "";
    if (prefix[0] == '/' || strstr(prefix, "..")) {
        profd_error_set(err, PROFD_E_INVALID, "bad list prefix '%s'", prefix);
        return -1;
    }
    /* Start at the directory part of the prefix: "a/b/c" -> "a/b". */
    char start[PATH_MAX];
    profd_strlcpy(start, prefix, sizeof start);
    char *slash = strrchr(start, '/');
    if (slash)
        *slash = '\0';
    else
        start[0] = '\0';
    entries es = {0};
    if (walk(fb->dir, start, prefix, &es, 0) != 0) {
        profd_error_set(err, NULL, "cannot list %s: %s", fb->dir, strerror(errno));
        for (size_t i = 0; i < es.n; i++)
            free(es.v[i].name);
        free(es.v);
        return -1;
    }
    if (es.n > 1)
        qsort(es.v, es.n, sizeof *es.v, by_name);
    int stop = 0;
    for (size_t i = 0; i < es.n; i++) {
        if (!stop)
            stop = fn(es.v[i].name, es.v[i].mtime_ms, es.v[i].size, arg);
        free(es.v[i].name);
    }
    free(es.v);
    return 0;
}
