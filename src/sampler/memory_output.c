/* memory_output.c - reading what the memory capture script wrote in the target.
 *
 * The file lives in the target's root and the target's own code can write anything there, so
 * it is parsed as untrusted input: a bounded size (PROFD_MEMORY_OUTPUT_MAX), bounded lines, a
 * fixed first and last line, one summary, stack lines whose weights are canonical decimals and
 * whose frames are non-empty and free of control bytes, and a summary that agrees with the
 * stacks. Nothing is kept from a file that breaks any rule: the caller gets one line saying
 * which rule, with the line number. The stacks are copied out in collapsed form (the input of
 * the renderer, weights in bytes). tests/sampler and fuzz/fuzz_memory_output exercise it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "profd/sampler.h"

#define HEADER "# profd-memory 1"
#define WEIGHT_MAX 9007199254740992ULL /* 2^53: exact in every JSON reader */

static int bad(char *msg, size_t len, long line, const char *why)
{
    if (line > 0)
        snprintf(msg, len, "memory capture output, line %ld: %s", line, why);
    else
        snprintf(msg, len, "memory capture output: %s", why);
    return -1;
}

/* A canonical decimal (no sign, no leading zero) of at most 16 digits into *out. */
static bool decimal(const char *s, size_t n, unsigned long long *out)
{
    if (n == 0 || n > 16 || (n > 1 && s[0] == '0'))
        return false;
    unsigned long long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned long long)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* "key=DECIMAL" among the words of a summary line. */
static bool summary_value(const char *line, size_t n, const char *key, unsigned long long *out)
{
    size_t k = strlen(key);
    for (size_t i = 0; i + k + 1 < n; i++) {
        if ((i == 0 || line[i - 1] == ' ') && memcmp(line + i, key, k) == 0 && line[i + k] == '=') {
            size_t start = i + k + 1, end = start;
            while (end < n && line[end] != ' ')
                end++;
            return decimal(line + start, end - start, out);
        }
    }
    return false;
}

static int summary(const char *line, size_t n, long no, profd_memory_summary *sum, char *msg,
                   size_t len)
{
    unsigned long long bytes, blocks, peak, frames;
    if (!summary_value(line, n, "bytes", &bytes) || !summary_value(line, n, "blocks", &blocks) ||
        !summary_value(line, n, "peak", &peak) || !summary_value(line, n, "frames", &frames) ||
        bytes > WEIGHT_MAX || blocks > WEIGHT_MAX || peak > WEIGHT_MAX || frames < 1 ||
        frames > 65535)
        return bad(msg, len, no, "the summary needs bytes=, blocks=, peak= and frames= numbers");
    const char *t = memmem(line, n, " tracer=", 8);
    if (!t || (size_t)(t - line) + 8 > n)
        return bad(msg, len, no, "the summary needs tracer=profd or tracer=target");
    size_t rest = n - (size_t)(t - line) - 8;
    if (rest == 5 && memcmp(t + 8, "profd", 5) == 0)
        sum->traced_by_target = false;
    else if (rest == 6 && memcmp(t + 8, "target", 6) == 0)
        sum->traced_by_target = true;
    else
        return bad(msg, len, no, "tracer= must be profd or target, at the end of the summary");
    sum->bytes = (long long)bytes;
    sum->blocks = (long long)blocks;
    sum->peak = (long long)peak;
    sum->frames = (int)frames;
    return 0;
}

/* A stack line "f;f;f WEIGHT": checked, then copied to out. */
static int stack(const char *line, size_t n, long no, FILE *out, unsigned long long *total,
                 char *msg, size_t len)
{
    const char *sp = memrchr(line, ' ', n);
    unsigned long long w;
    if (!sp || sp == line || !decimal(sp + 1, n - (size_t)(sp + 1 - line), &w) || w == 0 ||
        w > WEIGHT_MAX)
        return bad(msg, len, no, "a stack line must end in a space and a positive byte count");
    size_t frames = 1, flen = 0;
    for (const char *p = line; p < sp; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f)
            return bad(msg, len, no, "control character in a frame");
        if (c == ';') {
            if (flen == 0)
                return bad(msg, len, no, "empty frame");
            frames++;
            flen = 0;
        } else {
            flen++;
        }
    }
    if (flen == 0)
        return bad(msg, len, no, "empty frame");
    if (frames > PROFD_MEMORY_FRAMES_MAX_READ)
        return bad(msg, len, no, "more frames than any traceback limit allows");
    *total += w;
    if (*total > WEIGHT_MAX)
        return bad(msg, len, no, "the byte counts add up to more than 2^53");
    if (out && (fwrite(line, 1, n, out) != n || fputc('\n', out) == EOF))
        return bad(msg, len, 0, "cannot write the stacks");
    return 0;
}

