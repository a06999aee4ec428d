/* cmd_storage.c - `profd storage sign|put|get`: V4 signed URLs and object
 * transfer for operators, over the same code the worker uses (src/blob/).
 *
 * sign works offline with a service-account key (--key, else
 * GOOGLE_APPLICATION_CREDENTIALS); without a key it asks the IAM Credentials
 * signBlob API with the metadata server's identity. put and get talk to the
 * configured endpoint (STORAGE_EMULATOR_HOST, PROFD_GCS_ENDPOINT) with the
 * store's retries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profd/blob.h"
#include "profd/cli.h"
#include "profd/config.h"

#define CMD "storage"

static const char *next_arg(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        profd_usage_error(CMD, "%s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

/* Decode %XX escapes in place ("K=V" of --query is URL-encoded form). */
static int url_decode(char *s)
{
    char *o = s;
    for (char *p = s; *p; p++) {
        if (*p == '%') {
            unsigned v;
            if (!p[1] || !p[2] || sscanf(p + 1, "%2x", &v) != 1)
                return -1;
            *o++ = (char)v;
            p += 2;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return 0;
}

static int add_header(profd_blob_sign_opts *o, char *kv)
{
    char *colon = strchr(kv, ':');
    if (!colon || colon == kv || o->nheaders >= PROFD_BLOB_SIGN_MAX_PAIRS)
        return profd_usage_error(CMD, "--header needs NAME:VALUE, got '%s'", kv);
    *colon = '\0';
    o->headers[o->nheaders][0] = kv;
    o->headers[o->nheaders++][1] = colon + 1;
    return 0;
}

static int add_query(profd_blob_sign_opts *o, char *kv)
{
    char *eq = strchr(kv, '=');
    if (!eq || eq == kv || o->nquery >= PROFD_BLOB_SIGN_MAX_PAIRS)
        return profd_usage_error(CMD, "--query needs KEY=VALUE, got '%s'", kv);
    *eq = '\0';
    if (url_decode(kv) || url_decode(eq + 1))
        return profd_usage_error(CMD, "--query '%s': bad %%XX escape", kv);
    o->query[o->nquery][0] = kv;
    o->query[o->nquery++][1] = eq + 1;
    return 0;
}

static int parse_style(const char *s, const char **out)
{
    if (!strcmp(s, "path") || !strcmp(s, "virtual-hosted") || !strcmp(s, "bucket-bound")) {
        *out = s;
        return 0;
    }
    return profd_usage_error(CMD, "--url-style must be path, virtual-hosted or bucket-bound");
}

static int sign_flag(profd_blob_sign_opts *o, int argc, char **argv, int *i, const char **key)
{
    const char *f = argv[*i];
    const char *v = next_arg(argc, argv, i);
    long n;
    if (!v)
        return PROFD_EXIT_USAGE;
    if (!strcmp(f, "--method"))
        o->method = v;
    else if (!strcmp(f, "--bucket"))
        o->bucket = v;
    else if (!strcmp(f, "--object"))
        o->object = v;
    else if (!strcmp(f, "--expires")) {
        if (profd_parse_int(CMD, f, v, 1, 604800, &n) != 0)
            return PROFD_EXIT_USAGE;
        o->expires_s = n;
    } else if (!strcmp(f, "--timestamp")) {
        if (profd_parse_rfc3339(v, &o->timestamp_ms) != 0)
            return profd_usage_error(CMD, "--timestamp needs RFC 3339, got '%s'", v);
    } else if (!strcmp(f, "--header"))
        return add_header(o, argv[*i]);
    else if (!strcmp(f, "--query"))
        return add_query(o, argv[*i]);
    else if (!strcmp(f, "--key"))
        *key = v;
    else if (!strcmp(f, "--scheme")) {
        if (strcmp(v, "http") && strcmp(v, "https"))
            return profd_usage_error(CMD, "--scheme must be http or https");
        o->scheme = v;
    } else if (!strcmp(f, "--url-style"))
        return parse_style(v, &o->url_style);
    else if (!strcmp(f, "--bucket-bound-hostname"))
        o->bucket_bound_hostname = v;
    else if (!strcmp(f, "--hostname"))
        o->hostname = v;
    else if (!strcmp(f, "--endpoint"))
        o->endpoint = v;
    else if (!strcmp(f, "--emulator-host"))
        o->emulator_host = v;
    else if (!strcmp(f, "--universe-domain"))
        o->universe_domain = v;
    else
        return profd_usage_error(CMD, "unknown flag '%s'", f);
    return 0;
}

static int cmd_sign(int argc, char **argv, const profd_config *cfg)
{
    profd_blob_sign_opts o = {0};
    const char *key = NULL;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) != 0)
            return profd_usage_error(CMD, "unexpected argument '%s'", argv[i]);
        int rc = sign_flag(&o, argc, argv, &i, &key);
        if (rc)
            return rc;
    }
    if (!o.method || !o.bucket || !o.expires_s)
        return profd_usage_error(CMD, "sign needs --method, --bucket and --expires");
    profd_gcp_opts ao = {.key_file = key ? key : cfg->google_credentials,
                         .metadata_host = cfg->gce_metadata_host,
                         .iam_endpoint = cfg->iam_endpoint};
    profd_error err = {0};
    profd_gcp *auth = profd_gcp_new(&ao, &err);
    char *url = NULL;
    if (auth && profd_blob_sign_url(auth, &o, &url, &err) == 0)
        printf("%s\n", url);
    else
        fprintf(stderr, "profd storage sign: %s\n", err.msg);
    free(url);
    profd_gcp_free(auth);
    return url ? PROFD_EXIT_OK : PROFD_EXIT_FAIL;
}

