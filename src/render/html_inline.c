/* html_inline.c - the inline <style> and <script> of the flame graph page.
 *
 * The page is one self-contained file, so its code is inline. A server that
 * sends it under a Content-Security-Policy without 'unsafe-inline' allows
 * exactly these two blocks by their SHA-256 (the API does, docs/console.md).
 * They are found in the page text itself, so the hashes follow any edit of
 * flame.html; the data block (<script type="application/json">) is not code
 * and needs no hash. */
#include <string.h>

#include "internal.h"

static void between(const char *text, const char *open, const char *close, const char **s,
                    size_t *len)
{
    const char *a = strstr(text, open);
    const char *b = a ? strstr(a + strlen(open), close) : NULL;
    *s = a && b ? a + strlen(open) : "";
    *len = a && b ? (size_t)(b - *s) : 0;
}

void profd_render_html_inline(const char **style, size_t *style_len, const char **script,
                              size_t *script_len)
{
    between(render__html_head, "<style>", "</style>", style, style_len);
    between(render__html_tail, "<script>", "</script>", script, script_len);
}
