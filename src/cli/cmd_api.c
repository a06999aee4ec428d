/* cmd_api.c - `profd api`: the REST API over the configured store, bus and
 * blob store, until SIGTERM or SIGINT; and `profd api token`, which mints an
 * HS256 token for scripts and tests (the demo uses it).
 *
 * The API refuses to start without JWT configuration: every profiling
 * endpoint needs a token, and an API that can only answer 401 is a
 * misconfiguration worth a clear error (`profd serve` is the no-setup mode). */
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "profd/api.h"
#include "profd/cli.h"
#include "profd/log.h"

static void wait_for_stop(void)
{
    struct timespec ts = {0, 100 * 1000 * 1000};
    while (!profd_stop_requested)
        nanosleep(&ts, NULL);
}

/* profd api token --sub NAME [--role R] [--ttl S] [--secret S] */
static int token(int argc, char **argv)
{
    const char *secret = getenv("PROFD_JWT_SECRET"), *sub = NULL, *role = "admin";
    long ttl = 3600;
    for (int i = 1; i < argc; i += 2) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return profd_usage_error("api", "%s needs a value", argv[i]);
        if (strcmp(argv[i], "--secret") == 0)
            secret = v;
        else if (strcmp(argv[i], "--sub") == 0)
            sub = v;
        else if (strcmp(argv[i], "--role") == 0)
            role = v;
        else if (strcmp(argv[i], "--ttl") == 0) {
            if (profd_parse_int("api", "--ttl", v, 1, 365L * 86400, &ttl) < 0)
                return PROFD_EXIT_USAGE;
        } else
            return profd_usage_error("api", "unknown flag '%s' for token", argv[i]);
    }
    if (!secret || !*secret)
        return profd_usage_error("api", "token needs --secret or PROFD_JWT_SECRET");
    if (!sub || !*sub)
        return profd_usage_error("api", "token needs --sub NAME");
    json_object *c = json_object_new_object();
    json_object_object_add(c, "sub", json_object_new_string(sub));
    json_object *roles = json_object_new_array();
    json_object_array_add(roles, json_object_new_string(role));
    json_object_object_add(c, "roles", roles);
    long long now = (long long)(profd_now_ms() / 1000);
    json_object_object_add(c, "iat", json_object_new_int64(now));
    json_object_object_add(c, "exp", json_object_new_int64(now + ttl));
    char *t =
        profd_jwt_sign_hs256(secret, json_object_to_json_string_ext(c, JSON_C_TO_STRING_PLAIN));
    json_object_put(c);
    if (!t)
        return PROFD_EXIT_FAIL;
    printf("%s\n", t);
    free(t);
    return PROFD_EXIT_OK;
}

typedef struct services {
    profd_store *store;
    profd_bus *bus;
    profd_blob *blob;
} services;

static void close_services(services *s)
{
    if (s->bus)
        s->bus->ops->close(s->bus);
    if (s->blob)
        s->blob->ops->close(s->blob);
    if (s->store)
        s->store->ops->close(s->store);
}

static int serve_api(profd_config *cfg)
{
    if (!cfg->jwt_secret[0] && !cfg->jwt_public_key[0]) {
        fprintf(stderr, "profd api: set PROFD_JWT_SECRET or PROFD_JWT_PUBLIC_KEY (every "
                        "profiling endpoint needs a token); for a local trial run 'profd serve'\n");
        return PROFD_EXIT_USAGE;
    }
    profd_install_stop_signals();
    profd_error err = {0};
    services s = {0};
    s.store = profd_store_open(cfg, &err);
    s.blob = s.store ? profd_blob_open(cfg, &err) : NULL;
    s.bus = s.blob ? profd_bus_open(cfg, PROFD_BUS_PRODUCE, &err) : NULL;
    char key[80];
    profd_api_link_key(cfg, key, sizeof key);
    profd_api_opts o = {
        .cfg = cfg, .store = s.store, .bus = s.bus, .blob = s.blob, .link_key = key};
    profd_api *api = s.bus ? profd_api_start(&o, &err) : NULL;
    if (!api) {
        fprintf(stderr, "profd api: %s\n", err.msg);
        close_services(&s);
        return PROFD_EXIT_FAIL;
    }
    char base[300];
    profd_api_base_url(cfg->listen, profd_api_port(api), base, sizeof base);
    profd_blob_file_set_link_base(s.blob, base, key);
    LOG_I(NULL, "api.listening", "REST API on %s (bus %s)", base, cfg->bus);
    wait_for_stop();
    LOG_I(NULL, "api.stopping", "signal received, stopping");
    profd_api_stop(api);
    if (s.bus->ops->flush)
        s.bus->ops->flush(s.bus, 5000);
    close_services(&s);
    return PROFD_EXIT_OK;
}

static int run(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "token") == 0)
        return token(argc - 1, argv + 1);
    profd_config cfg;
    profd_error err = {0};
    if (profd_config_load(&cfg, &err) != 0) {
        fprintf(stderr, "profd api: %s\n", err.msg);
        return PROFD_EXIT_USAGE;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
            profd_strlcpy(cfg.listen, argv[++i], sizeof cfg.listen);
        else
            return profd_usage_error("api", "unexpected argument '%s'", argv[i]);
    }
    return serve_api(&cfg);
}

const profd_command profd_cmd_api = {
    "api", run, "the REST API: start, read, list and cancel profiling sessions",
    "Usage: profd api [--listen HOST:PORT]\n"
    "       profd api token --sub NAME [--role ROLE] [--ttl SECONDS] [--secret SECRET]\n\n"
    "Serves the REST API (docs/api.md) on PROFD_LISTEN: POST /api/v1/monitoring/profile/start,\n"
    "GET/DELETE /api/v1/monitoring/profile/{id}, GET /api/v1/monitoring/profile (list),\n"
    "/{id}/flamegraph and /{id}/raw, plus /healthz, /readyz and /metrics. Requests are\n"
    "recorded in the session store and published on the bus for workers.\n"
    "Every profiling endpoint needs 'Authorization: Bearer <JWT>' with PROFD_ADMIN_ROLE\n"
    "(docs/auth.md). 'token' prints an HS256 token signed with --secret (default\n"
    "PROFD_JWT_SECRET), role admin, valid --ttl seconds (3600).\n\n"
    "Environment:\n"
    "  PROFD_LISTEN                                        address [127.0.0.1:8080]\n"
    "  PROFD_JWT_SECRET, PROFD_JWT_PUBLIC_KEY              HS256 secret / PEM or JWKS file\n"
    "  PROFD_JWT_ISSUER, PROFD_JWT_AUDIENCE, PROFD_ADMIN_ROLE\n"
    "  PROFD_RATE_LIMIT                                    starts per minute per subject [10]\n"
    "  PROFD_BUS, PROFD_KAFKA_*, PROFD_REQUEST_TOPIC, PROFD_EVENT_TOPIC, Pub/Sub variables\n"
    "  PROFD_REDIS_URL, PROFD_STORAGE, PROFD_SIGNED_URL_TTL, PROFD_DURATION_MIN/MAX,\n"
    "  PROFD_SAMPLER, PROFD_PYSPY, PROFD_LOG_LEVEL, PROFD_LOG_FORMAT\n"
    "Run 'profd help env' for defaults.\n"};
