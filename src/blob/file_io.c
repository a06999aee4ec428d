/* file_io.c - durable copies for the file store.
 *
 * A file is never written in place: the bytes go to a hidden temporary file
 * in the destination's own directory (".profd-tmp-XXXXXX", so rename(2) stays
 * on one file system), are fsync'ed, and only then linked or renamed to the
 * final name. A reader therefore sees either the old object or the complete
 * new one, never a torn write, and a crash leaves at most a temp file that
 * listing ignores.
 *
 * Reading an object never follows a symbolic link, neither the object's own
 * name nor any directory on the way to it: a link planted under the store
 * (sessions/x/raw -> /etc/passwd) must not turn a validly signed file link
 * into a read of anything outside. blob__file_open_beneath uses openat2(2)
 * with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS; on a
 * kernel or sandbox without openat2 (ENOSYS, EPERM from seccomp) it walks
 * the path one component at a time with O_NOFOLLOW, which refuses the same
 * links. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "file_internal.h"

static int copy_fd(int in, int out)
{
    char buf[64 * 1024];
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n == 0)
            return 0;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                return -1;
            }
            off += w;
        }
    }
}

void blob__file_dirname(const char *path, char *out, size_t outlen)
{
    char tmp[PATH_MAX];
    profd_strlcpy(tmp, path, sizeof tmp);
    profd_strlcpy(out, dirname(tmp), outlen);
}

int blob__file_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* The fallback: one component at a time, none of them a link. */
static int open_walk(int dirfd, const char *rel)
{
    char path[PATH_MAX];
    if (profd_strlcpy(path, rel, sizeof path) >= sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int cur = dup(dirfd);
    char *save = NULL;
    char *part = strtok_r(path, "/", &save);
    while (cur >= 0 && part) {
        char *next = strtok_r(NULL, "/", &save);
        if (strcmp(part, "..") == 0 || strcmp(part, ".") == 0) {
            close(cur);
            errno = EXDEV;
            return -1;
        }
        int flags = next ? O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
                         : O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
        int fd = openat(cur, part, flags);
        int e = errno;
        close(cur);
        errno = e;
        cur = fd;
        part = next;
    }
    return cur;
}

int blob__file_open_beneath(int dirfd, const char *rel, bool use_openat2)
{
    if (use_openat2) {
        struct open_how how = {
            .flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        long fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
        if (fd >= 0 || (errno != ENOSYS && errno != EPERM && errno != E2BIG))
            return (int)fd;
    }
    return open_walk(dirfd, rel);
}

int blob__file_open_object(const char *dir, const char *object, profd_error *err)
{
    int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    int fd = dfd >= 0 ? blob__file_open_beneath(dfd, object, true) : -1;
    int e = errno;
    if (dfd >= 0)
        close(dfd);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
        close(fd);
        fd = -1;
        e = ENOENT;
    }
    if (fd < 0) {
        if (e == ELOOP || e == EXDEV || e == ENOTDIR)
            profd_error_set(err, NULL,
                            "object %s not found in %s (a symbolic link on its path is not "
                            "followed)",
                            object, dir);
        else
            profd_error_set(err, NULL, "object %s not found in %s: %s", object, dir, strerror(e));
        errno = e;
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}

int blob__file_copy_to_temp(const char *src, const char *dest, char *tmp, size_t tmplen,
                            profd_error *err)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        profd_error_set(err, NULL, "cannot read %s: %s", src, strerror(errno));
        return -1;
    }
    return blob__file_copy_fd_to_temp(in, src, dest, tmp, tmplen, err);
}

int blob__file_copy_fd_to_temp(int in, const char *src, const char *dest, char *tmp, size_t tmplen,
                               profd_error *err)
{
    char dir[PATH_MAX];
    blob__file_dirname(dest, dir, sizeof dir);
    if (snprintf(tmp, tmplen, "%s/" PROFD_FILE_TMP_PREFIX "XXXXXX", dir) >= (int)tmplen) {
        close(in);
        profd_error_set(err, NULL, "path %s is too long", dest);
        return -1;
    }
    int out = mkostemp(tmp, O_CLOEXEC);
    if (out < 0) {
        int e = errno;
        close(in);
        profd_error_set(err, NULL, "cannot create a file in %s: %s", dir, strerror(e));
        errno = e;
        return -1;
    }
    int rc = copy_fd(in, out);
    int e = errno;
    if (rc == 0 && (fchmod(out, 0644) != 0 || fsync(out) != 0)) {
        rc = -1;
        e = errno;
    }
    close(in);
    if (close(out) != 0 && rc == 0) {
        rc = -1;
        e = errno;
    }
    if (rc != 0) {
        unlink(tmp);
        profd_error_set(err, NULL, "cannot copy %s to %s: %s", src, dir, strerror(e));
        return -1;
    }
    return 0;
}
