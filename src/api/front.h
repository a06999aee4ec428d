/* front.h - the HTTP/1.1 front of the API and of the metrics endpoint
 * (docs/http-front.md): a strict request parser (parse.c) and an epoll event
 * loop with a handler pool (front.c). Private to src/api.
 *
 * The parser is pure: bytes in, a parsed head or a chunked body out, or a
 * named result that the front turns into an error answer and a closed
 * connection. The front owns sockets, limits, deadlines and buffers; a
 * handler sees one api_exchange (a request and the response it builds) and
 * never a socket.
 *
 * ## Handler contract
 * The front calls opts.handler(opts.ctx, x) once per request, on a pool
 * thread (or on the event loop itself when opts.inline_ok says so; only
 * for handlers that never block). Before it returns, the handler calls one
 * api__respond* function; the response is sent after the handler returns.
 * The exchange (request, headers, query, body) stays valid until then.
 * If the handler responds nothing, the answer is 500.
 *
 * ## Streaming (Server-Sent Events and the like)
 * api__respond_stream() turns the exchange into a streamed response: the
 * status and headers go out at once, then every api__stream_write() is sent
 * as one HTTP/1.1 chunk (an HTTP/1.0 client gets the bytes raw, and the
 * connection closes at the end). The returned api_stream belongs to the
 * handler: keep it, pass it to another thread, and write from there at any
 * time (all stream calls are thread-safe); the handler itself should return
 * soon, because it holds a pool thread while it runs. End the response
 * with api__stream_close(), which also releases the handle; it must be
 * called exactly once, also after a write returned API_STREAM_GONE.
 * A stream has no header, body or idle deadline; it has the write deadline
 * (a client that stops reading is dropped), and at most
 * API_STREAM_MAX_PENDING bytes may wait unsent: a write beyond that returns
 * API_STREAM_FULL and sends nothing (drop the event, or close).
 *
 *     api_stream *s = api__respond_stream(x, 200, "text/event-stream");
 *     hand s to a producer; return from the handler;
 *     producer: if (api__stream_write(s, "data: 1\n\n", 9) == API_STREAM_GONE) ...;
 *               api__stream_close(s);
 */
#ifndef PROFD_API_FRONT_H
#define PROFD_API_FRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "profd/util.h"

/* ---- limits -------------------------------------------------------------- */

#define API_HTTP_MAX_HEAD (16 * 1024)     /* request line + header fields */
#define API_HTTP_MAX_FIELDS 64            /* header fields per request */
#define API_HTTP_MAX_ARGS 64              /* query parameters per request */
#define API_HTTP_MAX_CHUNK_LINE 1024      /* a chunk-size line or a trailer line */
#define API_HTTP_MAX_OVERHEAD (64 * 1024) /* chunk lines and trailers of one body */
#define API_STREAM_MAX_PENDING (256 * 1024)

/* ---- the parser (parse.c) ------------------------------------------------ */

typedef enum {
    API_PARSE_OK = 0,
    API_PARSE_MORE = 1,             /* incomplete: feed more bytes */
    API_PARSE_BAD = 400,            /* syntax or framing: 400, then close */
    API_PARSE_BODY_TOO_LARGE = 413, /* 413, then close */
    API_PARSE_HEAD_TOO_LARGE = 431, /* 431, then close */
    API_PARSE_BAD_VERSION = 505,    /* HTTP/x.y other than 1.0 and 1.1 */
} api_parse_result;

typedef struct api_field {
    const char *name, *value; /* NUL-terminated, inside api_head.buf */
} api_field;

typedef enum { API_BODY_NONE, API_BODY_LENGTH, API_BODY_CHUNKED } api_body_kind;

typedef struct api_head {
    char *buf; /* a private copy of the head, cut into the strings below */
    const char *method;
    const char *target; /* as sent (origin-form) */
    char *path;         /* percent-decoded, malloc'd */
    int minor;          /* HTTP/1.minor */
    api_field fields[API_HTTP_MAX_FIELDS];
    int nfields;
    api_field args[API_HTTP_MAX_ARGS]; /* decoded query parameters, in order */
    int nargs;
    char *argbuf; /* backing store of args, malloc'd */
    api_body_kind body;
    uint64_t length; /* API_BODY_LENGTH */
    bool keep_alive; /* Connection and version allow another request */
    bool expect_100; /* Expect: 100-continue */
} api_head;

/* Where a head ends in buf[0..len): MORE (no end yet; *end unset), OK with
 * *end one past the blank line, BAD at the first bare CR or LF, or
 * HEAD_TOO_LARGE once API_HTTP_MAX_HEAD bytes hold no end. Empty lines
 * before the request line are skipped (RFC 9112 §2.2) and counted in *end. */
api_parse_result api__head_end(const char *buf, size_t len, size_t *end);
/* Parse the head buf[0..len) (as delimited by api__head_end). OK fills h
 * (free it with api__head_free, also after an error); otherwise why holds
 * one sentence for the 400. */
api_parse_result api__parse_head(const char *buf, size_t len, api_head *h, char *why,
                                 size_t why_len);
