/* mem.c - reading the target's memory.
 *
 * process_vm_readv copies straight from the target's address space without
 * stopping it and without a ptrace attach (it needs the same permission as
 * ptrace: same uid and no yama restriction, or CAP_SYS_PTRACE). A partial read
 * counts as a failure: the caller treats it like an unmapped address. */
#include <errno.h>
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
