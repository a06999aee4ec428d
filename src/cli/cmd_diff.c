/* cmd_diff.c - profd diff: a differential flame graph (HTML) of two
 * profiles, each collapsed stacks or speedscope JSON. Frames are laid out by
 * AFTER and coloured by the change of their share of the total: red grew,
 * blue shrank. The rendering is profd_render_diff in src/render/. */
#include <getopt.h>
#include <stdlib.h>

#include "profd/cli.h"
#include "profd/render.h"

static const char usage[] =
    "Usage: profd diff [FLAGS] BEFORE AFTER\n"
    "\n"
    "Differential flame graph (HTML) of two profiles (collapsed stacks or speedscope\n"
    "JSON; '-' reads one of them from stdin), normalised by their totals: widths are\n"
    "AFTER's samples, red frames grew and blue frames shrank as a share of the\n"
    "total, and the hover details show both counts and the delta.\n"
    "\n"
    "Flags:\n"
    "  -o, --output OUT   write OUT instead of stdout\n"
    "  -t, --title T      page title [Differential flame graph]\n"
    "  -w, --min-width PX frames narrower than PX (of 1200) in both profiles are\n"
    "                     merged into their parent [0.1]\n"
    "  -s, --strict       a malformed input line is an error\n"
    "  -b, --bytes        the weights are bytes (two memory profiles, docs/memory.md)\n"
    "\n"
    "Exit status: 0 ok, 1 unreadable input or unwritable output, 2 bad usage.\n";

static int read_one(const char *path, const profd_render_opts *o, profd_profile **out)
{
    profd_error err = {0};
    *out = profd_profile_new();
    if (!*out) {
        fprintf(stderr, "profd diff: out of memory\n");
        return -1;
    }
    if (profd_profile_read_path(*out, path, o, &err) < 0) {
        fprintf(stderr, "profd diff: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int run(int argc, char **argv)
{
    static const struct option longs[] = {
        {"output", required_argument, 0, 'o'},    {"title", required_argument, 0, 't'},
        {"min-width", required_argument, 0, 'w'}, {"strict", no_argument, 0, 's'},
        {"bytes", no_argument, 0, 'b'},           {0, 0, 0, 0}};
    profd_render_opts o = {0};
    const char *out = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:t:w:sb", longs, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'o':
            out = optarg;
            break;
        case 't':
            o.title = optarg;
            break;
        case 'w':
            o.min_width_px = strtod(optarg, &end);
            if (end == optarg || *end || !(o.min_width_px >= 0) || o.min_width_px > 1200)
                return profd_usage_error("diff", "--min-width needs pixels from 0 to 1200");
            if (o.min_width_px == 0)
                o.min_width_px = 1e-12;
            break;
        case 's':
            o.strict = true;
            break;
        case 'b':
            o.bytes = true;
            break;
        case ':':
            return profd_usage_error("diff", "%s needs a value", argv[optind - 1]);
        default:
            return profd_usage_error("diff", "unknown flag '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 2)
        return profd_usage_error("diff", "needs exactly two inputs: BEFORE AFTER");
    profd_profile *before = NULL, *after = NULL;
    int rc = PROFD_EXIT_FAIL;
    if (read_one(argv[optind], &o, &before) == 0 && read_one(argv[optind + 1], &o, &after) == 0) {
        profd_error err = {0};
        FILE *f = out ? fopen(out, "wb") : stdout;
        if (!f)
            fprintf(stderr, "profd diff: cannot create %s\n", out);
        else if (profd_render_diff(before, after, &o, f, &err) < 0)
            fprintf(stderr, "profd diff: %s\n", err.msg);
        else
            rc = PROFD_EXIT_OK;
        if (f && f != stdout && fclose(f) != 0 && rc == PROFD_EXIT_OK) {
            fprintf(stderr, "profd diff: cannot write %s\n", out);
            rc = PROFD_EXIT_FAIL;
        }
    }
    profd_profile_free(before);
    profd_profile_free(after);
    return rc;
}

const profd_command profd_cmd_diff = {"diff", run,
                                      "differential flame graph (html) of two profiles", usage};