void api__head_free(api_head *h);
/* Case-insensitive header lookup; NULL when absent. */
const char *api__head_field(const api_head *h, const char *name);
/* First query parameter of that name (decoded); NULL when absent. */
const char *api__head_arg(const api_head *h, const char *name);

/* Percent-decode s[0..n) into a new malloc'd string; plus: '+' is a space
 * (query). NULL when an escape is malformed or decodes to NUL (or, with
 * no_ctl, to any control character). */
char *api__percent_decode(const char *s, size_t n, bool plus, bool no_ctl);

/* An incremental chunked-body decoder (RFC 9112 §7.1): chunk extensions
 * are checked and ignored, trailer fields are checked and dropped. */
typedef struct api_chunked {
    int state;
    uint64_t left; /* bytes left in the current chunk */
    char line[API_HTTP_MAX_CHUNK_LINE];
    size_t line_len;
    size_t overhead; /* bytes of lines so far */
    int trailers;
} api_chunked;

/* Feed in[0..n): decoded data is appended to *body (*len bytes, at most cap;
 * beyond it BODY_TOO_LARGE). *used is how many bytes were consumed. OK when
 * the body is complete (bytes after it are not consumed), MORE when it
 * needs more, BAD on any framing error. */
api_parse_result api__chunked_feed(api_chunked *c, const char *in, size_t n, size_t *used,
                                   char **body, size_t *len, size_t cap);

/* ---- the front (front.c) -------------------------------------------------- */

typedef struct api_front api_front;
typedef struct api_exchange api_exchange;
typedef struct api_stream api_stream;

typedef struct api_front_opts {
    const char *listen; /* "host:port", "[v6]:port" or ":port"; port 0 picks one */
    void (*handler)(void *ctx, api_exchange *x);
    /* true: run this request's handler on the event loop (it must not block).
     * NULL: always on the pool. */
    bool (*inline_ok)(void *ctx, const api_exchange *x);
    /* Told about every request the front answers itself (400, 413, 431, 503
     * ...), with the status and a reason; may be NULL. Runs on the loop. */
    void (*rejected)(void *ctx, int status, const char *reason);
    void *ctx;
    int max_connections;   /* total; 0: 1024 */
    int max_per_address;   /* 0: 64 */
    int header_timeout_ms; /* from accept (or the first byte after idle) to a full head; 0: 10 s */
    int body_timeout_ms;   /* from the head to the full body; 0: 30 s */
    int idle_timeout_ms;   /* keep-alive wait for the next request; 0: 15 s */
    int write_timeout_ms;  /* longest wait for a response write to progress; 0: 15 s */
    int workers;           /* handler threads; 0: 8 */
    size_t max_body;       /* request body cap; 0: 64 KiB */
} api_front_opts;

/* "host:port", "[v6]:port" or ":port" into a socket address. */
int api__resolve(const char *listen, struct sockaddr_storage *ss, socklen_t *sl, profd_error *err);
/* Bind, listen and start the loop and the pool. NULL with err on failure. */
api_front *api__front_start(const api_front_opts *o, profd_error *err);
int api__front_port(const api_front *f);
/* Stop accepting, close every connection, join the threads, free. Streams
 * still held by producers report API_STREAM_GONE; close them as usual. */
void api__front_stop(api_front *f);

/* Request, as parsed (borrowed until the handler returns). */
const char *api__x_method(const api_exchange *x);
const char *api__x_path(const api_exchange *x); /* percent-decoded, no query */
const char *api__x_header(const api_exchange *x, const char *name);
const char *api__x_query(const api_exchange *x, const char *name);
const char *api__x_body(const api_exchange *x, size_t *len); /* NUL-terminated; NULL when none */
const char *api__x_peer(const api_exchange *x);              /* client address, text */

/* Response: each api__respond* replaces an earlier one and its headers. */
void api__respond(api_exchange *x, int status, const char *type, const void *body, size_t len);
/* Serve size bytes of an open regular file (the fd is taken). */
void api__respond_fd(api_exchange *x, int status, const char *type, int fd, uint64_t size);
/* Add a header to the current response. A name or value with CR, LF or NUL
 * is dropped (and logged), never sent. */
void api__respond_header(api_exchange *x, const char *name, const char *value);
int api__x_status(const api_exchange *x); /* 0 before any respond */

/* Tests and fuzzing: an exchange over a parsed head and a body (both taken;
 * body malloc'd and NUL-terminated, or NULL), with no connection. Run a
 * handler on it, read the answer (api__x_status and this), free it. */
api_exchange *api__exchange_new(api_head *h, char *body, size_t len);
const char *api__x_response(const api_exchange *x, size_t *len);
void api__exchange_free(api_exchange *x);

typedef enum {
    API_STREAM_OK = 0,
    API_STREAM_FULL, /* API_STREAM_MAX_PENDING would be exceeded: nothing sent */
    API_STREAM_GONE, /* the client went away, or the front stopped */
} api_stream_result;
api_stream *api__respond_stream(api_exchange *x, int status, const char *type);
PROFD_MUST_USE api_stream_result api__stream_write(api_stream *s, const void *data, size_t len);
void api__stream_close(api_stream *s);

#endif
