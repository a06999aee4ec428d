/* cmd_submit.c - `profd submit`: publish one profiling request on the bus and
 * print its session id. Made for cron, scripts and alert hooks.
 *
 * The request is built from flags (version 1, type profile, trigger "cli",
 * requested_by $USER, requested_at now, a fresh UUIDv4 unless --session-id
 * gives one) and run through profd_request_parse with the configured duration
 * bounds: the same rules the worker applies, so submit never publishes what a
 * worker would reject. A broken rule is a usage error (exit 2).
 *
 * Redis is optional. When the store answers (PROFD_REDIS_URL), submit goes
 * through profd_session_enqueue like the API and the alerts: the session is
 * recorded as queued before publishing and session.queued announced after,
 * so `GET /profile/{id}` knows the session at once; if the publish then
 * fails, the record is failed (unroutable) rather than left queued; and an id
 * that is already recorded (a second submit with the same --session-id) is
 * not published again. When the store does not answer, submit says so on
 * stderr and publishes anyway: the worker records every request it takes, so
 * nothing is lost, the session just appears when a worker takes it.
 * --no-store skips the store on purpose.
 *
 * The memory bus lives inside one process, so submit refuses it. Kafka
 * publishing is asynchronous: submit flushes and fails if the message was not
 * delivered within 15 s. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profd/bus.h"
#include "profd/cli.h"
#include "profd/config.h"
#include "profd/lifecycle.h"
#include "profd/log.h"
#include "profd/session.h"
#include "profd/store.h"

#define FLUSH_MS 15000

typedef struct submit_args {
    const char *service, *host, *session_id, *type;
    long duration, pid, rate, frames;
    bool no_store;
    profd_options options;
    json_object *labels;
} submit_args;

static int add_label(submit_args *a, const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv)
        return profd_usage_error("submit", "--label needs KEY=VALUE, got '%s'", kv);
    if (!a->labels)
        a->labels = json_object_new_object();
    char key[128];
    snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
    json_object_object_add(a->labels, key, json_object_new_string(eq + 1));
    return 0;
}

static bool *option_flag(submit_args *a, const char *flag)
{
    static const char *const names[] = {"--nonblocking", "--subprocesses", "--native", "--idle",
                                        "--gil"};
    bool *fields[] = {&a->options.nonblocking, &a->options.subprocesses, &a->options.native,
                      &a->options.idle, &a->options.gil};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(flag, names[i]) == 0)
            return fields[i];
    return NULL;
}

static int parse_args(int argc, char **argv, submit_args *a)
{
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        bool *opt = option_flag(a, f);
        if (opt) {
            *opt = true;
            continue;
        }
        if (strcmp(f, "--no-store") == 0) {
            a->no_store = true;
            continue;
        }
        if (i + 1 >= argc)
            return profd_usage_error("submit", "unknown flag or missing value: '%s'", f);
        const char *v = argv[++i];
        if (strcmp(f, "--service") == 0)
            a->service = v;
        else if (strcmp(f, "--host") == 0)
            a->host = v;
        else if (strcmp(f, "--session-id") == 0)
            a->session_id = v;
        else if (strcmp(f, "--type") == 0) {
            profd_profile_type t;
            if (profd_profile_type_parse(v, &t) != 0)
                return profd_usage_error("submit", "--type must be cpu or memory, got '%s'", v);
            a->type = v;
        } else if (strcmp(f, "--memory-frames") == 0) {
            if (profd_parse_int("submit", f, v, 1, PROFD_MEMORY_FRAMES_MAX, &a->frames) != 0)
                return PROFD_EXIT_USAGE;
        } else if (strcmp(f, "--duration") == 0) {
            if (profd_parse_int("submit", f, v, 1, 86400, &a->duration) != 0)
                return PROFD_EXIT_USAGE;
        } else if (strcmp(f, "--pid") == 0) {
            if (profd_parse_int("submit", f, v, 1, 4194304, &a->pid) != 0)
                return PROFD_EXIT_USAGE;
        } else if (strcmp(f, "--rate") == 0) {
            if (profd_parse_int("submit", f, v, 1, 1000, &a->rate) != 0)
                return PROFD_EXIT_USAGE;
        } else if (strcmp(f, "--label") == 0) {
            if (add_label(a, v) != 0)
                return PROFD_EXIT_USAGE;
        } else
            return profd_usage_error("submit", "unknown flag '%s'", f);
    }
    if (!a->service)
        return profd_usage_error("submit", "--service NAME is required");
    return 0;
}

/* The request as JSON text (malloc'd), validated into *req. */
static char *build_request(const submit_args *a, const profd_config *cfg, profd_request *req,
                           profd_error *err)
{
    json_object *o = json_object_new_object(), *opts = json_object_new_object();
    char id[PROFD_UUID_LEN + 1], now[40];
    if (a->session_id)
        profd_strlcpy(id, a->session_id, sizeof id);
    else
        profd_uuid4(id);
    profd_rfc3339(profd_now_ms(), now);
    const char *user = getenv("USER");
    json_object_object_add(o, "version", json_object_new_int(1));
    json_object_object_add(o, "type", json_object_new_string("profile"));
    json_object_object_add(o, "session_id", json_object_new_string(id));
    json_object_object_add(o, "service_name", json_object_new_string(a->service));
    json_object_object_add(o, "duration_seconds", json_object_new_int64(a->duration));
    json_object_object_add(o, "pid", a->pid ? json_object_new_int64(a->pid) : NULL);
    json_object_object_add(o, "rate_hz", json_object_new_int64(a->rate));
    json_object_object_add(o, "profile_type", json_object_new_string(a->type ? a->type : "cpu"));
    if (a->frames)
        json_object_object_add(o, "memory_frames", json_object_new_int64(a->frames));
    json_object_object_add(o, "host", a->host ? json_object_new_string(a->host) : NULL);
    json_object_object_add(o, "trigger", json_object_new_string("cli"));
    json_object_object_add(o, "requested_by",
                           json_object_new_string(user && user[0] ? user : "cli"));
    json_object_object_add(o, "requested_at", json_object_new_string(now));
    json_object_object_add(opts, "nonblocking", json_object_new_boolean(a->options.nonblocking));
    json_object_object_add(opts, "subprocesses", json_object_new_boolean(a->options.subprocesses));
    json_object_object_add(opts, "native", json_object_new_boolean(a->options.native));
    json_object_object_add(opts, "idle", json_object_new_boolean(a->options.idle));
    json_object_object_add(opts, "gil", json_object_new_boolean(a->options.gil));
    json_object_object_add(o, "options", opts);
    json_object_object_add(o, "labels",
                           a->labels ? json_object_get(a->labels) : json_object_new_object());
    char *text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    profd_limits lim = {cfg->duration_min, cfg->duration_max};
    if (text && profd_request_parse(text, strlen(text), &lim, req, err) != 0) {
        free(text);
        return NULL;
    }
    if (!text)
        profd_error_set(err, NULL, "out of memory");
    return text;
}

