/* cli.h - subcommands. main.c only looks a command up here and runs it;
 * each command lives in src/cli/cmd_<name>.c and owns its flags and usage. */
#ifndef PROFD_CLI_H
#define PROFD_CLI_H

typedef struct profd_command {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
    const char *summary;
    const char *usage; /* full help: synopsis, flags, environment */
} profd_command;

extern const profd_command profd_cmd_worker, profd_cmd_sample, profd_cmd_profile, profd_cmd_render,
    profd_cmd_diff, profd_cmd_storage, profd_cmd_api, profd_cmd_serve, profd_cmd_reprocess,
    profd_cmd_cleanup, profd_cmd_submit;

/* Exit codes of every command. */
enum { PROFD_EXIT_OK = 0, PROFD_EXIT_FAIL = 1, PROFD_EXIT_USAGE = 2 };

/* SIGTERM and SIGINT set profd_stop_requested (long-running commands poll
 * it); SIGPIPE is ignored so a closed socket is an error, not a death. */
#include <signal.h>
extern volatile sig_atomic_t profd_stop_requested;
void profd_install_stop_signals(void);

/* The two below are in core (src/core/usage.c), so a module that parses a
 * command's arguments (the sampler: `profd sample record`) links without src/cli/.
 * Print "profd CMD: msg" on stderr and return PROFD_EXIT_USAGE. */
int profd_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parse a bounded integer flag value; -1 with a usage message on stderr. */
int profd_parse_int(const char *cmd, const char *flag, const char *s, long lo, long hi, long *out);

#endif
