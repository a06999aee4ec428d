/* tree.c - the synthetic call tree that the stand-in "samples".
 *
 * A fixed set of weighted stacks, one thread each: either replayed from a
 * collapsed file (PYSPY_STANDIN_STACKS, "frames count" lines) or a built-in
 * tree named after the target's comm, with a main thread and an idle worker
 * thread. Sampling is deterministic: interval i of a thread picks its stacks
 * in proportion to their weights, so tests can predict the counts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "standin.h"

stack stacks[MAX_STACKS];
int nstacks;
thread threads[2];
int nthreads;

static void add_stack(const char *frames, long weight, int th, bool active, bool gil)
{
    if (nstacks >= MAX_STACKS || weight <= 0)
        return;
    stack *s = &stacks[nstacks++];
    s->frames = strdup(frames);
    s->weight = weight;
    s->thread = th;
    s->active = active;
    s->gil = gil;
}

void builtin_tree(long pid)
{
    char comm[64], file[80], buf[1024];
    read_proc_text(pid, "comm", comm, sizeof comm, false);
    if (!comm[0])
        strcpy(comm, "app");
    snprintf(file, sizeof file, "%s.py", comm);
    const char *leaves[][2] = {{"handle_request (%s:30);compute (%s:45)", "5"},
                               {"handle_request (%s:30);serialize (%s:52)", "3"},
                               {"read_input (%s:20)", "2"}};
    for (int i = 0; i < 3; i++) {
        char leaf[512];
        snprintf(leaf, sizeof leaf, leaves[i][0], file, file);
        snprintf(buf, sizeof buf, "<module> (%s:1);main (%s:12);%s", file, file, leaf);
        add_stack(buf, atol(leaves[i][1]), 0, true, i != 2); /* read_input waits on I/O */
    }
    add_stack("_bootstrap (threading.py:1002);_bootstrap_inner (threading.py:1045);run "
              "(threading.py:982);wait (threading.py:629)",
              1, 1, false, false);
    threads[0] = (thread){pid, "MainThread"};
    threads[1] = (thread){pid + 1, "Thread-1 (worker)"};
    nthreads = 2;
}

int replay_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        char *sp = strrchr(line, ' ');
        if (!sp)
            continue;
        *sp = '\0';
        add_stack(line, atol(sp + 1), 0, true, true);
    }
    free(line);
    fclose(f);
    return 0;
}

/* Stack of thread th for interval i: the thread's stacks repeat in proportion to their weights. */
stack *stack_for(int th, long i)
{
    long total = 0;
    for (int k = 0; k < nstacks; k++)
        if (stacks[k].thread == th)
            total += stacks[k].weight;
    if (!total)
        return NULL;
    long r = i % total;
    for (int k = 0; k < nstacks; k++) {
        if (stacks[k].thread != th)
            continue;
        if (r < stacks[k].weight)
            return &stacks[k];
        r -= stacks[k].weight;
    }
    return NULL;
}
