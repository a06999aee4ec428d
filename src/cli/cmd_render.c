/* cmd_render.c - profd render: collapsed stacks or speedscope JSON in, a
 * flame graph (or another format) out. All the work is in src/render/; this
 * file only maps flags onto profd_render_opts. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "profd/cli.h"
#include "profd/render.h"

#define MAX_DETAILS 32

static const char usage[] =
    "Usage: profd render [FLAGS] [INPUT]\n"
    "\n"
    "Render collapsed stacks (py-spy --format raw, flamegraph.pl/inferno folded) or a\n"
    "speedscope JSON file, read from INPUT or stdin (no INPUT, or '-'), streamed.\n"
    "\n"
    "Flags:\n"
    "  -f, --format F     html (default) | svg | speedscope | collapsed | pprof\n"
    "  -t, --title T      title shown in the page header [Flame graph]\n"
    "  -d, --detail K=V   a session detail shown under the title (repeatable)\n"
    "  -w, --min-width PX frames narrower than PX pixels of a 1200 px graph are\n"
    "                     merged into their parent (html, svg) [0.1]\n"
    "  -s, --strict       a malformed input line is an error (default: reported\n"
    "                     on stderr as 'line N: reason' and skipped)\n"
    "  -i, --inverted     open the HTML as an icicle graph (root at the top)\n"
    "  -b, --bytes        the weights are bytes (a memory profile, docs/memory.md)\n"
    "  -o, --output OUT   write OUT (atomically) instead of stdout\n"
    "\n"
    "Exit status: 0 ok, 1 unreadable input or unwritable output, 2 bad usage.\n";

static int run(int argc, char **argv)
{
    static const struct option longs[] = {{"format", required_argument, 0, 'f'},
                                          {"title", required_argument, 0, 't'},
                                          {"detail", required_argument, 0, 'd'},
                                          {"min-width", required_argument, 0, 'w'},
                                          {"strict", no_argument, 0, 's'},
                                          {"inverted", no_argument, 0, 'i'},
                                          {"bytes", no_argument, 0, 'b'},
                                          {"output", required_argument, 0, 'o'},
                                          {0, 0, 0, 0}};
    profd_render_opts o = {.title = "Flame graph"};
    profd_format fmt = PROFD_FMT_HTML;
    const char *out = NULL, *details[2 * MAX_DETAILS + 1] = {0};
    char *dcopy[MAX_DETAILS] = {0};
    int nd = 0, c, rc = PROFD_EXIT_FAIL;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":f:t:d:w:sibo:", longs, NULL)) != -1) {
        char *end, *eq;
        switch (c) {
        case 'f':
            if (profd_format_parse(optarg, &fmt) < 0)
                return profd_usage_error("render", "unknown --format '%s'", optarg);
            break;
        case 't':
            o.title = optarg;
            break;
        case 'd':
            if (!(eq = strchr(optarg, '=')) || nd == MAX_DETAILS)
                return profd_usage_error("render", "--detail needs KEY=VALUE (at most %d)",
                                         MAX_DETAILS);
            if (!(dcopy[nd] = strdup(optarg))) {
                fprintf(stderr, "profd render: out of memory\n");
                return PROFD_EXIT_FAIL;
            }
            dcopy[nd][eq - optarg] = '\0';
            details[2 * nd] = dcopy[nd];
            details[2 * nd + 1] = dcopy[nd] + (eq - optarg) + 1;
            nd++;
            break;
        case 'w':
            o.min_width_px = strtod(optarg, &end);
            if (end == optarg || *end || !(o.min_width_px >= 0) || o.min_width_px > 1200)
                return profd_usage_error("render", "--min-width needs pixels from 0 to 1200");
            if (o.min_width_px == 0)
                o.min_width_px = 1e-12; /* 0 means keep every frame */
            break;
        case 's':
            o.strict = true;
            break;
        case 'i':
            o.inverted = true;
            break;
        case 'b':
            o.bytes = true;
            break;
        case 'o':
            out = optarg;
            break;
        case ':':
            return profd_usage_error("render", "%s needs a value", argv[optind - 1]);
        default:
            return profd_usage_error("render", "unknown flag '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind > 1)
        return profd_usage_error("render", "takes at most one INPUT");
    o.details = nd ? details : NULL;
    const char *in = optind < argc ? argv[optind] : "-";
    profd_error err = {0};
    profd_profile *p = profd_profile_new();
    if (!p)
        fprintf(stderr, "profd render: out of memory\n");
    else if (profd_profile_read_path(p, in, &o, &err) < 0 ||
             profd_render_path(p, fmt, &o, out, &err) < 0)
        fprintf(stderr, "profd render: %s\n", err.msg);
    else
        rc = PROFD_EXIT_OK;
    profd_profile_free(p);
    for (int i = 0; i < nd; i++)
        free(dcopy[i]);
    return rc;
}

const profd_command profd_cmd_render = {
    "render", run, "render stacks as html, svg, speedscope, collapsed, pprof", usage};
