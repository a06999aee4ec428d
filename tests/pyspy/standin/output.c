/* output.c - the four output formats of `py-spy record`.
 *
 * raw (collapsed stacks), speedscope JSON, chrome trace JSON and a flame
 * graph SVG, written from the counts and the sample sequence that record.c
 * collected. Every stack is first rendered as py-spy prints it for the given
 * options (--threads, --subprocesses, --nolineno), then written in the
 * format's own shape; JSON numbers are written as serde_json writes them. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "standin.h"

/* "name (file:line)" -> parts; frames without a file (thread/process) keep the whole text. */
static void split_frame(const char *fr, size_t len, char *name, char *file, long *line)
{
    file[0] = '\0';
    *line = 0;
    snprintf(name, MAX_FRAME_TEXT, "%.*s", (int)len, fr);
    if (len < 4 || fr[len - 1] != ')' || !strncmp(fr, "thread (", 8) || !strncmp(fr, "process ", 8))
        return;
    const char *open = NULL;
    for (const char *p = fr; p + 1 < fr + len; p++)
        if (p[0] == ' ' && p[1] == '(')
            open = p;
    if (!open)
        return;
    snprintf(name, MAX_FRAME_TEXT, "%.*s", (int)(open - fr), fr);
    const char *in = open + 2, *end = fr + len - 1;
    const char *colon = memrchr(in, ':', (size_t)(end - in));
    if (colon && colon + 1 < end && isdigit((unsigned char)colon[1])) {
        *line = atol(colon + 1);
        snprintf(file, MAX_FRAME_TEXT, "%.*s", (int)(colon - in), in);
    } else {
        snprintf(file, MAX_FRAME_TEXT, "%.*s", (int)(end - in), in);
    }
}

/* The collapsed text of a stack as py-spy prints it for the given options. */
static void render_stack(const opts *o, const stack *s, long pid, char *out, size_t len)
{
    size_t n = 0;
    out[0] = '\0';
    if (o->subprocesses) {
        char cmd[1024];
        read_proc_text(pid, "cmdline", cmd, sizeof cmd, true);
        n += (size_t)snprintf(out + n, len - n, "process %ld:\"%s\";", pid, cmd);
    }
    if (o->threads && s->thread < nthreads && n < len)
        n += (size_t)snprintf(out + n, len - n, "thread (%ld): %s;", threads[s->thread].tid,
                              threads[s->thread].name);
    for (const char *p = s->frames; *p && n < len;) {
        const char *e = strchr(p, ';');
        size_t flen = e ? (size_t)(e - p) : strlen(p);
        char name[MAX_FRAME_TEXT], file[MAX_FRAME_TEXT];
        long line;
        split_frame(p, flen, name, file, &line);
        if (!file[0])
            n += (size_t)snprintf(out + n, len - n, "%s;", name);
        else if (o->nolineno || line == 0)
            n += (size_t)snprintf(out + n, len - n, "%s (%s);", name, file);
        else
            n += (size_t)snprintf(out + n, len - n, "%s (%s:%ld);", name, file, line);
        p = e ? e + 1 : p + flen;
    }
    if (n > 0 && n <= len && out[n - 1] == ';')
        out[n - 1] = '\0';
}

