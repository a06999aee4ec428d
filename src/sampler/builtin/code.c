/* code.c - code objects: name, filename, line table, cached by address.
 *
 * A sample needs, per frame, the function's name, its filename and the line.
 * The first two and the line table never change for a code object, so they
 * are read once and kept in an open-addressed table keyed by the code
 * object's address. Addresses get reused when code objects die, so every
 * lookup re-reads the small header of the object (one read) and compares the
 * pointers to filename, name and line table and the first line with what was
 * cached; a mismatch loads a new entry in front of the stale one. Entries are
 * never freed before the end, so a frame of the current sample can keep
 * pointing at its entry (the table only grows with distinct code objects). When PyCode_Type's
 * address is known the object's type is checked too, which rejects the non-code executables a 3.13
 * frame may carry and garbage from a torn read. Names longer than NAME_CUT bytes (filenames:
 * FILENAME_CUT) are cut with a visible "[...cut]" at the end, never silently. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pysampler.h"

#define CACHE_SLOTS 4096 /* power of two */
#define MAX_TABLE (1 << 20)
#define NAME_CUT 1000     /* bytes of a function name kept */
#define FILENAME_CUT 4000 /* bytes of a filename kept */
#define CUT_MARK "[...cut]"

typedef struct entry {
    py_code code;
    unsigned seen; /* the cache's tick at its last header check */
    struct entry *next;
} entry;

struct py_code_cache {
    entry *slots[CACHE_SLOTS];
    unsigned tick;
};

void py_code_cache_tick(py_code_cache *cc)
{
    cc->tick++;
}

const py_code *py_code_recent(py_code_cache *cc, uint64_t addr)
{
    for (entry *e = cc->slots[(addr >> 4) & (CACHE_SLOTS - 1)]; e; e = e->next)
        if (e->code.addr == addr && e->seen == cc->tick)
            return &e->code;
    return NULL;
}

py_code_cache *py_code_cache_new(void)
{
    return calloc(1, sizeof(py_code_cache));
}

static void clear(py_code *c)
{
    free(c->name);
    free(c->filename);
    free(c->short_filename);
    free(c->table);
    memset(c, 0, sizeof(*c));
}

void py_code_cache_free(py_code_cache *cc)
{
    if (!cc)
        return;
    for (int i = 0; i < CACHE_SLOTS; i++) {
        entry *e = cc->slots[i];
        while (e) {
            entry *next = e->next;
            clear(&e->code);
            free(e);
            e = next;
        }
    }
    free(cc);
}

static bool exists(pid_t pid, const char *path)
{
    char full[4400];
    struct stat st;
    snprintf(full, sizeof(full), "/proc/%d/root%s", (int)pid, path);
    return stat(full, &st) == 0 || stat(path, &st) == 0;
}

void py_short_filename(pid_t pid, const char *filename, char *out, size_t len)
{
    char dir[4096];
    snprintf(out, len, "%s", filename);
    if (filename[0] != '/' || strlen(filename) >= sizeof(dir) - 16)
        return;
    /* Walk up while the parent is a package (has __init__.py). */
    snprintf(dir, sizeof(dir), "%s", filename);
    size_t keep = 0;
    for (;;) {
        char *slash = strrchr(dir, '/');
        if (!slash)
            break;
        *slash = '\0';
        keep = (size_t)(slash - dir) + 1; /* strip "dir/" */
        if (dir[0] == '\0')
            break;
        char init[4120];
        snprintf(init, sizeof(init), "%s/__init__.py", dir);
        if (!exists(pid, init))
            break;
    }
    snprintf(out, len, "%s", filename + keep);
}

/* Read a name (at most `cut` bytes kept) as a new string. A longer one is cut on a UTF-8
 * character boundary and ends in CUT_MARK, so the cut is visible in every output. */
static char *read_str_dup(const py_target *t, uint64_t addr, size_t cut)
{
    static char buf[8192];
    if (py_read_str(t, addr, buf, sizeof(buf)) != 0)
        return NULL;
    size_t n = strlen(buf);
    if (n > cut) {
        n = cut;
        while (n > 0 && ((unsigned char)buf[n] & 0xC0) == 0x80)
            n--; /* back to the start of a character */
        snprintf(buf + n, sizeof(buf) - n, "%s", CUT_MARK);
    }
    return strdup(buf);
}

