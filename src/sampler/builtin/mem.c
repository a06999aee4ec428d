/* mem.c - reading the target's memory.
 *
 * process_vm_readv copies straight from the target's address space without
 * stopping it and without a ptrace attach (it needs the same permission as
 * ptrace: same uid and no yama restriction, or CAP_SYS_PTRACE). A partial read
 * counts as a failure: the caller treats it like an unmapped address. */
#include <errno.h>
#include <limits.h>
#include <sys/uio.h>

#include "pysampler.h"

int py_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
    if (len == 0)
        return 0;
    if (addr == 0) {
        errno = EFAULT;
        return -1;
    }
    struct iovec local = {buf, len};
    struct iovec remote = {(void *)(uintptr_t)addr, len};
    ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
    if (n == (ssize_t)len)
        return 0;
    if (n >= 0)
        errno = EFAULT;
    return -1;
}

int py_read_ptr(pid_t pid, uint64_t addr, uint64_t *out)
{
    return py_read(pid, addr, out, sizeof(*out));
}

int py_read_vec(pid_t pid, const uint64_t *addrs, const size_t *lens, uint8_t *const *bufs, int n)
{
    struct iovec local[64], remote[64];
    int done = 0;
    while (done < n) {
        int k = n - done < 64 ? n - done : 64;
        size_t want = 0;
        for (int i = 0; i < k; i++) {
            local[i].iov_base = bufs[done + i];
            local[i].iov_len = lens[done + i];
            remote[i].iov_base = (void *)(uintptr_t)addrs[done + i];
            remote[i].iov_len = lens[done + i];
            want += lens[done + i];
        }
        ssize_t got = process_vm_readv(pid, local, (unsigned long)k, remote, (unsigned long)k, 0);
        if (got < 0)
            return done;
        if ((size_t)got < want) { /* count the pieces read in full */
            for (int i = 0; i < k && (size_t)got >= lens[done + i]; i++) {
                got -= (ssize_t)lens[done + i];
                done++;
            }
            return done;
        }
        done += k;
    }
    return done;
}

int py_read_many(pid_t pid, const uint64_t *addrs, size_t len, uint8_t *bufs, int n)
{
    struct iovec local[512], remote[512];
    int done = 0;
    while (done < n) {
        int k = n - done < 512 ? n - done : 512;
        for (int i = 0; i < k; i++) {
            local[i].iov_base = bufs + (size_t)(done + i) * len;
            local[i].iov_len = len;
            remote[i].iov_base = (void *)(uintptr_t)addrs[done + i];
            remote[i].iov_len = len;
        }
        ssize_t got = process_vm_readv(pid, local, (unsigned long)k, remote, (unsigned long)k, 0);
        if (got < 0)
            return done;
        done += (int)((size_t)got / len);
        if ((size_t)got < (size_t)k * len)
            return done;
    }
    return done;
}