/* The store when it answers, else NULL (with a note on stderr). */
static profd_store *open_store(const profd_config *cfg, bool skip)
{
    if (skip || !cfg->redis_url[0] || strcmp(cfg->redis_url, "memory") == 0)
        return NULL;
    profd_error err = {0};
    profd_store *st = profd_store_open(cfg, &err);
    if (st && st->ops->ping(st, &err) == 0)
        return st;
    fprintf(stderr,
            "profd submit: the session store is not reachable (%s); publishing anyway, the worker "
            "records the session when it takes the request\n",
            err.msg);
    if (st)
        st->ops->close(st);
    return NULL;
}

/* Record, publish, announce (profd_session_enqueue); without a store, or when
 * it fails, publish only. 0 published (or recorded before), -1 with err. */
static int submit(profd_bus *bus, profd_store *st, const profd_request *req, profd_error *err)
{
    profd_session s;
    profd_enqueue_result rc = profd_session_enqueue(st, bus, req, FLUSH_MS, &s, err);
    if (rc == PROFD_ENQUEUE_STORE_ERROR) {
        fprintf(stderr, "profd submit: cannot record the session (%s); publishing anyway\n",
                err->msg);
        profd_session_free(&s);
        rc = profd_session_enqueue(NULL, bus, req, FLUSH_MS, &s, err);
    }
    if (rc == PROFD_ENQUEUE_EXISTS)
        fprintf(stderr, "profd submit: session %s is recorded already; not published again\n",
                req->session_id);
    profd_session_free(&s);
    return rc == PROFD_ENQUEUED || rc == PROFD_ENQUEUE_EXISTS ? 0 : -1;
}

