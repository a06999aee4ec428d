/* file.c - the file:// blob store: objects are files under one directory.
 *
 * DIR/<object> holds the bytes of <object>; object names are validated first
 * (names.c) so no name can reach outside DIR. Writes go through a temp file
 * that is fsync'ed and then put in place (file_io.c).
 *
 * Generations. GCS gives every write a generation number and lets a write say
 * which generation it replaces. Here a file's generation is its mtime in
 * nanoseconds; each write sets it explicitly to max(now, previous + 1), so it
 * grows with every write even when the file system's clock is coarse. All
 * writers of a directory hold flock() on that directory while they compare
 * and swap, and a first write (PROFD_GEN_NEW) is a link(2), which fails
 * atomically with EEXIST when the name is taken, even against a writer that
 * does not lock. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "file_internal.h"

static int object_path(file_blob *fb, const char *object, char *out, size_t outlen,
                       profd_error *err)
{
    if (!profd_blob_name_valid(object, err))
        return -1;
    if (snprintf(out, outlen, "%s/%s", fb->dir, object) >= (int)outlen) {
        profd_error_set(err, PROFD_E_INVALID, "object name '%s' makes too long a path", object);
        return -1;
    }
    return 0;
}

static int64_t gen_of(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

static int lock_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0 && flock(fd, LOCK_EX) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Set tmp's mtime to the new generation: after now and after the old one. */
static int stamp(const char *tmp, int64_t old_gen, int64_t *gen)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t g = (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;
    if (g <= old_gen)
        g = old_gen + 1;
    struct timespec ts[2] = {now, {g / 1000000000LL, g % 1000000000LL}};
    *gen = g;
    return utimensat(AT_FDCWD, tmp, ts, 0);
}

static int swap_in(const char *tmp, const char *path, const char *object, int64_t if_gen,
                   int64_t *gen, profd_error *err)
{
    struct stat st;
    int exists = lstat(path, &st) == 0;
    if (exists && !S_ISREG(st.st_mode)) {
        profd_error_set(err, NULL, "cannot write object %s: %s is not a regular file", object,
                        path);
        return -1;
    }
    if (if_gen == PROFD_GEN_NEW && exists) {
        profd_error_set(err, NULL, "object %s already exists; pass its generation to replace it",
                        object);
        return -1;
    }
    if (if_gen > 0 && (!exists || gen_of(&st) != if_gen)) {
        profd_error_set(err, NULL,
                        "object %s was not replaced: its generation is %lld, not %lld "
                        "(changed by another writer)",
                        object, exists ? (long long)gen_of(&st) : 0LL, (long long)if_gen);
        return -1;
    }
    if (stamp(tmp, exists ? gen_of(&st) : 0, gen) != 0) {
        profd_error_set(err, NULL, "cannot set the generation of %s: %s", object, strerror(errno));
        return -1;
    }
    if (if_gen == PROFD_GEN_NEW) {
        if (link(tmp, path) != 0) {
            if (errno == EEXIST)
                profd_error_set(err, NULL,
                                "object %s already exists; pass its generation to replace it",
                                object);
            else
                profd_error_set(err, NULL, "cannot write object %s: %s", object, strerror(errno));
            return -1;
        }
        unlink(tmp);
        return 0;
    }
    if (rename(tmp, path) != 0) {
        profd_error_set(err, NULL, "cannot write object %s: %s", object, strerror(errno));
        return -1;
    }
    return 0;
}

static int file_put(profd_blob *b, const char *object, const char *src, const char *content_type,
                    const profd_blob_meta *meta, int64_t if_generation, int64_t *generation,
                    profd_error *err)
{
    (void)content_type;
    (void)meta;
    file_blob *fb = (file_blob *)b;
    char path[PATH_MAX], dir[PATH_MAX], tmp[PATH_MAX + 32];
    if (object_path(fb, object, path, sizeof path, err) != 0)
        return -1;
    if (if_generation < PROFD_GEN_ANY) {
        profd_error_set(err, PROFD_E_INVALID, "bad generation %lld for object %s",
                        (long long)if_generation, object);
        return -1;
    }
    blob__file_dirname(path, dir, sizeof dir);
    /* A concurrent remove() may prune the directory between mkdir and the
     * temp file: try again a few times. */
    int rc = -1;
    for (int i = 0; i < 3 && rc != 0; i++) {
        if (profd_mkdir_p(dir, 0755) != 0) {
            profd_error_set(err, NULL, "cannot create directory %s for object %s: %s", dir, object,
                            strerror(errno));
            return -1;
        }
        rc = blob__file_copy_to_temp(src, path, tmp, sizeof tmp, err);
        if (rc != 0 && errno != ENOENT)
            return -1;
    }
    if (rc != 0)
        return -1;
    int lfd = lock_dir(dir);
    int64_t gen = 0;
    rc = swap_in(tmp, path, object, if_generation, &gen, err);
    if (rc != 0)
        unlink(tmp);
    else
        blob__file_fsync_dir(dir);
    if (lfd >= 0)
        close(lfd);
    if (rc == 0 && generation)
        *generation = gen;
    return rc;
}

