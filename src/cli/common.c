/* common.c - the stop signals shared by the long-running commands. Usage errors
 * and flag parsing are in src/core/usage.c, where the sampler's own argument
 * parsing (`profd sample record`) reaches them too. */
#include <signal.h>
#include <string.h>

#include "profd/cli.h"

volatile sig_atomic_t profd_stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    profd_stop_requested = 1;
}

void profd_install_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}
