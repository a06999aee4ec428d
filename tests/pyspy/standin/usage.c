/* usage.c - clap-style usage errors (exit 2), help and Rust-style panics.
 *
 * py-spy parses its command line with clap 3 and its numbers with Rust's
 * parse().expect(): a bad flag is a usage message on stderr and exit 2, a bad
 * --pid or --duration is a panic and exit 101. The texts below are clap's and
 * Rust's, word for word, because the worker and the tests read them. */
#include <stdio.h>
#include <stdlib.h>

#include "standin.h"

void usage_error(const char *msg)
{
    fprintf(stderr, "error: %s\n\n%s\nFor more information try --help\n", msg, RECORD_USAGE);
    exit(2);
}

void help(FILE *f)
{
    fprintf(f, "py-spy " VERSION "\nSampling profiler for Python programs\n\n"
               "USAGE:\n    py-spy <SUBCOMMAND>\n\nOPTIONS:\n"
               "    -h, --help       Print help information\n"
               "    -V, --version    Print version information\n\nSUBCOMMANDS:\n"
               "    record    Records stack trace information to a flamegraph, speedscope or "
               "raw file\n"
               "    top       Displays a top like view of functions consuming CPU\n"
               "    dump      Dumps stack traces for a target program to stdout\n"
               "    help      Print this message or the help of the given subcommand(s)\n");
}

void record_help(void)
{
    printf("py-spy-record \nRecords stack trace information to a flamegraph, speedscope or raw "
           "file\n\n" RECORD_USAGE "\nARGS:\n"
           "    <python_program>...    commandline of a python program to run\n\nOPTIONS:\n"
           "    -p, --pid <pid>              PID of a running python program to spy on, in "
           "decimal or hex\n"
           "        --full-filenames         Show full Python filenames\n"
           "    -o, --output <filename>      Output filename\n"
           "    -f, --format <format>        Output file format [default: flamegraph] "
           "[possible values: flamegraph, raw, speedscope, chrometrace]\n"
           "    -d, --duration <duration>    The number of seconds to sample for [default: "
           "unlimited]\n"
           "    -r, --rate <rate>            The number of samples to collect per second "
           "[default: 100]\n"
           "    -s, --subprocesses           Profile subprocesses of the original process\n"
           "    -F, --function               Aggregate samples by function's first line number\n"
           "        --nolineno               Do not show line numbers\n"
           "    -t, --threads                Show thread ids in the output\n"
           "    -g, --gil                    Only include traces that are holding on to the GIL\n"
           "    -i, --idle                   Include stack traces for idle threads\n"
           "    -n, --native                 Collect stack traces from native extensions\n"
           "        --nonblocking            Don't pause the python process when collecting "
           "samples\n"
           "    -h, --help                   Print help information\n");
    exit(0);
}

/* Rust's panic on `.expect(...)`: exit status 101. */
void panic_parse(const char *what, const char *value)
{
    const char *kind = *value ? "InvalidDigit" : "Empty";
    fprintf(stderr,
            "thread 'main' panicked at '%s: ParseIntError { kind: %s }', src/config.rs\n"
            "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n",
            what, kind);
    exit(101);
}