static int file_get(profd_blob *b, const char *object, const char *dest, profd_error *err)
{
    file_blob *fb = (file_blob *)b;
    char path[PATH_MAX], tmp[PATH_MAX + 32];
    if (object_path(fb, object, path, sizeof path, err) != 0)
        return -1;
    int in = blob__file_open_object(fb->dir, object, err);
    if (in < 0)
        return -1;
    if (blob__file_copy_fd_to_temp(in, path, dest, tmp, sizeof tmp, err) != 0)
        return -1;
    if (rename(tmp, dest) != 0) {
        profd_error_set(err, NULL, "cannot write %s: %s", dest, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int file_stat(profd_blob *b, const char *object, int64_t *generation, int64_t *size,
                     int64_t *mtime_ms, profd_error *err)
{
    file_blob *fb = (file_blob *)b;
    char path[PATH_MAX];
    if (object_path(fb, object, path, sizeof path, err) != 0)
        return -1;
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;
        profd_error_set(err, NULL, "cannot stat object %s: %s", object, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode))
        return 0;
    if (generation)
        *generation = gen_of(&st);
    if (size)
        *size = st.st_size;
    if (mtime_ms)
        *mtime_ms = gen_of(&st) / 1000000;
    return 1;
}

/* Remove the object, then any directories it leaves empty (up to DIR). */
static int file_remove(profd_blob *b, const char *object, profd_error *err)
{
    file_blob *fb = (file_blob *)b;
    char path[PATH_MAX];
    if (object_path(fb, object, path, sizeof path, err) != 0)
        return -1;
    if (unlink(path) != 0 && errno != ENOENT && errno != ENOTDIR) {
        profd_error_set(err, NULL, "cannot remove object %s: %s", object, strerror(errno));
        return -1;
    }
    for (char *slash = strrchr(path, '/'); slash && slash > path + strlen(fb->dir);
         slash = strrchr(path, '/')) {
        *slash = '\0';
        if (rmdir(path) != 0)
            break;
    }
    return 0;
}

static void file_close(profd_blob *b)
{
    free(b);
}

static const profd_blob_ops file_ops = {
    file_put, file_get, file_stat, file_remove, blob__file_list, blob__file_link, file_close,
};

profd_blob *profd_blob_file_open(const char *dir, profd_error *err)
{
    if (!dir || !dir[0]) {
        profd_error_set(err, NULL, "file store needs a directory: use file:///DIR");
        return NULL;
    }
    if (profd_mkdir_p(dir, 0755) != 0) {
        profd_error_set(err, NULL, "cannot create the storage directory %s: %s", dir,
                        strerror(errno));
        return NULL;
    }
    file_blob *fb = calloc(1, sizeof *fb);
    if (!fb) {
        profd_error_set(err, NULL, "out of memory");
        return NULL;
    }
    if (!realpath(dir, fb->dir)) {
        profd_error_set(err, NULL, "cannot resolve the storage directory %s: %s", dir,
                        strerror(errno));
        free(fb);
        return NULL;
    }
    fb->base.ops = &file_ops;
    return &fb->base;
}

void profd_blob_file_set_link_base(profd_blob *b, const char *base_url, const char *key)
{
    if (!b || b->ops != &file_ops)
        return;
    file_blob *fb = (file_blob *)b;
    profd_strlcpy(fb->link_base, base_url ? base_url : "", sizeof fb->link_base);
    size_t n = strlen(fb->link_base);
    while (n > 0 && fb->link_base[n - 1] == '/')
        fb->link_base[--n] = '\0';
    profd_strlcpy(fb->key, key ? key : "", sizeof fb->key);
}
