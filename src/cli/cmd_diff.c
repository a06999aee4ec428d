/* cmd_diff.c - placeholder until its module lands (replaced by the module's owner). */
#include <stdio.h>

#include "profd/cli.h"

static int run(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "profd %s: not available in this build\n", argv[0]);
    return PROFD_EXIT_FAIL;
}

const profd_command profd_cmd_diff = {"diff", run, "(pending)", "profd diff: pending\n"};
