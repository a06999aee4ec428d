/* auth.c - access tokens and signatures from Google credentials, and the
 * profd_gcp object that holds them.
 *
 * Service-account key: a JWT {iss: client_email, scope, aud: token_uri, iat,
 * exp: iat + 1 h} signed RS256 with the key's private key is POSTed to the
 * key's token_uri (grant_type jwt-bearer); the answer's access_token is kept
 * until 60 s before expires_in runs out. Metadata server: GET
 * http://HOST/computeMetadata/v1/instance/service-accounts/default/token with
 * "Metadata-Flavor: Google" (HOST from GCE_METADATA_HOST for tests).
 *
 * Why it is built this way: one mutex guards the cache, so concurrent
 * uploads and Pub/Sub calls share a token and refresh it once. Token and
 * e-mail requests go through the same call as every other request (call.c),
 * without an Authorization header and with their own short policy
 * (TOKEN_POLICY): they are reads, so transient failures are retried. The
 * IAM signBlob request is an ordinary authenticated call. Error messages
 * name the step and the HTTP status, never a token, assertion or key. */
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gcp_internal.h"
#include "profd/log.h"

#define SCOPE "https://www.googleapis.com/auth/cloud-platform"
#define DEFAULT_TOKEN_URI "https://oauth2.googleapis.com/token"

/* Token, e-mail and signBlob requests: a few quick attempts. */
static const profd_gcp_policy TOKEN_POLICY = {
    .max_attempts = 4, .deadline_ms = 30000, .base_ms = 200, .timeout_ms = 30000};

