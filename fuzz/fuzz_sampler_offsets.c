/* fuzz_sampler_offsets.c - libFuzzer target for what the built-in sampler parses from a
 * target it does not trust: the `_Py_DebugOffsets` block at the start of `_PyRuntime`
 * (src/sampler/builtin/debug_offsets.c, and the layout built from it in layout.c) and the
 * interpreter's ELF file (elfsym.c), both under the control of whoever runs the target.
 *
 * Input: the first byte picks what the rest is (modulo 3): 0 a raw block; 1 a block after the
 * "xdebugpy" cookie, repeated to the full length read (so short inputs reach the field checks);
 * 2 an ELF file (through a memfd). Properties beyond "no crash, leak or UB":
 *  - a block that parses has every offset inside its structure's stated size;
 *  - a layout built from it fits the sampler's read buffers (PY_TS_MAX, PY_FRAME_MAX,
 *    PY_CODE_HDR_MAX), so no later read can run past them. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pysampler.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_block(const uint8_t *data, size_t size, bool cookie)
{
    uint8_t blob[PY_DEBUG_OFFSETS_READ];
    size_t n = size < sizeof(blob) ? size : sizeof(blob);
    memcpy(blob, data, n);
    if (cookie && size > 0) {
        memcpy(blob, "xdebugpy", 8);
        for (size_t i = 8; i < sizeof(blob); i++)
            blob[i] = data[(i - 8) % size];
        n = sizeof(blob);
    }
    py_debug_offsets d;
    char why[200];
    if (py_debug_offsets_parse(blob, n, &d, why, sizeof(why)) != PY_DO_OK)
        return;
    if (d.thread_state.next != PY_DO_ABSENT && d.thread_state.next >= d.thread_state.size)
        abort();
    if (d.code_object.qualname != PY_DO_ABSENT && d.code_object.qualname >= d.code_object.size)
        abort();
    py_layout L;
    if (py_layout_from_debug_offsets(&d, &L, why, sizeof(why)) != 0)
        return;
    if (L.ts_read > PY_TS_MAX || L.if_read > PY_FRAME_MAX ||
        py_code_header_size(&L) > PY_CODE_HDR_MAX || L.str_state + 4 > 64 ||
        L.str_length + 8 > 64 || L.if_owner < 0)
        abort();
}

static void fuzz_elf(const uint8_t *data, size_t size)
{
    int fd = memfd_create("elf", MFD_CLOEXEC);
    if (fd < 0)
        return;
    if (size == 0 || write(fd, data, size) == (ssize_t)size) {
        py_symbols s;
        (void)py_elf_symbols_fd(fd, &s);
    }
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] % 3 == 2)
        fuzz_elf(data + 1, size - 1);
    else
        fuzz_block(data + 1, size - 1, data[0] % 3 == 1);
    return 0;
}
