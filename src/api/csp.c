/* csp.c - the Content-Security-Policy of the pages the API serves.
 *
 * Two policies, one place (docs/console.md):
 *  - the console (index, its script and style files): everything from this
 *    origin and nothing else, no inline code at all;
 *  - flame graph pages (…/diff/{other}, and the HTML behind …/flamegraph and
 *    signed file links): the renderer's page is one self-contained file with
 *    an inline style and script, so those two blocks are allowed by their
 *    SHA-256, computed once from the page text the renderer compiles in.
 * Both forbid other origins, plugins, <base> and framing by anyone but this
 * origin (frame-ancestors 'self', so the console can embed a flame graph and
 * no other site can). Every API answer also carries X-Content-Type-Options:
 * nosniff (http.c). */
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "profd/render.h"
#include "server.h"

#define COMMON "object-src 'none'; base-uri 'none'; frame-ancestors 'self'"

const char *api__csp_console(void)
{
    return "default-src 'self'; img-src 'self' data:; connect-src 'self'; frame-src 'self'; "
           "form-action 'self'; " COMMON;
}

static char flame_policy[512];
static pthread_once_t flame_once = PTHREAD_ONCE_INIT;

static void hash_b64(const char *s, size_t len, char *out)
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)s, len, d);
    out[profd_b64_encode(d, sizeof d, false, out)] = '\0';
}

static void build_flame(void)
{
    const char *style, *script;
    size_t sl, cl;
    profd_render_html_inline(&style, &sl, &script, &cl);
    char hs[64], hc[64];
    hash_b64(style, sl, hs);
    hash_b64(script, cl, hc);
    snprintf(flame_policy, sizeof flame_policy,
             "default-src 'self'; script-src 'sha256-%s'; style-src 'sha256-%s'; "
             "img-src 'self' data:; form-action 'none'; " COMMON,
             hc, hs);
}

const char *api__csp_flame(void)
{
    pthread_once(&flame_once, build_flame);
    return flame_policy;
}
