/* stop.c - SIGINT and SIGTERM end a capture, CPU or memory, instead of the process.
 *
 * Both commands run a loop that must end cleanly when asked to (write what it has, take back
 * what it armed in the target), so the signals only set a flag that the loops read between
 * steps; a sleep they interrupt returns early (no SA_RESTART). */
#include <signal.h>
#include <stdbool.h>

#include "pysampler.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

void py_stop_catch(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

bool py_stop_requested(void)
{
    return stop_requested != 0;
}
