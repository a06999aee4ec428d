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

#include "profd/session.h" /* profd_json_check and PROFD_JSON_MAX_DEPTH are public */

#endif
