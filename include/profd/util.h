/* util.h - small shared helpers: errors, time, UUIDs, names, files.
 *
 * Every module reports failure the same way: a profd_error carrying one of the
 * contract's error codes (or NULL for a plain failure) and one human sentence.
 * Sessions copy both straight into error_code / error_message, so a message
 * written deep inside the sampler reaches the operator unchanged. */
#ifndef PROFD_UTIL_H
#define PROFD_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PROFD_VERSION "0.1.0"
#define PROFD_UUID_LEN 36
#define PROFD_MAX_MESSAGE (64 * 1024)

/* On a function whose result must not be dropped: a multi-outcome enum, an
 * error that leaves work undone. gcc warns even through a (void) cast, so the
 * caller has to look at the value. Put it first, before the return type:
 * that form also works on a function-pointer member (the store ops). */
#define PROFD_MUST_USE __attribute__((warn_unused_result))

/* Error codes of the session contract (docs/messages.md). */
#define PROFD_E_INVALID "invalid_request"
#define PROFD_E_NOT_FOUND "target_not_found"
#define PROFD_E_NOT_ALLOWED "target_not_allowed"
#define PROFD_E_PERMISSION "permission_denied"
#define PROFD_E_TARGET_BUSY "target_busy" /* another tracer (capture) holds the process */
#define PROFD_E_SAMPLER_MISSING "sampler_missing"
#define PROFD_E_SAMPLER_FAILED "sampler_failed"
#define PROFD_E_TARGET_EXITED "target_exited"
#define PROFD_E_TIMEOUT "timeout"
#define PROFD_E_UPLOAD "upload_failed"
#define PROFD_E_WORKER_LOST "worker_lost"
#define PROFD_E_SHUTDOWN "shutdown"
#define PROFD_E_UNROUTABLE "unroutable"
#define PROFD_E_CANCELLED "cancelled"
/* Memory sessions (docs/memory.md): refusals of the target. */
#define PROFD_E_PYTHON_TOO_OLD "python_too_old"
#define PROFD_E_REMOTE_DEBUG_DISABLED "remote_debug_disabled"
#define PROFD_E_FREE_THREADED "free_threaded_unsupported"

typedef struct profd_error {
    const char *code; /* one of PROFD_E_*, or NULL */
    char msg[512];
} profd_error;

void profd_error_set(profd_error *e, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void profd_error_clear(profd_error *e);

/* Time: wall clock in ms since the epoch, and a monotonic clock in ms. */
int64_t profd_now_ms(void);
int64_t profd_mono_ms(void);
/* RFC 3339 UTC with second precision ("2024-01-15T10:30:00Z"); out >= 32 bytes. */
void profd_rfc3339(int64_t ms, char *out);
/* Accepts RFC 3339 with optional fraction and Z or +hh:mm offset. 0 ok, -1 bad. */
int profd_parse_rfc3339(const char *s, int64_t *ms);

/* UUIDs, lower-case canonical form, out >= 37 bytes. */
void profd_uuid4(char *out);
void profd_uuid5(const char *namespace_uuid, const char *name, char *out);
bool profd_uuid_valid(const char *s);

/* service_name: ^[a-z0-9][a-z0-9._-]{0,62}$ */
bool profd_service_name_valid(const char *s);
/* A request's host (PROFD_HOST): ^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$ */
bool profd_host_name_valid(const char *s);
/* A session label's key: ^[A-Za-z_][A-Za-z0-9_.-]{0,62}$ */
bool profd_label_key_valid(const char *s);

/* base64 (src/core/base64.c). Encoding: url selects base64url without padding,
 * else the standard alphabet with padding; out needs (len+2)/3*4+1 bytes, the
 * length written is returned; profd_b64 returns a heap string (NULL: out of
 * memory). Decoding, out needs len*3/4+3 bytes: profd_b64url_decode is strict
 * (the URL alphabet only, no '=', no stray bits; the length or -1), for
 * tokens; profd_b64_decode accepts either alphabet and stops at '=' (0 or -1; -1 also
 * for a dangling last character, which no encoder writes). */
size_t profd_b64_encode(const unsigned char *in, size_t len, bool url, char *out);
char *profd_b64(const unsigned char *in, size_t len, bool url);
long profd_b64url_decode(const char *in, size_t len, unsigned char *out);
int profd_b64_decode(const char *in, unsigned char *out, size_t *outlen);

/* Lower-case hex of len bytes into out, which needs 2 * len + 1 bytes. */
void profd_hex(const unsigned char *in, size_t len, char *out);

/* A growable NUL-terminated string (src/core/sb.c); on allocation failure it
 * sets oom and stops growing, so callers check once at the end. */
typedef struct profd_sb {
    char *s;
    size_t len, cap;
    bool oom;
} profd_sb;

void profd_sb_add(profd_sb *b, const char *s);
void profd_sb_addn(profd_sb *b, const char *s, size_t n);
void profd_sb_addf(profd_sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s percent-encoded (RFC 3986 unreserved kept, '/' kept if keep_slash). */
void profd_sb_addenc(profd_sb *b, const char *s, bool keep_slash);
void profd_sb_free(profd_sb *b);

size_t profd_strlcpy(char *dst, const char *src, size_t size);
/* Untrusted text for one-line output (src/core/escape.c): every byte that is
 * not part of well-formed UTF-8, and every NUL, becomes \xHH; with PROFD_ESC_CONTROLS, control
 * characters (C0, DEL, C1, U+2028/9) and the backslash are escaped as well.
 * Writes at most cap - 1 bytes and a NUL (cut between characters, never inside
 * an escape); returns the bytes written. */
#define PROFD_ESC_CONTROLS 1u
size_t profd_escape(const char *in, size_t len, unsigned flags, char *out, size_t cap);
/* A URL fit for logs: any password in its user info replaced by "***". */
void profd_url_redact(const char *url, char *out, size_t size);
int profd_mkdir_p(const char *path, mode_t mode);
/* Whole small file into a NUL-terminated heap buffer (max bytes); NULL on error. */
char *profd_read_file(const char *path, size_t max, size_t *len_out);
/* Write via a temp file and rename(2). 0 ok, -1 with errno. */
int profd_write_file_atomic(const char *path, const void *data, size_t len);
/* Absolute path of the running executable (/proc/self/exe). */
const char *profd_self_exe(void);

#endif
