/* main.c - dispatch to a subcommand; nothing else lives here. */
#include <stdio.h>
#include <string.h>

#include "profd/cli.h"
#include "profd/config.h"
#include "profd/log.h"
#include "profd/util.h"

static const profd_command *const commands[] = {
    &profd_cmd_worker,    &profd_cmd_sample,  &profd_cmd_profile, &profd_cmd_render,
    &profd_cmd_diff,      &profd_cmd_storage, &profd_cmd_api,     &profd_cmd_serve,
    &profd_cmd_reprocess, &profd_cmd_cleanup, &profd_cmd_submit,
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const profd_command *find(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i]->name, name) == 0)
            return commands[i];
    return NULL;
}

static void overview(FILE *f)
{
    fprintf(f,
            "profd %s - on-demand profiling of live Python services\n\n"
            "Usage: profd COMMAND [FLAGS]\n\nCommands:\n",
            PROFD_VERSION);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(f, "  %-10s %s\n\n", "help", "help [COMMAND]: show a command's flags and environment");
    fprintf(f, "Run 'profd help COMMAND' for its flags; 'profd help env' lists every variable.\n");
}

static int help(int argc, char **argv)
{
    if (argc < 2) {
        overview(stdout);
        return PROFD_EXIT_OK;
    }
    if (strcmp(argv[1], "env") == 0) {
        profd_config_print_env_help();
        return PROFD_EXIT_OK;
    }
    const profd_command *c = find(argv[1]);
    if (!c) {
        fprintf(stderr, "profd help: unknown command '%s'; run 'profd help' for the list\n",
                argv[1]);
        return PROFD_EXIT_USAGE;
    }
    fputs(c->usage, stdout);
    return PROFD_EXIT_OK;
}

static int wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return 0;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    profd_log_init();
    if (argc < 2) {
        overview(stderr);
        return PROFD_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("profd %s\n", PROFD_VERSION);
        return PROFD_EXIT_OK;
    }
    if (strcmp(name, "help") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
        return help(argc - 1, argv + 1);
    const profd_command *c = find(name);
    if (!c) {
        fprintf(stderr, "profd: unknown command '%s'; run 'profd help' for the list\n", name);
        return PROFD_EXIT_USAGE;
    }
    if (wants_help(argc - 1, argv + 1)) {
        fputs(c->usage, stdout);
        return PROFD_EXIT_OK;
    }
    return c->run(argc - 1, argv + 1);
}
