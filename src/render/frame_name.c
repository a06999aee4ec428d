/* frame_name.c - split py-spy style frame names into function, file, line.
 *
 * py-spy writes "func (path/file.py:12)". The split is exact and reversible:
 * only a name ending in " (FILE:LINE)" with a non-empty FILE and a canonical
 * decimal LINE is split, at the last " (", so that joining the parts back as
 * "func (file:line)" always gives the original bytes. Anything else (thread
 * roots such as "thread (0x7f..)", native frames) is a bare function name. */
#include <string.h>

#include "internal.h"

void render__frame_split(const char *s, size_t len, frame_parts *out)
{
    *out = (frame_parts){s, len, "", 0, 0};
    if (len < 5 || s[len - 1] != ')')
        return;
    size_t colon = len - 1, digits = 0;
    while (colon > 0 && s[colon - 1] >= '0' && s[colon - 1] <= '9') {
        colon--;
        digits++;
    }
    if (!digits || digits > 9 || colon == 0 || s[colon - 1] != ':')
        return;
    if (digits > 1 && s[colon] == '0')
        return;
    colon--;
    size_t open = colon;
    while (open >= 2 && !(s[open - 1] == '(' && s[open - 2] == ' '))
        open--;
    if (open < 2 || open == colon)
        return;
    long line = 0;
    for (size_t i = colon + 1; i < len - 1; i++)
        line = line * 10 + (s[i] - '0');
    *out = (frame_parts){s, open - 2, s + open, colon - open, line};
}
