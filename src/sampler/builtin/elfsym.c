/* elfsym.c - the few symbols the sampler needs from an ELF file.
 *
 * The file is mapped read-only and its section headers walked for the symbol
 * tables: .dynsym (always present in a shared libpython or an executable that
 * exports its API) and .symtab (present unless stripped). `_PyRuntime` gives
 * the address and, through st_size, the size of the runtime state, which is
 * the check that the layout of the detected version really applies.
 * Py_Version (3.11+) gives the exact version; PyCode_Type lets the sampler
 * confirm that a frame's code pointer really is a code object; _Py_NegativeRefcount
 * exists only in debug builds (Py_REF_DEBUG), which names the build. The first
 * PT_LOAD's page-aligned vaddr is what the mapping's start corresponds to, so
 * load bias = mapping start - that vaddr. Every offset read from the file is
 * bounds-checked: the file comes from the target's filesystem. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pysampler.h"

typedef struct image {
    const uint8_t *p;
    size_t n;
} image;

static bool in_bounds(const image *im, uint64_t off, uint64_t len)
{
    return off <= im->n && len <= im->n - off;
}

static void take_symbol(py_symbols *out, const char *name, const Elf64_Sym *s)
{
    if (s->st_shndx == SHN_UNDEF || s->st_value == 0)
        return;
    if (strcmp(name, "_PyRuntime") == 0) {
        out->runtime = s->st_value;
        out->runtime_size = s->st_size;
    } else if (strcmp(name, "Py_Version") == 0) {
        out->py_version = s->st_value;
    } else if (strcmp(name, "PyCode_Type") == 0) {
        out->code_type = s->st_value;
    } else if (strcmp(name, "_Py_NegativeRefcount") == 0) {
        out->debug_build = true;
    }
}

static void scan_symtab(const image *im, const Elf64_Shdr *sh, const Elf64_Shdr *shs, int nsh,
                        py_symbols *out)
{
    if (sh->sh_entsize != sizeof(Elf64_Sym) || sh->sh_link >= (unsigned)nsh)
        return;
    const Elf64_Shdr *str = &shs[sh->sh_link];
    if (!in_bounds(im, sh->sh_offset, sh->sh_size) || !in_bounds(im, str->sh_offset, str->sh_size))
        return;
    const Elf64_Sym *syms = (const Elf64_Sym *)(im->p + sh->sh_offset);
    const char *strs = (const char *)(im->p + str->sh_offset);
    size_t count = sh->sh_size / sizeof(Elf64_Sym);
    for (size_t i = 0; i < count; i++) {
        uint32_t nm = syms[i].st_name;
        if (nm >= str->sh_size || (strs[nm] != '_' && strs[nm] != 'P'))
            continue;
        if (memchr(strs + nm, '\0', str->sh_size - nm) == NULL)
            continue;
        take_symbol(out, strs + nm, &syms[i]);
    }
}

static int parse(const image *im, py_symbols *out)
{
    if (!in_bounds(im, 0, sizeof(Elf64_Ehdr)))
        return -1;
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)im->p;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
        eh->e_machine != EM_X86_64)
        return -1;
    if (eh->e_phentsize != sizeof(Elf64_Phdr) ||
        !in_bounds(im, eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr)))
        return -1;
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(im->p + eh->e_phoff);
    for (int i = 0; i < eh->e_phnum; i++)
        if (ph[i].p_type == PT_LOAD) {
            out->first_load_vaddr = ph[i].p_vaddr & ~(uint64_t)0xfff;
            break;
        }
    if (eh->e_shentsize != sizeof(Elf64_Shdr) ||
        !in_bounds(im, eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr)))
        return -1;
    const Elf64_Shdr *sh = (const Elf64_Shdr *)(im->p + eh->e_shoff);
    for (int i = 0; i < eh->e_shnum; i++)
        if (sh[i].sh_type == SHT_DYNSYM || sh[i].sh_type == SHT_SYMTAB)
            scan_symtab(im, &sh[i], sh, eh->e_shnum, out);
    return 0;
}

int py_elf_symbols(const char *path, py_symbols *out)
{
    memset(out, 0, sizeof(*out));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = py_elf_symbols_fd(fd, out);
    close(fd);
    return rc;
}

int py_elf_symbols_fd(int fd, py_symbols *out)
{
    memset(out, 0, sizeof(*out));
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(Elf64_Ehdr)) {
        errno = ENOEXEC;
        return -1;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED)
        return -1;
    image im = {p, (size_t)st.st_size};
    int rc = parse(&im, out);
    munmap(p, im.n);
    return rc;
}