void write_raw(FILE *f, const opts *o, long pid)
{
    static char text[65536];
    for (int k = 0; k < nstacks; k++) {
        if (!stacks[k].count)
            continue;
        render_stack(o, &stacks[k], pid, text, sizeof text);
        fprintf(f, "%s %ld\n", text, stacks[k].count);
    }
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* Shortest text that reads back as the same double, with ".0" on integers (serde_json). */
static void json_double(FILE *f, double v)
{
    char buf[64];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    if (!strpbrk(buf, ".en"))
        strcat(buf, ".0");
    fputs(buf, f);
}

typedef struct sframe {
    char name[256], file[256];
    long line;
} sframe;

static void copy(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);
    if (n >= size)
        n = size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static int frame_index(sframe *fr, int *n, const char *name, const char *file, long line)
{
    for (int i = 0; i < *n; i++)
        if (fr[i].line == line && !strcmp(fr[i].name, name) && !strcmp(fr[i].file, file))
            return i;
    if (*n >= 4096)
        return 0;
    copy(fr[*n].name, sizeof fr[*n].name, name);
    copy(fr[*n].file, sizeof fr[*n].file, file);
    fr[*n].line = line;
    return (*n)++;
}

/* One sampled profile per thread, frames shared; samples are frame indices, root first. */
void write_speedscope(FILE *f, const opts *o, long pid, long rate, long *sequence, long nseq)
{
    static sframe frames[4096];
    static int idx[MAX_STACKS][256], depth[MAX_STACKS];
    static char text[65536];
    int nframes = 0;
    for (int k = 0; k < nstacks; k++) {
        depth[k] = 0;
        if (!stacks[k].count)
            continue; /* py-spy only knows the frames it has seen */
        render_stack(o, &stacks[k], pid, text, sizeof text);
        for (char *p = text; *p && depth[k] < 256;) {
            char *e = strchr(p, ';');
            size_t flen = e ? (size_t)(e - p) : strlen(p);
            char name[MAX_FRAME_TEXT], file[MAX_FRAME_TEXT];
            long line;
            split_frame(p, flen, name, file, &line);
            if (o->nolineno)
                line = 0;
            idx[k][depth[k]++] = frame_index(frames, &nframes, name, file, line);
            p = e ? e + 1 : p + flen;
        }
    }
    fputs("{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\",\"profiles\":[", f);
    bool first_profile = true;
    for (int th = 0; th < nthreads; th++) {
        long n = 0;
        for (long i = 0; i < nseq; i++)
            n += stacks[sequence[i]].thread == th;
        if (!n)
            continue;
        char pname[256];
        if (o->subprocesses)
            snprintf(pname, sizeof pname, "Process %ld Thread %ld \"%s\"", pid, threads[th].tid,
                     threads[th].name);
        else
            snprintf(pname, sizeof pname, "Thread %ld \"%s\"", threads[th].tid, threads[th].name);
        fprintf(f, "%s{\"type\":\"sampled\",\"name\":", first_profile ? "" : ",");
        first_profile = false;
        json_string(f, pname);
        fputs(",\"unit\":\"seconds\",\"startValue\":0.0,\"endValue\":", f);
        json_double(f, (double)n / (double)rate);
        fputs(",\"samples\":[", f);
        bool first = true;
        for (long i = 0; i < nseq; i++) {
            int k = (int)sequence[i];
            if (stacks[k].thread != th)
                continue;
            fputs(first ? "[" : ",[", f);
            first = false;
            for (int d = 0; d < depth[k]; d++)
                fprintf(f, "%s%d", d ? "," : "", idx[k][d]);
            fputc(']', f);
        }
        fputs("],\"weights\":[", f);
        for (long i = 0; i < n; i++) {
            if (i)
                fputc(',', f);
            json_double(f, 1.0 / (double)rate);
        }
        fputs("]}", f);
    }
    fputs("],\"shared\":{\"frames\":[", f);
    for (int i = 0; i < nframes; i++) {
        fputs(i ? ",{\"name\":" : "{\"name\":", f);
        json_string(f, frames[i].name);
        fputs(",\"file\":", f);
        json_string(f, frames[i].file);
        if (o->nolineno)
            fputs(",\"line\":null,\"col\":null}", f);
        else
            fprintf(f, ",\"line\":%ld,\"col\":null}", frames[i].line);
    }
    fputs("]},\"activeProfileIndex\":null,\"exporter\":\"py-spy@" VERSION
          "\",\"name\":\"py-spy profile\"}\n",
          f);
}

static void xml_text(FILE *f, const char *s, size_t n)
{
    for (size_t i = 0; i < n && s[i]; i++) {
        char c = s[i];
        if (c == '<')
            fputs("&lt;", f);
        else if (c == '>')
            fputs("&gt;", f);
        else if (c == '&')
            fputs("&amp;", f);
        else if (c == '"')
            fputs("&quot;", f);
        else
            fputc(c, f);
    }
}

/* A plain icicle SVG (py-spy draws inverted flame graphs with inferno): one rect per frame of
 * each distinct stack, merged with its neighbour when the prefix is shared. */
void write_flamegraph(FILE *f, const opts *o, long pid, long total)
{
    static char text[MAX_STACKS][1024];
    int order[MAX_STACKS], n = 0;
    for (int k = 0; k < nstacks; k++)
        if (stacks[k].count) {
            render_stack(o, &stacks[k], pid, text[k], sizeof text[k]);
            order[n++] = k;
        }
    for (int a = 1; a < n; a++) /* insertion sort: few stacks */
        for (int b = a; b > 0 && strcmp(text[order[b - 1]], text[order[b]]) > 0; b--) {
            int t = order[b];
            order[b] = order[b - 1];
            order[b - 1] = t;
        }
    const double width = 1200.0, h = 16.0;
    fprintf(f,
            "<?xml version=\"1.0\" standalone=\"no\"?>\n<svg version=\"1.1\" width=\"1200\" "
            "height=\"%d\" xmlns=\"http://www.w3.org/2000/svg\">\n<text x=\"600\" y=\"20\" "
            "text-anchor=\"middle\">py-spy record</text>\n",
            40 + 64 * 16);
    long x = 0;
    for (int a = 0; a < n; a++) {
        int k = order[a];
        const char *p = text[k];
        for (int d = 0; *p && d < 64; d++) {
            const char *e = strchr(p, ';');
            size_t flen = e ? (size_t)(e - p) : strlen(p);
            /* samples under this frame among the following stacks sharing the prefix */
            size_t plen = (size_t)(p - text[k]) + flen;
            bool shared_before = a > 0 && !strncmp(text[order[a - 1]], text[k], plen) &&
                                 (text[order[a - 1]][plen] == ';' || !text[order[a - 1]][plen]);
            if (!shared_before) {
                long w = 0;
                for (int b = a; b < n && !strncmp(text[order[b]], text[k], plen) &&
                                (text[order[b]][plen] == ';' || !text[order[b]][plen]);
                     b++)
                    w += stacks[order[b]].count;
                fprintf(f, "<g><title>");
                xml_text(f, p, flen);
                fprintf(f,
                        " (%ld samples)</title><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                        "height=\"15\" fill=\"rgb(230,%d,50)\"/></g>\n",
                        w, width * (double)x / (double)total, 30 + d * h,
                        width * (double)w / (double)total, 100 + (d * 37) % 120);
            }
            p = e ? e + 1 : p + flen;
        }
        x += stacks[k].count;
    }
    fputs("</svg>\n", f);
}

void write_chrometrace(FILE *f, const opts *o, long pid, long rate, long *sequence, long nseq)
{
    static char text[65536];
    fputc('[', f);
    for (long i = 0; i < nseq; i++) {
        render_stack(o, &stacks[sequence[i]], pid, text, sizeof text);
        fprintf(f, "%s{\"name\":", i ? "," : "");
        json_string(f, text);
        fprintf(f, ",\"ph\":\"X\",\"ts\":%ld,\"dur\":%ld,\"pid\":%ld,\"tid\":%ld}",
                i * 1000000L / rate, 1000000L / rate, pid, threads[stacks[sequence[i]].thread].tid);
    }
    fputs("]\n", f);
}