static const char *jstr(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static int load_key(profd_gcp *a, const char *path, profd_error *err)
{
    size_t len;
    char *text = profd_read_file(path, 1 << 20, &len);
    if (!text) {
        profd_error_set(err, NULL, "cannot read the credentials file %s", path);
        return -1;
    }
    json_object *o = json_tokener_parse(text);
    free(text);
    const char *type = o ? jstr(o, "type") : NULL;
    const char *pem = o ? jstr(o, "private_key") : NULL;
    const char *email = o ? jstr(o, "client_email") : NULL;
    int rc = -1;
    if (!o || !type) {
        profd_error_set(err, NULL, "credentials file %s is not a Google credentials JSON file",
                        path);
    } else if (strcmp(type, "service_account") != 0) {
        profd_error_set(err, NULL,
                        "credentials file %s is of type '%s'; profd needs a service_account key "
                        "(or no file on GCE/GKE, to use the metadata server)",
                        path, type);
    } else if (!pem || !email) {
        profd_error_set(err, NULL, "credentials file %s lacks private_key or client_email", path);
    } else {
        BIO *bio = BIO_new_mem_buf(pem, -1);
        a->key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
        if (!a->key || EVP_PKEY_base_id(a->key) != EVP_PKEY_RSA) {
            profd_error_set(err, NULL, "credentials file %s has no usable RSA private key", path);
        } else {
            profd_strlcpy(a->email, email, sizeof a->email);
            const char *uri = jstr(o, "token_uri");
            profd_strlcpy(a->token_uri, uri && uri[0] ? uri : DEFAULT_TOKEN_URI,
                          sizeof a->token_uri);
            const char *kid = jstr(o, "private_key_id");
            profd_strlcpy(a->key_id, kid ? kid : "", sizeof a->key_id);
            rc = 0;
        }
    }
    json_object_put(o);
    return rc;
}

profd_gcp *profd_gcp_new(const profd_gcp_opts *o, profd_error *err)
{
    profd_gcp *a = calloc(1, sizeof *a);
    if (!a) {
        profd_error_set(err, NULL, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&a->mu, NULL);
    if (gcp__http_init(a, o->keep_alive) != 0) {
        profd_error_set(err, NULL, "cannot initialise libcurl for Google APIs");
        profd_gcp_free(a);
        return NULL;
    }
    a->no_auth = o->no_auth;
    profd_strlcpy(a->metadata_host,
                  o->metadata_host && o->metadata_host[0] ? o->metadata_host
                                                          : "metadata.google.internal",
                  sizeof a->metadata_host);
    profd_strlcpy(a->iam_endpoint,
                  o->iam_endpoint && o->iam_endpoint[0] ? o->iam_endpoint
                                                        : "https://iamcredentials.googleapis.com",
                  sizeof a->iam_endpoint);
    if (o->key_file && o->key_file[0] && load_key(a, o->key_file, err) != 0) {
        profd_gcp_free(a);
        return NULL;
    }
    return a;
}

void profd_gcp_free(profd_gcp *a)
{
    if (!a)
        return;
    gcp__http_free(a);
    EVP_PKEY_free(a->key);
    OPENSSL_cleanse(a->token, sizeof a->token);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

static int rsa_sign(EVP_PKEY *key, const void *data, size_t len, unsigned char **sig,
                    size_t *siglen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestSign(ctx, NULL, siglen, data, len) == 1 && (*sig = malloc(*siglen)) &&
             EVP_DigestSign(ctx, *sig, siglen, data, len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}

/* header.claims.signature, each base64url. */
static char *make_jwt(profd_gcp *a)
{
    int64_t now = profd_now_ms() / 1000;
    profd_sb hdr = {0}, claims = {0}, out = {0};
    profd_sb_addf(&hdr, "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", a->key_id);
    profd_sb_addf(&claims,
                  "{\"iss\":\"%s\",\"scope\":\"" SCOPE
                  "\",\"aud\":\"%s\",\"iat\":%lld,\"exp\":%lld}",
                  a->email, a->token_uri, (long long)now, (long long)now + 3600);
    char *h = hdr.s ? profd_b64((unsigned char *)hdr.s, hdr.len, true) : NULL;
    char *c = claims.s ? profd_b64((unsigned char *)claims.s, claims.len, true) : NULL;
    unsigned char *sig = NULL;
    size_t siglen = 0;
    char *s = NULL;
    if (h && c) {
        profd_sb_addf(&out, "%s.%s", h, c);
        if (!out.oom && rsa_sign(a->key, out.s, out.len, &sig, &siglen) == 0)
            s = profd_b64(sig, siglen, true);
    }
    char *jwt = NULL;
    if (s) {
        profd_sb_addf(&out, ".%s", s);
        if (!out.oom)
            jwt = strdup(out.s);
    }
    free(h);
    free(c);
    free(s);
    free(sig);
    profd_sb_free(&hdr);
    profd_sb_free(&claims);
    profd_sb_free(&out);
    return jwt;
}

/* One request of the credentials flow, without an Authorization header:
 * 0 on a 2xx (resp to free), else -1 with "WHAT failed after N attempts". */
static int fetch(profd_gcp *a, profd_gcp_req *req, bool with_auth, profd_gcp_resp *resp,
                 const char *what, profd_error *err)
{
    profd_gcp_result r = gcp__call(a, req, true, &TOKEN_POLICY, with_auth, resp, err);
    if (r == PROFD_GCP_NO_TOKEN)
        return -1;
    if (r == PROFD_GCP_OK && resp->status >= 200 && resp->status < 300)
        return 0;
    if (resp->status)
        profd_error_set(err, NULL, "%s failed after %d attempt%s: HTTP %ld", what, resp->attempts,
                        resp->attempts == 1 ? "" : "s", resp->status);
    else
        profd_error_set(err, NULL, "%s failed after %d attempt%s: %s", what, resp->attempts,
                        resp->attempts == 1 ? "" : "s", resp->error);
    profd_gcp_resp_free(resp);
    return -1;
}

static int request_token(profd_gcp *a, profd_error *err)
{
    profd_gcp_req req = {0};
    profd_gcp_resp resp;
    char url[600];
    char *jwt = NULL;
    profd_sb body = {0};
    const char *what;
    if (a->key) {
        jwt = make_jwt(a);
        if (!jwt) {
            profd_error_set(err, NULL,
                            "cannot sign the token request with the service-account key");
            return -1;
        }
        profd_sb_add(&body,
                     "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=");
        profd_sb_add(&body, jwt);
        req.method = "POST";
        req.url = a->token_uri;
        req.body = body.s;
        req.body_len = body.len;
        profd_gcp_add_header(&req, "Content-Type: application/x-www-form-urlencoded");
        what = "token request to the service account's token_uri";
    } else {
        snprintf(url, sizeof url,
                 "http://%s/computeMetadata/v1/instance/service-accounts/default/token",
                 a->metadata_host);
        req.method = "GET";
        req.url = url;
        profd_gcp_add_header(&req, "Metadata-Flavor: Google");
        what = "token request to the metadata server (not on GCE/GKE? set "
               "GOOGLE_APPLICATION_CREDENTIALS)";
    }
    req.what = "token request";
    int rc = body.oom ? -1 : fetch(a, &req, false, &resp, what, err);
    if (body.oom)
        profd_error_set(err, NULL, "out of memory");
    if (jwt)
        OPENSSL_cleanse(jwt, strlen(jwt));
    free(jwt);
    if (body.s)
        OPENSSL_cleanse(body.s, body.len);
    profd_sb_free(&body);
    if (rc != 0)
        return -1;
    json_object *o = json_tokener_parse(resp.body);
    const char *tok = o ? jstr(o, "access_token") : NULL;
    json_object *exp = NULL;
    if (!tok || strlen(tok) >= sizeof a->token - 1 ||
        !json_object_object_get_ex(o, "expires_in", &exp)) {
        profd_error_set(err, NULL, "%s returned no access_token/expires_in", what);
        rc = -1;
    } else {
        profd_strlcpy(a->token, tok, sizeof a->token);
        a->token_expiry_ms = profd_now_ms() + json_object_get_int64(exp) * 1000;
        LOG_D(NULL, "gcp.token", "new access token, valid %lld s",
              (long long)json_object_get_int64(exp));
    }
    json_object_put(o);
    OPENSSL_cleanse(resp.body, resp.body_len);
    profd_gcp_resp_free(&resp);
    return rc;
}

int gcp__auth_header(profd_gcp *a, char *out, size_t outlen, profd_error *err)
{
    out[0] = '\0';
    if (a->no_auth)
        return 0;
    pthread_mutex_lock(&a->mu);
    int rc = 0;
    if (!a->token[0] || profd_now_ms() >= a->token_expiry_ms - 60000)
        rc = request_token(a, err);
    if (rc == 0 && (size_t)snprintf(out, outlen, "Authorization: Bearer %s", a->token) >= outlen) {
        profd_error_set(err, NULL, "access token too long");
        rc = -1;
    }
    pthread_mutex_unlock(&a->mu);
    return rc;
}

void gcp__auth_invalidate(profd_gcp *a)
{
    pthread_mutex_lock(&a->mu);
    OPENSSL_cleanse(a->token, sizeof a->token);
    pthread_mutex_unlock(&a->mu);
}

bool profd_gcp_has_key(const profd_gcp *a)
{
    return a->key != NULL;
}

int profd_gcp_email(profd_gcp *a, char *out, size_t outlen, profd_error *err)
{
    pthread_mutex_lock(&a->mu);
    int rc = 0;
    if (!a->email[0]) {
        char url[600];
        snprintf(url, sizeof url,
                 "http://%s/computeMetadata/v1/instance/service-accounts/default/email",
                 a->metadata_host);
        profd_gcp_req req = {.method = "GET", .url = url, .what = "e-mail request"};
        profd_gcp_add_header(&req, "Metadata-Flavor: Google");
        profd_gcp_resp resp;
        rc = fetch(a, &req, false, &resp, "service-account e-mail request to the metadata server",
                   err);
        if (rc == 0) {
            size_t n = strcspn(resp.body, "\r\n");
            if (n == 0 || n >= sizeof a->email) {
                profd_error_set(err, NULL, "metadata server returned no service-account e-mail");
                rc = -1;
            } else {
                memcpy(a->email, resp.body, n);
                a->email[n] = '\0';
            }
            profd_gcp_resp_free(&resp);
        }
    }
    if (rc == 0)
        profd_strlcpy(out, a->email, outlen);
    pthread_mutex_unlock(&a->mu);
    return rc;
}

/* POST {iam}/v1/projects/-/serviceAccounts/EMAIL:signBlob {"payload": b64}. */
static int sign_blob(profd_gcp *a, const void *data, size_t len, unsigned char **sig,
                     size_t *siglen, profd_error *err)
{
    char email[256];
    if (profd_gcp_email(a, email, sizeof email, err) != 0)
        return -1;
    char *payload = profd_b64(data, len, false);
    profd_sb url = {0}, body = {0};
    profd_sb_addf(&url, "%s/v1/projects/-/serviceAccounts/", a->iam_endpoint);
    profd_sb_addenc(&url, email, false);
    profd_sb_add(&url, ":signBlob");
    profd_sb_addf(&body, "{\"payload\":\"%s\"}", payload ? payload : "");
    free(payload);
    profd_gcp_req req = {.method = "POST",
                         .url = url.s,
                         .body = body.s,
                         .body_len = body.len,
                         .what = "IAM signBlob request"};
    profd_gcp_add_header(&req, "Content-Type: application/json");
    profd_gcp_resp resp;
    int rc = url.oom || body.oom
                 ? -1
                 : fetch(a, &req, true, &resp,
                         "IAM signBlob request (needs iam.serviceAccounts.signBlob)", err);
    profd_sb_free(&url);
    profd_sb_free(&body);
    if (rc != 0)
        return -1;
    json_object *o = json_tokener_parse(resp.body);
    const char *sb = o ? jstr(o, "signedBlob") : NULL;
    rc = -1;
    if (sb && (*sig = malloc(strlen(sb) * 3 / 4 + 3)) && profd_b64_decode(sb, *sig, siglen) == 0 &&
        *siglen > 0) {
        rc = 0;
    } else {
        free(*sig);
        *sig = NULL;
        profd_error_set(err, NULL, "IAM signBlob returned no signedBlob");
    }
    json_object_put(o);
    profd_gcp_resp_free(&resp);
    return rc;
}

int profd_gcp_sign(profd_gcp *a, const void *data, size_t len, unsigned char **sig, size_t *siglen,
                   profd_error *err)
{
    *sig = NULL;
    if (a->key) {
        if (rsa_sign(a->key, data, len, sig, siglen) != 0) {
            free(*sig);
            *sig = NULL;
            profd_error_set(err, NULL, "cannot sign with the service-account key");
            return -1;
        }
        return 0;
    }
    return sign_blob(a, data, len, sig, siglen, err);
}
