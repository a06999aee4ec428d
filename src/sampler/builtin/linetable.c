/* linetable.c - from an instruction offset to a source line, per format.
 *
 * All three take the byte offset of the instruction being executed.
 *  - lnotab (3.8, 3.9; Objects/lnotab_notes.txt): pairs (address increment,
 *    signed line increment); the line is the one in force at the last pair
 *    whose address is <= the offset.
 *  - PEP 626 co_linetable (3.10): pairs (byte length, signed line delta) that
 *    tile the bytecode; delta -128 means "no line" for that range.
 *  - location table (3.11+; Objects/locations.md): entries whose first byte
 *    has bit 7 set, a 4-bit code in bits 3-6 and (length - 1) in code units in
 *    bits 0-2. Codes 0-9 short form (same line, 1 column byte), 10-12 one-line
 *    form (line delta = code - 10, 2 column bytes), 13 no columns (signed
 *    varint line delta), 14 long form (signed varint line delta, then end line,
 *    column and end column varints), 15 no location. Varints are 6-bit groups,
 *    least significant first, bit 6 meaning "more"; signed ones carry the sign
 *    in bit 0. */
#include "pysampler.h"

int py_line_lnotab(const uint8_t *t, size_t n, int first, int off)
{
    int line = first, addr = 0;
    for (size_t i = 0; i + 1 < n; i += 2) {
        addr += t[i];
        if (addr > off)
            break;
        line += (int8_t)t[i + 1];
    }
    return line;
}

int py_line_pep626(const uint8_t *t, size_t n, int first, int off)
{
    int line = first, end = 0;
    for (size_t i = 0; i + 1 < n; i += 2) {
        int start = end;
        end += t[i];
        int8_t delta = (int8_t)t[i + 1];
        if (delta != -128)
            line += delta;
        if (off >= start && off < end)
            return delta == -128 ? -1 : line;
    }
    return -1;
}

static unsigned varint(const uint8_t *t, size_t n, size_t *i)
{
    unsigned v = 0, shift = 0;
    while (*i < n) {
        uint8_t b = t[(*i)++];
        v |= (unsigned)(b & 63) << shift;
        shift += 6;
        if (!(b & 64) || shift > 28)
            break;
    }
    return v;
}

static int svarint(const uint8_t *t, size_t n, size_t *i)
{
    unsigned v = varint(t, n, i);
    return (v & 1) ? -(int)(v >> 1) : (int)(v >> 1);
}

int py_line_locations(const uint8_t *t, size_t n, int first, int off)
{
    int line = first, unit = off / 2, addr = 0;
    size_t i = 0;
    while (i < n) {
        uint8_t b = t[i++];
        if (!(b & 0x80))
            return -1; /* lost sync: corrupt table */
        int code = (b >> 3) & 15, len = (b & 7) + 1, delta = 0;
        bool none = false;
        if (code == 15) {
            none = true;
        } else if (code == 14) {
            delta = svarint(t, n, &i);
            varint(t, n, &i);
            varint(t, n, &i);
            varint(t, n, &i);
        } else if (code == 13) {
            delta = svarint(t, n, &i);
        } else if (code >= 10) {
            delta = code - 10;
            i += 2;
        } else {
            i += 1;
        }
        line += delta;
        if (unit >= addr && unit < addr + len)
            return none ? -1 : line;
        addr += len;
    }
    return -1;
}