static int load(py_code *c, const py_target *t, uint64_t addr, const uint64_t key[4], int first,
                int traceable)
{
    const py_layout *L = t->L;
    clear(c);
    c->addr = addr;
    memcpy(c->key, key, sizeof(c->key));
    c->first_line = first;
    c->first_traceable = traceable;
    c->name = read_str_dup(t, key[1], NAME_CUT);
    c->filename = read_str_dup(t, key[0], FILENAME_CUT);
    uint64_t tab = key[2];
    int64_t tlen;
    if (!c->name || !c->filename || py_read(t->pid, tab + (uint64_t)L->bytes_size, &tlen, 8) != 0 ||
        tlen < 0 || tlen > MAX_TABLE)
        goto bad;
    c->table = malloc((size_t)tlen + 1);
    if (!c->table || py_read(t->pid, tab + (uint64_t)L->bytes_sval, c->table, (size_t)tlen) != 0)
        goto bad;
    c->table_len = (size_t)tlen;
    char shortname[4096];
    py_short_filename(t->pid, c->filename, shortname, sizeof(shortname));
    c->short_filename = strdup(shortname);
    if (!c->short_filename)
        goto bad;
    c->valid = true;
    return 0;
bad:
    clear(c);
    return -1;
}

size_t py_code_header_size(const py_layout *L)
{
    size_t need = (size_t)L->co_linetable + 8;
    if (L->co_firsttraceable + 4 > (int)need)
        need = (size_t)L->co_firsttraceable + 4;
    if (L->ob_type + 8 > (int)need)
        need = (size_t)L->ob_type + 8;
    return need;
}

const py_code *py_code_from_header(py_code_cache *cc, const py_target *t, uint64_t addr,
                                   const uint8_t *hdr)
{
    const py_layout *L = t->L;
    uint64_t type, key[4] = {0};
    memcpy(&type, hdr + L->ob_type, 8);
    if (t->code_type && type != t->code_type)
        return NULL;
    int32_t first, traceable = 0;
    memcpy(&key[0], hdr + L->co_filename, 8);
    memcpy(&key[1], hdr + (L->co_qualname >= 0 ? L->co_qualname : L->co_name), 8);
    memcpy(&key[2], hdr + L->co_linetable, 8);
    memcpy(&first, hdr + L->co_firstlineno, 4);
    if (L->co_firsttraceable >= 0)
        memcpy(&traceable, hdr + L->co_firsttraceable, 4);
    key[3] = (uint64_t)(uint32_t)first;
    entry **slot = &cc->slots[(addr >> 4) & (CACHE_SLOTS - 1)];
    for (entry *e = *slot; e; e = e->next)
        if (e->code.addr == addr && memcmp(e->code.key, key, sizeof(key)) == 0) {
            e->seen = cc->tick;
            return &e->code;
        }
    entry *e = calloc(1, sizeof(*e));
    if (!e || load(&e->code, t, addr, key, first, traceable) != 0) {
        free(e);
        return NULL;
    }
    e->seen = cc->tick;
    e->next = *slot;
    *slot = e;
    return &e->code;
}

const py_code *py_code_get(py_code_cache *cc, const py_target *t, uint64_t addr)
{
    uint8_t hdr[PY_CODE_HDR_MAX];
    if (addr == 0 || py_read(t->pid, addr, hdr, py_code_header_size(t->L)) != 0)
        return NULL;
    return py_code_from_header(cc, t, addr, hdr);
}

int py_code_line(const py_target *t, const py_code *code, int off)
{
    if (off < 0)
        return code->first_line;
    switch (t->L->linetable) {
    case LT_LNOTAB:
        return py_line_lnotab(code->table, code->table_len, code->first_line, off);
    case LT_PEP626:
        return py_line_pep626(code->table, code->table_len, code->first_line, off);
    default:
        return py_line_locations(code->table, code->table_len, code->first_line, off);
    }
}