int profd_memory_parse(const char *buf, size_t len, FILE *out, profd_memory_summary *sum, char *msg,
                       size_t msglen)
{
    memset(sum, 0, sizeof *sum);
    if (len > PROFD_MEMORY_OUTPUT_MAX)
        return bad(msg, msglen, 0, "larger than the 64 MiB limit");
    if (memchr(buf, '\0', len))
        return bad(msg, msglen, 0, "contains a NUL byte");
    if (len == 0 || buf[len - 1] != '\n')
        return bad(msg, msglen, 0, "incomplete (it does not end with a newline)");
    unsigned long long total = 0;
    bool have_summary = false, ended = false;
    long no = 0;
    for (size_t at = 0; at < len;) {
        const char *line = buf + at;
        const char *nl = memchr(line, '\n', len - at);
        size_t n = (size_t)(nl - line);
        at += n + 1;
        no++;
        if (n > PROFD_MEMORY_LINE_MAX)
            return bad(msg, msglen, no, "line longer than 256 KiB");
        if (ended)
            return bad(msg, msglen, no, "text after '# end'");
        if (no == 1) {
            if (n != strlen(HEADER) || memcmp(line, HEADER, n) != 0)
                return bad(msg, msglen, no, "the first line must be '" HEADER "'");
            continue;
        }
        if (n >= 2 && line[0] == '#' && line[1] == ' ') {
            if (n == 5 && memcmp(line, "# end", 5) == 0) {
                ended = true;
            } else if (n > 8 && memcmp(line, "# error ", 8) == 0) {
                char what[64];
                size_t k = 0;
                for (size_t i = 8; i < n && k + 1 < sizeof what; i++)
                    what[k++] = line[i] >= 0x21 && line[i] <= 0x7e ? line[i] : '?';
                what[k] = '\0';
                snprintf(msg, msglen, "the memory capture script failed in the target (%s)", what);
                return -1;
            } else if (n > 10 && memcmp(line, "# summary ", 10) == 0 && !have_summary) {
                if (summary(line, n, no, sum, msg, msglen) != 0)
                    return -1;
                have_summary = true;
            } else {
                return bad(msg, msglen, no, "unknown or repeated '#' line");
            }
            continue;
        }
        if (have_summary)
            return bad(msg, msglen, no, "a stack line after the summary");
        if (sum->stacks >= PROFD_MEMORY_STACKS_MAX)
            return bad(msg, msglen, no, "more than 2000000 stacks");
        if (stack(line, n, no, out, &total, msg, msglen) != 0)
            return -1;
        sum->stacks++;
    }
    if (!ended)
        return bad(msg, msglen, 0, "it does not end with '# end'");
    if (!have_summary)
        return bad(msg, msglen, 0, "no summary line");
    if (total != (unsigned long long)sum->bytes)
        return bad(msg, msglen, 0, "the summary's bytes= differs from the sum of the stacks");
    return 0;
}

int profd_memory_summary_read(const char *path, profd_memory_summary *sum, double *overhead_percent)
{
    memset(sum, 0, sizeof *sum);
    *overhead_percent = -1;
    json_object *j = json_object_from_file(path);
    if (!j || !json_object_is_type(j, json_type_object)) {
        json_object_put(j);
        return -1;
    }
    json_object *v;
    int rc = 0;
#define INT(k, dst)                                                                                \
    if (json_object_object_get_ex(j, k, &v) && json_object_is_type(v, json_type_int))              \
        dst = json_object_get_int64(v);                                                            \
    else                                                                                           \
        rc = -1;
    INT("bytes_total", sum->bytes);
    INT("blocks_total", sum->blocks);
    INT("peak_bytes", sum->peak);
    INT("stacks", sum->stacks);
    long long frames = 0;
    INT("frames", frames);
#undef INT
    sum->frames = (int)frames;
    if (json_object_object_get_ex(j, "traced_by_target", &v) &&
        json_object_is_type(v, json_type_boolean))
        sum->traced_by_target = json_object_get_boolean(v);
    if (json_object_object_get_ex(j, "overhead_percent", &v) &&
        (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
        *overhead_percent = json_object_get_double(v);
    json_object_put(j);
    return rc;
}
