/* cmd_sample.c - `profd sample record`, the built-in CPython sampler.
 *
 * Only the command table entry and its help live here; the sampler itself is
 * src/sampler/builtin/ (profd_sample_main). */
#include <stdio.h>

#include "profd/cli.h"
#include "profd/sampler.h"

static int run(int argc, char **argv)
{
    return profd_sample_main(argc, argv);
}

const profd_command profd_cmd_sample = {
    "sample", run, "record stacks of a live CPython 3.8-3.15 process (built-in, like py-spy)",
    "Usage: profd sample record --pid PID [--rate HZ] [--duration S] [--format raw|speedscope]\n"
    "                           -o FILE [--nonblocking] [--idle] [--threads] [--gil]\n"
    "                           [--native] [--subprocesses] [--live]\n\n"
    "Samples the Python stacks of a running CPython 3.8-3.15 process (x86_64) and writes\n"
    "them like `py-spy record`.\n\n"
    "  -p, --pid PID        process to sample (required)\n"
    "  -r, --rate HZ        samples per second [100]\n"
    "  -d, --duration S     seconds to sample [10]\n"
    "  -f, --format F       raw (collapsed stacks, py-spy's raw) or speedscope [raw]\n"
    "  -o, --output FILE    where to write (required)\n"
    "      --nonblocking    read without pausing the target (torn stacks are retried)\n"
    "  -i, --idle           include idle threads (default: only threads in state R)\n"
    "  -t, --threads        add a root frame \"thread (TID): NAME\" per stack (NAME is\n"
    "                       threading.Thread.name; \"thread (TID)\" for a thread without one)\n"
    "  -g, --gil            only the thread holding the GIL (not on free-threaded builds)\n"
    "  -n, --native         native frames between the Python frames, as py-spy (libdw;\n"
    "                       needs pausing: refused with --nonblocking)\n"
    "  -s, --subprocesses   sample the target's descendants too, started before or during\n"
    "                       the capture; stacks rooted at process PID:\"cmdline\"\n"
    "      --live           while recording, rewrite FILE.live with the stacks so far every\n"
    "                       second (raw format; removed at the end), for the console's live\n"
    "                       flame graph; the worker passes it (docs/console.md)\n\n"
    "Exit status: 0 (also when the target exits or on SIGINT/SIGTERM: what was collected is\n"
    "written), 1 on failure (no such process, permission denied, not a Python process,\n"
    "unsupported version), 2 on bad usage. See docs/builtin-sampler.md.\n\n"
    "       profd sample memory --pid PID [--duration S] [--frames N] -o FILE [--summary JSON]\n"
    "                           [--baseline S] [--attach-timeout S]\n\n"
    "Runs tracemalloc inside a CPython 3.14+ process through PEP 768 for S seconds [10] with\n"
    "N frames [64] and writes the allocations made then and still live, collapsed and weighted\n"
    "by bytes; --summary gets totals and the target's measured overhead. Exit status 3: older\n"
    "than 3.14, 4: remote debugging disabled, 5: free-threaded, 6: no thread ran the script\n"
    "in time (taken back), 7: the target exited. See docs/memory.md.\n"};
