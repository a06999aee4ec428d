/* unicode.c - reading a Python str from the target as UTF-8.
 *
 * Names and filenames are compact str objects (PEP 393): a PyASCIIObject
 * header whose `state` bitfield gives kind (bits 2-4: 1, 2 or 4 bytes per
 * code point), compact (bit 5) and ascii (bit 6). Compact ASCII text follows
 * the PyASCIIObject header; other compact text follows the larger
 * PyCompactUnicodeObject header (both sizes are per version, layout.c).
 * Legacy (non-compact) strings never hold code names and are refused. The
 * text is read in one go, bounded by the caller's buffer, and encoded to
 * UTF-8 here; lone surrogates become U+FFFD so the output stays valid. */
#include <errno.h>
#include <string.h>

#include "pysampler.h"

size_t py_utf8_put(uint32_t cp, char *out, size_t room)
{
    if (cp >= 0xD800 && cp <= 0xDFFF)
        cp = 0xFFFD;
    if (cp < 0x80 && room >= 1) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800 && room >= 2) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000 && room >= 3) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    if (cp >= 0x10000 && cp < 0x110000 && room >= 4) {
        out[0] = (char)(0xF0 | (cp >> 18));
        out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[3] = (char)(0x80 | (cp & 0x3F));
        return 4;
    }
    return 0;
}

int py_read_str(const py_target *t, uint64_t addr, char *out, size_t len)
{
    uint8_t hdr[64]; /* layout.c keeps length + 8 and state + 4 within this */
    const py_layout *L = t->L;
    size_t need =
        (size_t)(L->str_state + 4 > L->str_length + 8 ? L->str_state + 4 : L->str_length + 8);
    out[0] = '\0';
    if (len < 8 || py_read(t->pid, addr, hdr, need) != 0)
        return -1;
    int64_t n;
    uint32_t state;
    memcpy(&n, hdr + L->str_length, 8);    /* PyASCIIObject.length */
    memcpy(&state, hdr + L->str_state, 4); /* PyASCIIObject.state */
    unsigned kind = (state >> 2) & 7, compact = (state >> 5) & 1, ascii = (state >> 6) & 1;
    if (!compact || n < 0 || n > 1 << 20 || (kind != 1 && kind != 2 && kind != 4)) {
        errno = EINVAL;
        return -1;
    }
    size_t max = len - 1; /* code points that could fit, at least one byte each */
    size_t count = (size_t)n < max ? (size_t)n : max;
    uint64_t data = addr + (uint64_t)(ascii ? t->L->ascii_size : t->L->compact_size);
    uint8_t raw[4096];
    if (count * kind > sizeof(raw))
        count = sizeof(raw) / kind;
    if (py_read(t->pid, data, raw, count * kind) != 0)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < count; i++) {
        uint32_t cp = kind == 1 ? raw[i]
                      : kind == 2
                          ? (uint32_t)(raw[2 * i] | raw[2 * i + 1] << 8)
                          : (uint32_t)raw[4 * i] | (uint32_t)raw[4 * i + 1] << 8 |
                                (uint32_t)raw[4 * i + 2] << 16 | (uint32_t)raw[4 * i + 3] << 24;
        size_t w = py_utf8_put(cp, out + o, max - o);
        if (w == 0)
            break;
        o += w;
    }
    out[o] = '\0';
    return 0;
}
