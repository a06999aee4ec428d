/* json_check.h - a strict RFC 8259 syntax check that runs before json-c.
 *
 * json-c, even in strict mode, accepts NaN, Infinity, single-quoted strings,
 * "1." and raw control characters, and turns lone surrogates into U+FFFD. A
 * request is rejected unless it is plain RFC 8259 JSON in valid UTF-8, one
 * value with nothing after it, nested at most PROFD_JSON_MAX_DEPTH deep, with
 * no U+0000 and no lone surrogate in any string. These are the "transport"
 * rules that JSON Schema cannot state; tests/node/validate.mjs checks the same
 * ones before it runs the schema. */
#ifndef PROFD_SESSION_JSON_CHECK_H
#define PROFD_SESSION_JSON_CHECK_H

#include <stddef.h>

#define PROFD_JSON_MAX_DEPTH 64

/* 0 when buf[0..len) is acceptable; otherwise -1, *why is a static phrase
 * ("invalid UTF-8", "nesting deeper than 64", ...) and *at its byte offset. */
int session__json_check(const char *buf, size_t len, const char **why, size_t *at);

#endif