/* gs://B/O -> store on B, object O. */
static profd_blob *open_url(const profd_config *cfg, const char *url, const char **object,
                            profd_error *err)
{
    char bucket[256], rest[1024];
    if (profd_blob_parse_gs(url, bucket, sizeof bucket, rest, sizeof rest, err) != 0)
        return NULL;
    const char *slash = strchr(url + 5, '/');
    if (!rest[0] || !slash) {
        profd_error_set(err, NULL, "'%s' names no object; use gs://BUCKET/OBJECT", url);
        return NULL;
    }
    *object = slash + 1;
    if (!profd_blob_name_valid(*object, err))
        return NULL;
    return profd_blob_gcs_open(cfg, bucket, "", err);
}

static int cmd_put(int argc, char **argv, const profd_config *cfg)
{
    bool no_clobber = false;
    const char *content_type = NULL, *pos[2];
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--no-clobber"))
            no_clobber = true;
        else if (!strcmp(argv[i], "--content-type")) {
            if (!(content_type = next_arg(argc, argv, &i)))
                return PROFD_EXIT_USAGE;
        } else if (argv[i][0] == '-' && argv[i][1])
            return profd_usage_error(CMD, "unknown flag '%s'", argv[i]);
        else if (npos < 2)
            pos[npos++] = argv[i];
        else
            return profd_usage_error(CMD, "unexpected argument '%s'", argv[i]);
    }
    if (npos != 2)
        return profd_usage_error(CMD, "put needs FILE gs://BUCKET/OBJECT");
    profd_error err = {0};
    const char *object = NULL;
    profd_blob *b = open_url(cfg, pos[1], &object, &err);
    int64_t gen = PROFD_GEN_NEW, newgen = 0;
    int rc = -1;
    if (b && (no_clobber || b->ops->stat(b, object, &gen, NULL, NULL, &err) >= 0)) {
        if (no_clobber)
            gen = PROFD_GEN_NEW;
        rc = b->ops->put_file(b, object, pos[0], content_type, NULL, gen, &newgen, &err);
    }
    if (rc == 0)
        printf("%s generation %lld\n", pos[1], (long long)newgen);
    else
        fprintf(stderr, "profd storage put: %s\n", err.msg);
    if (b)
        b->ops->close(b);
    return rc == 0 ? PROFD_EXIT_OK : PROFD_EXIT_FAIL;
}

static int cmd_get(int argc, char **argv, const profd_config *cfg)
{
    if (argc != 3)
        return profd_usage_error(CMD, "get needs gs://BUCKET/OBJECT FILE");
    profd_error err = {0};
    const char *object = NULL;
    profd_blob *b = open_url(cfg, argv[1], &object, &err);
    int rc = b ? b->ops->get_file(b, object, argv[2], &err) : -1;
    if (rc != 0)
        fprintf(stderr, "profd storage get: %s\n", err.msg);
    if (b)
        b->ops->close(b);
    return rc == 0 ? PROFD_EXIT_OK : PROFD_EXIT_FAIL;
}

static int run(int argc, char **argv)
{
    if (argc < 2)
        return profd_usage_error(CMD, "needs a subcommand: sign, put or get");
    profd_config cfg;
    profd_error err = {0};
    if (profd_config_load(&cfg, &err) != 0) {
        fprintf(stderr, "profd storage: %s\n", err.msg);
        return PROFD_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "sign"))
        return cmd_sign(argc - 1, argv + 1, &cfg);
    if (!strcmp(argv[1], "put"))
        return cmd_put(argc - 1, argv + 1, &cfg);
    if (!strcmp(argv[1], "get"))
        return cmd_get(argc - 1, argv + 1, &cfg);
    return profd_usage_error(CMD, "unknown subcommand '%s'; use sign, put or get", argv[1]);
}

const profd_command profd_cmd_storage = {
    "storage", run, "V4 signed URLs and object transfer for gs:// (sign, put, get)",
    "Usage:\n"
    "  profd storage sign --method M --bucket B [--object O] --expires S [--timestamp RFC3339]\n"
    "        [--header K:V]... [--query K=V]... [--key FILE] [--scheme http|https]\n"
    "        [--url-style path|virtual-hosted|bucket-bound] [--bucket-bound-hostname H]\n"
    "        [--hostname H] [--endpoint URL] [--emulator-host H] [--universe-domain D]\n"
    "  profd storage put [--no-clobber] [--content-type T] FILE gs://BUCKET/OBJECT\n"
    "  profd storage get gs://BUCKET/OBJECT FILE\n\n"
    "sign prints a V4 (GOOG4-RSA-SHA256) signed URL valid --expires seconds (at most 7 days)\n"
    "from --timestamp (default now). --query K=V is URL-encoded form: write '%' as %25 and a\n"
    "'=' inside K as %3D. The key is --key, else GOOGLE_APPLICATION_CREDENTIALS; without one\n"
    "the IAM Credentials signBlob API signs as the metadata server's service account.\n"
    "Host: --bucket-bound-hostname (with --url-style bucket-bound), else --hostname, else\n"
    "--endpoint, else --emulator-host, else storage.UNIVERSE (googleapis.com).\n\n"
    "put uploads FILE (replacing an existing object by its generation; --no-clobber refuses\n"
    "to replace) and prints the new generation. get downloads to FILE atomically.\n\n"
    "Environment:\n"
    "  GOOGLE_APPLICATION_CREDENTIALS, GCE_METADATA_HOST, PROFD_IAM_ENDPOINT   credentials\n"
    "  STORAGE_EMULATOR_HOST, PROFD_GCS_ENDPOINT                              where to\n"
    "See docs/storage.md.\n"};
