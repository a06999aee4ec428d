/* file_io.c - durable copies for the file store.
 *
 * A file is never written in place: the bytes go to a hidden temporary file
 * in the destination's own directory (".profd-tmp-XXXXXX", so rename(2) stays
 * on one file system), are fsync'ed, and only then linked or renamed to the
 * final name. A reader therefore sees either the old object or the complete
 * new one, never a torn write, and a crash leaves at most a temp file that
 * listing ignores. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

int blob__file_copy_to_temp(const char *src, const char *dest, char *tmp, size_t tmplen,
                            profd_error *err)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        profd_error_set(err, NULL, "cannot read %s: %s", src, strerror(errno));
        return -1;
    }
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
