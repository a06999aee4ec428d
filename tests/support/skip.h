/* skip.h - how a cmocka test skips for something missing (a tool, a file).
 *
 * Locally a missing kcat or redis-server should not hide the rest of a test
 * file, so the case is skipped with a line saying what was missing. Under
 * CI=true everything the tests use is installed by `make deps` or ships with
 * the checkout, so a missing piece is a broken machine, not a reason to pass:
 * the case fails instead (the shell tests do the same, tests/support/skip.sh). */
#ifndef PROFD_TEST_SKIP_H
#define PROFD_TEST_SKIP_H

#include <stdlib.h>
#include <string.h>

static inline int profd_test_in_ci(void)
{
    const char *ci = getenv("CI");
    return ci && strcmp(ci, "true") == 0;
}

/* Skip the current case (fail it under CI=true), saying what is missing. */
#define PROFD_SKIP(what)                                                                           \
    do {                                                                                           \
        if (profd_test_in_ci())                                                                    \
            fail_msg("%s is missing, and CI=true provides it", what);                              \
        print_message("SKIP: %s is missing\n", what);                                              \
        skip();                                                                                    \
    } while (0)

#endif
