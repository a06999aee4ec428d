/* cmd_reprocess.c - `profd reprocess`: re-render stored sessions from their
 * stored stacks with this binary's renderer (docs/reprocess.md).
 *
 * The command picks the sessions (one or more --session, --since DATE or
 * --all, through the store's time index), then either publishes one queue
 * job per session for the workers to share (the default) or does the work in
 * place (--local). Either way it goes at most --rate sessions a second, so a
 * big backlog does not flood the workers, the store or the bucket; and either
 * way it is safe to run again or twice at once (the per-session claim is in
 * src/batch/reprocess.c). A terminal gets a progress bar with an ETA;
 * otherwise every session gets one log line. The counts come last, on stdout. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profd/batch.h"
#include "profd/blob.h"
#include "profd/bus.h"
#include "profd/cli.h"
#include "profd/config.h"
#include "profd/log.h"
#include "profd/store.h"

#define CMD "reprocess"
#define MAX_REASONS 8

typedef struct args {
    profd_id_list sessions; /* --session, repeatable */
    const char *since;
    bool all, local;
    double rate;
} args;

typedef struct tally {
    long done, failed, skipped;
    char reasons[MAX_REASONS][128];
    long counts[MAX_REASONS];
    int nreasons;
} tally;

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static int parse_rate(const char *s, double *out)
{
    char *end;
    double v = s ? strtod(s, &end) : 0;
    if (!s || end == s || (*end && strcmp(end, "/s") != 0) || !(v > 0 && v <= 100000))
        return profd_usage_error(CMD,
                                 "--rate needs a number of sessions a second like 10 or "
                                 "10/s (at most 100000), got '%s'",
                                 s ? s : "");
    *out = v;
    return 0;
}

/* --since: RFC 3339, or a plain date (midnight UTC). */
static int parse_since(const char *s, int64_t *ms)
{
    char buf[64];
    if (strlen(s) == 10 && snprintf(buf, sizeof buf, "%sT00:00:00Z", s) > 0 &&
        profd_parse_rfc3339(buf, ms) == 0)
        return 0;
    if (profd_parse_rfc3339(s, ms) == 0)
        return 0;
    return profd_usage_error(CMD, "--since needs a date (2024-01-15) or an RFC 3339 time, got '%s'",
                             s);
}

static int parse_args(int argc, char **argv, args *a)
{
    a->rate = 10;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        bool has_value = i + 1 < argc;
        if (!strcmp(f, "--all")) {
            a->all = true;
        } else if (!strcmp(f, "--local")) {
            a->local = true;
        } else if (!strcmp(f, "--session") || !strcmp(f, "--since") || !strcmp(f, "--rate")) {
            if (!has_value)
                return profd_usage_error(CMD, "%s needs a value", f);
            const char *v = argv[++i];
            if (!strcmp(f, "--since"))
                a->since = v;
            else if (!strcmp(f, "--rate") && parse_rate(v, &a->rate) != 0)
                return PROFD_EXIT_USAGE;
            else if (!strcmp(f, "--session") && !profd_uuid_valid(v))
                return profd_usage_error(CMD, "--session needs a session id (a UUID), got '%s'", v);
            else if (!strcmp(f, "--session") && profd_id_list_add(&a->sessions, v, 0) != 0)
                return PROFD_EXIT_FAIL;
        } else {
            return profd_usage_error(CMD, "unknown argument '%s'", f);
        }
    }
    int modes = (a->sessions.n > 0) + (a->since != NULL) + a->all;
    if (modes != 1)
        return profd_usage_error(CMD, "give exactly one of --session ID, --since DATE or --all");
    return 0;
}

static void add_reason(tally *t, const char *why)
{
    t->skipped++;
    int i = 0;
    while (i < t->nreasons && strcmp(t->reasons[i], why) != 0)
        i++;
    if (i == t->nreasons) {
        if (t->nreasons == MAX_REASONS) { /* the last slot collects the rest */
            i = MAX_REASONS - 1;
            profd_strlcpy(t->reasons[i], "other reasons", sizeof t->reasons[0]);
        } else {
            profd_strlcpy(t->reasons[t->nreasons++], why, sizeof t->reasons[0]);
        }
    }
    t->counts[i]++;
}

