/* standin.h - what the files of the py-spy stand-in share.
 *
 * The stand-in is one small program cut into one file per concern: the
 * command line (cmdline.c) and its clap-style errors (usage.c), the target
 * process (target.c), the synthetic call tree that is "sampled" (tree.c),
 * the output formats (output.c), the record subcommand that drives them
 * (record.c) and the entry point (main.c, which also holds the design notes
 * for the whole program). The sampled state is a handful of globals: the
 * program records one target once and exits. */
#ifndef PYSPY_STANDIN_H
#define PYSPY_STANDIN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define VERSION "0.4.1"
#define LEDE "py-spy> "
#define RECORD_USAGE "USAGE:\n    py-spy record [OPTIONS] --pid <pid> [python_program]...\n"
#define MAX_STACKS 4096
#define MAX_FRAME_TEXT 8192

typedef struct opts {
    const char *pid_s, *rate_s, *duration_s, *format, *output;
    bool threads, idle, gil, subprocesses, native, nonblocking, nolineno, function, program;
} opts;

typedef struct stack {
    char *frames; /* root first, ';' separated, "name (file:line)" */
    long weight;
    int thread; /* index into threads[] */
    bool active, gil;
    long count; /* samples recorded */
} stack;

typedef struct thread {
    long tid;
    const char *name;
} thread;

/* tree.c: the stacks being sampled and the target's threads. */
extern stack stacks[MAX_STACKS];
extern int nstacks;
extern thread threads[2];
extern int nthreads;
/* record.c: set by SIGINT (Control-C). */
extern volatile sig_atomic_t interrupted;

/* usage.c */
void usage_error(const char *msg);
void help(FILE *f);
void record_help(void);
void panic_parse(const char *what, const char *value);

/* cmdline.c */
void parse_record(int argc, char **argv, opts *o);
long parse_pid(const char *s);
long parse_u64(const char *name, const char *s);
const char *check_format(const char *f);

/* target.c */
int target_exe_errno(long pid);
void read_proc_text(long pid, const char *what, char *out, size_t len, bool nul_to_space);
void check_target(long pid, const char *mode);

/* tree.c */
void builtin_tree(long pid);
int replay_file(const char *path);
stack *stack_for(int th, long i);

/* record.c */
int record(int argc, char **argv);

/* output.c */
void write_raw(FILE *f, const opts *o, long pid);
void write_speedscope(FILE *f, const opts *o, long pid, long rate, long *sequence, long nseq);
void write_flamegraph(FILE *f, const opts *o, long pid, long total);
void write_chrometrace(FILE *f, const opts *o, long pid, long rate, long *sequence, long nseq);

#endif