static int run(int argc, char **argv)
{
    submit_args a = {.duration = 60, .rate = 100};
    profd_config cfg;
    profd_error err = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc == 0 && profd_config_load(&cfg, &err) != 0) {
        fprintf(stderr, "profd submit: %s\n", err.msg);
        rc = PROFD_EXIT_USAGE;
    }
    if (rc == 0 && strcmp(cfg.bus, "memory") == 0)
        rc = profd_usage_error("submit", "PROFD_BUS=memory lives inside one process; set "
                                         "PROFD_BUS to kafka or pubsub");
    profd_request req;
    profd_request_init(&req);
    char *text = NULL;
    if (rc == 0 && !(text = build_request(&a, &cfg, &req, &err)))
        rc = profd_usage_error("submit", "%s", err.msg);
    json_object_put(a.labels);
    if (rc != 0) {
        profd_request_free(&req);
        return rc;
    }
    profd_bus *bus = profd_bus_open(&cfg, PROFD_BUS_PRODUCE, &err);
    profd_store *st = bus ? open_store(&cfg, a.no_store) : NULL;
    rc = bus && submit(bus, st, &req, &err) == 0 ? PROFD_EXIT_OK : PROFD_EXIT_FAIL;
    if (rc == PROFD_EXIT_OK)
        printf("%s\n", req.session_id);
    else
        fprintf(stderr, "profd submit: %s\n", err.msg);
    if (st)
        st->ops->close(st);
    if (bus)
        bus->ops->close(bus);
    free(text);
    profd_request_free(&req);
    return rc;
}

const profd_command profd_cmd_submit = {
    "submit", run, "publish one profiling request on the bus and print its session id",
    "Usage: profd submit --service NAME [--duration S] [--pid PID] [--host H] [--rate HZ]\n"
    "                    [--type cpu|memory] [--memory-frames N]\n"
    "                    [--session-id UUID] [--label KEY=VALUE]... [--no-store]\n"
    "                    [--nonblocking] [--subprocesses] [--native] [--idle] [--gil]\n\n"
    "Publishes one request (trigger cli, requested_by $USER) on the configured bus (Kafka or\n"
    "Pub/Sub) and prints the session id on stdout. The request is checked with the worker's\n"
    "rules first. When the session store answers, the session is recorded as queued and\n"
    "session.queued is announced; without it the request is published all the same.\n\n"
    "Flags:\n"
    "  --service NAME       service to profile (as named in the workers' PROFD_TARGETS)\n"
    "  --duration S         capture length in seconds [60], PROFD_DURATION_MIN..MAX\n"
    "  --pid PID            profile this process (needs --host: pids mean nothing across hosts)\n"
    "  --host H             run on the worker whose PROFD_HOST is H [any that can]\n"
    "  --rate HZ            samples per second, 1..1000 [100]\n"
    "  --type cpu|memory    what to capture [cpu]; memory needs CPython 3.14+ (docs/memory.md)\n"
    "  --memory-frames N    tracemalloc traceback depth of a memory capture, 1..1024 [64]\n"
    "  --session-id UUID    choose the id (a retry with the same id is idempotent)\n"
    "  --label KEY=VALUE    attach a label (repeatable)\n"
    "  --no-store           do not record the session in the store; the worker will\n"
    "  --nonblocking, --subprocesses, --native, --idle, --gil   sampler options\n\n"
    "Exit status: 0 published, 2 bad usage or an invalid request, 1 the bus failed.\n\n"
    "Environment:\n"
    "  PROFD_BUS                                   kafka | pubsub (memory is refused)\n"
    "  PROFD_KAFKA_BROKERS, PROFD_KAFKA_CONFIG     Kafka\n"
    "  PROFD_REQUEST_TOPIC, PROFD_EVENT_TOPIC      Kafka topics; PROFD_REQUEST_TOPIC is also\n"
    "                                              the Pub/Sub request topic\n"
    "  PUBSUB_EMULATOR_HOST, GOOGLE_CLOUD_PROJECT, PROFD_PUBSUB_EVENT_TOPIC,\n"
    "  GOOGLE_APPLICATION_CREDENTIALS              Pub/Sub (docs/pubsub.md)\n"
    "  PROFD_REDIS_URL                             the session store (optional)\n"
    "  PROFD_DURATION_MIN, PROFD_DURATION_MAX      accepted durations\n"
    "Run 'profd help env' for defaults; docs/submit.md for details.\n"};
