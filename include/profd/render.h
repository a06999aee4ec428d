/* render.h - stacks in, flame graphs out.
 *
 * Inputs (collapsed stacks or speedscope JSON) stream into a merged call tree;
 * the input text itself is never held in memory. Every output format is a walk
 * of that tree, so widths always equal sample totals. */
#ifndef PROFD_RENDER_H
#define PROFD_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util.h"

typedef enum {
    PROFD_FMT_HTML,
    PROFD_FMT_SVG,
    PROFD_FMT_SPEEDSCOPE,
    PROFD_FMT_COLLAPSED,
    PROFD_FMT_PPROF
} profd_format;

int profd_format_parse(const char *s, profd_format *out);

typedef struct profd_render_opts {
    const char *title;
    const char **details; /* NULL-terminated "key", "value" pairs shown in the HTML header */
    double min_width_px;  /* frames narrower are merged; <= 0 uses the default */
    bool strict;          /* a bad input line is fatal */
    bool inverted;        /* start the HTML in icicle mode */
    bool bytes;           /* weights are bytes (memory profiles): the HTML's header and tooltips
                             say so, speedscope gets unit "bytes"; else they are samples */
} profd_render_opts;

typedef struct profd_profile profd_profile;

profd_profile *profd_profile_new(void);
void profd_profile_free(profd_profile *p);
/* Read collapsed stacks or speedscope JSON (detected from the first bytes).
 * Bad lines are reported on stderr with their line number and skipped, unless
 * opts->strict. 0 ok, -1 error. */
int profd_profile_read(profd_profile *p, FILE *in, const profd_render_opts *o, profd_error *err);
int profd_profile_read_path(profd_profile *p, const char *path, const profd_render_opts *o,
                            profd_error *err);
/* Add one stack (frames root first) with a count; the collapsed parser uses it. */
int profd_profile_add(profd_profile *p, const char *const *frames, size_t n, uint64_t count);
uint64_t profd_profile_total(const profd_profile *p);

int profd_render(const profd_profile *p, profd_format f, const profd_render_opts *o, FILE *out,
                 profd_error *err);
int profd_render_path(const profd_profile *p, profd_format f, const profd_render_opts *o,
                      const char *path, profd_error *err);
/* Differential flame graph (HTML) of two profiles normalised by their totals. */
int profd_render_diff(const profd_profile *before, const profd_profile *after,
                      const profd_render_opts *o, FILE *out, profd_error *err);

/* The HTML page's inline style and script (borrowed, static), for a server
 * that allows them by hash in its Content-Security-Policy. */
void profd_render_html_inline(const char **style, size_t *style_len, const char **script,
                              size_t *script_len);

/* One row of the "what changed" table of a diff (diff_top.c). */
typedef struct profd_diff_change {
    char function[256];
    char file[512]; /* "" for frames without one (thread roots, native) */
    double before;  /* % of before's samples with the function on the stack */
    double after;   /* the same in after */
    double delta;   /* after - before, in percentage points */
} profd_diff_change;
/* The at most n functions (name and file, lines merged) whose share of time
 * changed most, largest |delta| first, ties by name. Returns how many rows
 * were written to out, or -1 with err (out of memory). */
int profd_diff_top(const profd_profile *before, const profd_profile *after, profd_diff_change *out,
                   int n, profd_error *err);

#endif