static void progress(int done, int total, double limit, int64_t started_mono)
{
    double secs = (double)(profd_mono_ms() - started_mono) / 1000.0;
    double rate = secs > 0 ? done / secs : limit;
    int width = 30, fill = total ? (int)((long)done * width / total) : width;
    char eta[32] = "done";
    if (done < total) { /* never faster than --rate, whatever the first items took */
        double pace = rate < limit ? rate : limit;
        long left = pace > 0 ? (long)((total - done) / pace + 0.5) : 0;
        snprintf(eta, sizeof eta, "%ldm%02lds", left / 60, left % 60);
    }
    fprintf(stderr, "\r[%.*s%*s] %d/%d  %.1f/s  ETA %s  ", fill, "##############################",
            width - fill, "", done, total, rate < limit ? rate : limit, eta);
    fflush(stderr);
}

/* Wait for the i-th session's slot: start + i / rate. */
static void pace(int i, double rate, int64_t started_mono)
{
    int64_t due = started_mono + (int64_t)(i * 1000.0 / rate);
    int64_t now;
    while (!interrupted && (now = profd_mono_ms()) < due)
        usleep((useconds_t)((due - now) > 100 ? 100000 : (due - now) * 1000));
}

typedef struct ctx {
    profd_config cfg;
    profd_store *store;
    profd_blob *blob;
    profd_bus *bus;
} ctx;

static int one(ctx *c, const args *a, const char *id, tally *t, profd_error *err)
{
    profd_batch_result rc;
    if (a->local) {
        rc = profd_reprocess_one(&c->cfg, c->store, c->blob, id, err);
    } else {
        switch (profd_reprocess_check(c->store, id, err)) {
        case PROFD_REPROCESS_ELIGIBLE: /* done here means: job published */
            rc = profd_reprocess_enqueue(c->bus, id, err) == 0 ? PROFD_BATCH_DONE
                                                               : PROFD_BATCH_FAILED;
            break;
        case PROFD_REPROCESS_INELIGIBLE:
            rc = PROFD_BATCH_SKIPPED;
            break;
        case PROFD_REPROCESS_CHECK_FAILED:
        default:
            rc = PROFD_BATCH_FAILED;
            break;
        }
    }
    if (rc == PROFD_BATCH_DONE)
        t->done++;
    else if (rc == PROFD_BATCH_SKIPPED)
        add_reason(t, err->msg);
    else
        t->failed++;
    return rc;
}

static void log_one(const args *a, const char *id, int rc, const char *why)
{
    if (rc == PROFD_BATCH_DONE)
        LOG_I(id, a->local ? "reprocess.done" : "reprocess.queued", "%s",
              a->local ? "re-rendered" : "job published");
    else if (rc == PROFD_BATCH_SKIPPED)
        LOG_I(id, "reprocess.skipped", "%s", why);
    else
        LOG_E(id, "reprocess.failed", "%s", why);
}

static void run_all(ctx *c, const args *a, const profd_id_list *ids, tally *t)
{
    bool tty = isatty(STDERR_FILENO);
    int64_t start = profd_mono_ms();
    int i = 0;
    for (; i < ids->n && !interrupted; i++) {
        pace(i, a->rate, start);
        if (interrupted)
            break;
        profd_error err = {0};
        int rc = one(c, a, ids->ids[i], t, &err);
        if (tty) {
            if (rc == PROFD_BATCH_FAILED) /* failures stay on screen above the bar */
                fprintf(stderr, "\r%s: %s\n", ids->ids[i], err.msg);
            progress(i + 1, ids->n, a->rate, start);
        } else {
            log_one(a, ids->ids[i], rc, err.msg);
        }
    }
    if (tty && ids->n)
        fputc('\n', stderr);
}

static void report(const args *a, const tally *t, bool stopped)
{
    printf("%s: %ld; skipped: %ld", a->local ? "reprocessed" : "queued", t->done, t->skipped);
    for (int i = 0; i < t->nreasons; i++)
        printf("%s%s: %ld", i ? "; " : " (", t->reasons[i], t->counts[i]);
    printf("%s; failed: %ld%s\n", t->nreasons ? ")" : "", t->failed,
           stopped ? "; interrupted before the end" : "");
}

