/* cmdline.c - the command line of `py-spy record`.
 *
 * A table of py-spy's record options (short and long names, which take a
 * value) and a parser that accepts what clap accepts: "-p 42", "-p42",
 * "--pid 42", "--pid=42", flags, "--", and a python_program positional that
 * ends option parsing. Numbers are checked the way py-spy checks them: --rate
 * by clap (usage error), --pid by Rust's parse (panic). */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "standin.h"

typedef struct optdef {
    char s;
    const char *l, *value_name;
    size_t off; /* offsetof a const char* or bool in opts */
} optdef;

#define V(s, l, n, f)                                                                              \
    {                                                                                              \
        s, l, n, offsetof(opts, f)                                                                 \
    }
#define F(s, l, f)                                                                                 \
    {                                                                                              \
        s, l, NULL, offsetof(opts, f)                                                              \
    }
static const optdef defs[] = {
    V('p', "pid", "pid", pid_s),
    V('o', "output", "filename", output),
    V('f', "format", "format", format),
    V('d', "duration", "duration", duration_s),
    V('r', "rate", "rate", rate_s),
    F('s', "subprocesses", subprocesses),
    F('F', "function", function),
    F(0, "nolineno", nolineno),
    F('t', "threads", threads),
    F('g', "gil", gil),
    F('i', "idle", idle),
    F('n', "native", native),
    F(0, "nonblocking", nonblocking),
    F(0, "full-filenames", program), /* accepted, no effect; field reused below */
    F(0, "capture", program),
    F(0, "hideprogress", program),
};

static const optdef *find_def(const char *arg, const char **inline_value)
{
    *inline_value = NULL;
    for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++) {
        const optdef *d = &defs[i];
        if (arg[1] == '-') {
            size_t n = strlen(d->l);
            if (!strncmp(arg + 2, d->l, n) && (arg[2 + n] == '\0' || arg[2 + n] == '=')) {
                if (arg[2 + n] == '=')
                    *inline_value = arg + 3 + n;
                return d;
            }
        } else if (d->s && arg[1] == d->s) {
            if (arg[2])
                *inline_value = arg + 2;
            return d;
        }
    }
    return NULL;
}

static void unknown_argument(const char *arg)
{
    char msg[1024];
    if (arg[0] == '-')
        snprintf(msg, sizeof msg,
                 "Found argument '%s' which wasn't expected, or isn't valid in this context\n\n"
                 "\tIf you tried to supply `%s` as a value rather than a flag, use `-- %s`",
                 arg, arg, arg);
    else
        snprintf(msg, sizeof msg,
                 "Found argument '%s' which wasn't expected, or isn't valid in this context", arg);
    usage_error(msg);
}

void parse_record(int argc, char **argv, opts *o)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            o->program = i + 1 < argc;
            break;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            record_help();
        if (a[0] != '-' || a[1] == '\0') {
            o->program = true; /* python_program positional: everything from here on */
            break;
        }
        const char *val;
        const optdef *d = find_def(a, &val);
        if (!d || (!d->value_name && val))
            unknown_argument(a);
        if (!d->value_name) {
            if (strcmp(d->l, "full-filenames") && strcmp(d->l, "capture") &&
                strcmp(d->l, "hideprogress"))
                *(bool *)((char *)o + d->off) = true;
            continue;
        }
        if (!val) {
            if (i + 1 >= argc) {
                char msg[256];
                snprintf(msg, sizeof msg,
                         "The argument '--%s <%s>' requires a value but none was supplied", d->l,
                         d->value_name);
                usage_error(msg);
            }
            val = argv[++i];
        }
        *(const char **)((char *)o + d->off) = val;
    }
}

long parse_pid(const char *s)
{
    char *end;
    errno = 0;
    long v;
    if (!strncasecmp(s, "0x", 2))
        v = strtol(s + 2, &end, 16);
    else
        v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < 0 || v > INT32_MAX)
        panic_parse("invalid pid", s);
    return v;
}

long parse_u64(const char *name, const char *s)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)*s)) {
        char msg[512];
        snprintf(msg, sizeof msg, "Invalid value \"%s\" for '--%s <%s>': %s", s, name, name,
                 *s ? "invalid digit found in string" : "cannot parse integer from empty string");
        usage_error(msg);
    }
    long v = strtol(s, &end, 10);
    if (*end || errno) {
        char msg[512];
        snprintf(msg, sizeof msg,
                 "Invalid value \"%s\" for '--%s <%s>': invalid digit found in string", s, name,
                 name);
        usage_error(msg);
    }
    return v;
}

const char *check_format(const char *f)
{
    static const char *formats[] = {"flamegraph", "raw", "speedscope", "chrometrace"};
    for (int i = 0; i < 4; i++)
        if (!strcasecmp(f, formats[i]))
            return formats[i];
    char msg[512];
    snprintf(msg, sizeof msg,
             "\"%s\" isn't a valid value for '--format <format>'\n"
             "\t[possible values: flamegraph, raw, speedscope, chrometrace]",
             f);
    usage_error(msg);
    return NULL;
}