static int open_all(ctx *c, const args *a, profd_error *err)
{
    if (profd_config_load(&c->cfg, err) != 0)
        return PROFD_EXIT_USAGE;
    if (!a->local && !strcmp(c->cfg.bus, "memory")) {
        profd_error_set(err, NULL,
                        "PROFD_BUS=memory reaches no worker outside this process: use "
                        "--local, or set PROFD_BUS to kafka or pubsub");
        return PROFD_EXIT_USAGE;
    }
    if (!(c->store = profd_store_open(&c->cfg, err)))
        return PROFD_EXIT_FAIL;
    if (a->local && !(c->blob = profd_blob_open(&c->cfg, err)))
        return PROFD_EXIT_FAIL;
    if (!a->local && !(c->bus = profd_bus_open(&c->cfg, PROFD_BUS_PRODUCE, err)))
        return PROFD_EXIT_FAIL;
    return 0;
}

static void close_all(ctx *c)
{
    if (c->bus)
        c->bus->ops->close(c->bus);
    if (c->blob)
        c->blob->ops->close(c->blob);
    if (c->store)
        c->store->ops->close(c->store);
}

static int select_ids(ctx *c, args *a, profd_id_list *ids, profd_error *err)
{
    if (a->sessions.n) {
        *ids = a->sessions;
        memset(&a->sessions, 0, sizeof a->sessions);
        return 0;
    }
    int64_t since = INT64_MIN;
    if (a->since && parse_since(a->since, &since) != 0)
        return PROFD_EXIT_USAGE;
    return profd_batch_select(c->store, since, INT64_MAX, ids, err) == 0 ? 0 : PROFD_EXIT_FAIL;
}

static int run(int argc, char **argv)
{
    args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc != 0) {
        profd_id_list_free(&a.sessions);
        return rc;
    }
    ctx c = {0};
    profd_error err = {0};
    profd_id_list ids = {0};
    rc = open_all(&c, &a, &err);
    if (rc == 0)
        rc = select_ids(&c, &a, &ids, &err);
    if (rc == 0) {
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        signal(SIGPIPE, SIG_IGN);
        tally t = {0};
        run_all(&c, &a, &ids, &t);
        bool unsent = c.bus && c.bus->ops->flush(c.bus, 30000) != 0;
        report(&a, &t, interrupted);
        if (unsent)
            fprintf(stderr,
                    "profd %s: some jobs were not delivered to the bus within 30 s; "
                    "run the command again (it is safe to repeat)\n",
                    CMD);
        rc = t.failed || interrupted || unsent ? PROFD_EXIT_FAIL : PROFD_EXIT_OK;
    } else if (err.msg[0]) {
        fprintf(stderr, "profd %s: %s\n", CMD, err.msg);
    }
    close_all(&c);
    profd_id_list_free(&ids);
    profd_id_list_free(&a.sessions);
    return rc;
}

const profd_command profd_cmd_reprocess = {
    CMD, run, "re-render stored sessions from their stored stacks",
    "Usage: profd reprocess (--session ID ... | --since DATE | --all) [--local] [--rate N/s]\n\n"
    "Re-renders completed sessions from their stored stacks (sessions/{id}/stacks.txt) with\n"
    "this binary's renderer, rewrites profile.json and flamegraph.html in the blob store, and\n"
    "records reprocessed_at and renderer on each session. Sessions that are not completed or\n"
    "have no stored stacks are skipped. Safe to repeat, and to run twice at once.\n\n"
    "  --session ID   this session (repeat the flag for more)\n"
    "  --since DATE   every session created at or after DATE (2024-01-15 or RFC 3339)\n"
    "  --all          every session in the store\n"
    "  --local        do the work here instead of publishing one job per session on the\n"
    "                 bus for the workers to share\n"
    "  --rate N/s     at most N sessions a second [10]\n\n"
    "A terminal shows a progress bar with an ETA; otherwise one log line per session. The\n"
    "counts (reprocessed or queued, skipped with reasons, failed) are printed at the end.\n"
    "Exit status 1 when any session failed or the run was interrupted.\n\n"
    "Environment:\n"
    "  PROFD_REDIS_URL                           the session store\n"
    "  PROFD_STORAGE, PROFD_SPOOL_DIR            the blob store and a work directory (--local)\n"
    "  PROFD_BUS, PROFD_KAFKA_BROKERS, PROFD_REQUEST_TOPIC, ...   the bus (queue mode)\n"
    "Run 'profd help env' for defaults; docs/reprocess.md has the details.\n"};
