#!/usr/bin/env python3
"""http_corpus.py - the request-smuggling corpus: framing cases an HTTP/1.1
server must answer with 400 and then close the connection (RFC 9112 §2.2,
§5, §6.1, §6.3, §7.1).

    http_corpus.py HOST PORT TOKEN [--list] [--only NAME]

Each case is one complete byte string sent on a fresh connection. Its outer
request is a POST /start with a valid token and a valid JSON body, and most
cases carry a second, smuggled POST /start after the first: a server that
frames either one wrongly creates a session, which the calling test
(request_smuggling.sh) finds by reading the store afterwards.

A case passes when everything the server sends before it closes is exactly
one response, with status 400, and the server closes within 5 s. A reset
after the 400 counts as closed; a reset before any answer does not.
Prints one line per case and "passed N/M"; exits 0 only when all pass.
Standard library only.
"""
import socket
import sys
import time

START = "/api/v1/monitoring/profile/start"


def body(tag):
    return ('{"service_name":"smuggle-%s","duration_seconds":10}' % tag).encode()


def head(token, lines, target=START, method="POST", version="HTTP/1.1", host=True):
    h = "%s %s %s\r\n" % (method, target, version)
    if host:
        h += "Host: 127.0.0.1\r\n"
    h += "Authorization: Bearer %s\r\nContent-Type: application/json\r\n" % token
    return h.encode() + b"".join(lines)


def chunked(b, size=None, ext=b"", after=b"\r\n", last=b"0\r\n\r\n"):
    size = size if size is not None else ("%x" % len(b)).encode()
    return size + ext + b"\r\n" + b + after + last


def smuggled(token):
    b = body("inner")
    return head(token, [b"Content-Length: %d\r\n" % len(b), b"\r\n"]) + b


def cases(token):
    """(name, bytes) for every case."""
    b = body("outer")
    n = len(b)
    cl = b"Content-Length: %d\r\n" % n
    te = b"Transfer-Encoding: chunked\r\n"
    inner = smuggled(token)
    ch = chunked(b)
    out = []

    def add(name, lines, payload=b"", **kw):
        out.append((name, head(token, lines, **kw) + b"\r\n" + payload + inner))

    def raw(name, data):
        out.append((name, data + inner))

    # The four from the issue.
    add("cl200_plus_te_chunked", [b"Content-Length: 200\r\n", te], ch)
    add("two_different_content_lengths", [cl, b"Content-Length: 5\r\n"], b)
    add("te_space_before_colon", [b"Transfer-Encoding : chunked\r\n", cl], ch)
    add("te_xchunked", [b"Transfer-Encoding: xchunked\r\n", cl], ch)
    # CL and TE in both orders.
    add("cl_then_te", [cl, te], ch)
    add("te_then_cl", [te, cl], ch)
    add("te_then_cl_zero", [te, b"Content-Length: 0\r\n"], ch)
    # Transfer-Encoding variants.
    add("te_tab_before_colon", [b"Transfer-Encoding\t: chunked\r\n", cl], ch)
    add("te_chunked_not_last", [b"Transfer-Encoding: chunked, gzip\r\n"], ch)
    add("te_unknown_coding", [b"Transfer-Encoding: gzip\r\n", cl], b)
    add("te_twice", [te, te], ch)
    add("te_chunked_twice_in_list", [b"Transfer-Encoding: chunked, chunked\r\n"], ch)
    add("te_vertical_tab", [b"Transfer-Encoding: chunked\x0b\r\n", cl], ch)
    add("te_in_http10", [te, cl], ch, version="HTTP/1.0")
    add("te_obs_fold", [b"Transfer-Encoding:\r\n chunked\r\n", cl], ch)
    # Content-Length variants.
    add("same_content_length_twice", [cl, cl], b)
    add("content_length_list", [b"Content-Length: %d, %d\r\n" % (n, n)], b)
    add("content_length_case_variant_twice", [cl, b"content-length: %d\r\n" % n], b)
    add("content_length_negative", [b"Content-Length: -1\r\n"], b)
    add("content_length_plus_sign", [b"Content-Length: +%d\r\n" % n], b)
    add("content_length_hex", [b"Content-Length: 0x%x\r\n" % n], b)
    add("content_length_overflow", [b"Content-Length: 184467440737095516160\r\n"], b)
    add("content_length_inner_space", [b"Content-Length: %d %d\r\n" % (n // 10, n % 10)], b)
    add("content_length_empty", [b"Content-Length: \r\n"], b)
    add("content_length_space_before_colon", [b"Content-Length : %d\r\n" % n], b)
    # Header field syntax.
    add("obs_fold", [b"X-Note: a\r\n b\r\n", cl], b)
    add("obs_fold_tab", [b"X-Note: a\r\n\tb\r\n", cl], b)
    add("space_before_first_header", [b" X-Note: a\r\n", cl], b)
    add("header_without_colon", [b"X-Note a\r\n", cl], b)
    add("empty_header_name", [b": a\r\n", cl], b)
    add("header_name_with_space", [b"X Note: a\r\n", cl], b)
    add("header_name_with_separator", [b"X(Note): a\r\n", cl], b)
    add("nul_in_header_value", [b"X-Note: a\x00b\r\n", cl], b)
    add("nul_in_header_name", [b"X-No\x00te: a\r\n", cl], b)
    add("ctl_in_header_value", [b"X-Note: a\x01b\r\n", cl], b)
    add("del_in_header_value", [b"X-Note: a\x7fb\r\n", cl], b)
    add("bare_cr_in_header", [b"X-Note: a\rb\r\n", cl], b)
    add("bare_lf_header_line", [b"X-Note: a\n", cl], b)
    add("bare_lf_end_of_head", [cl.rstrip(b"\r\n") + b"\n\n"], b)
    # Request line.
    raw("bare_lf_request_line",
        b"POST %s HTTP/1.1\nHost: 127.0.0.1\r\n%s\r\n%s" % (START.encode(), cl, b))
    raw("request_line_double_space",
        b"POST  %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n%s" % (START.encode(), cl, b))
    raw("request_line_tab",
        b"POST\t%s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n%s" % (START.encode(), cl, b))
    raw("request_line_lowercase_version",
        b"POST %s http/1.1\r\nHost: 127.0.0.1\r\n%s\r\n%s" % (START.encode(), cl, b))
    raw("request_line_no_version", b"POST %s\r\nHost: 127.0.0.1\r\n%s\r\n%s" % (START.encode(), cl, b))
    raw("nul_in_request_target",
        b"POST %s\x00x HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n%s" % (START.encode(), cl, b))
    # Host.
    add("http11_without_host", [cl], b, host=False)
    add("two_host_headers", [b"Host: 127.0.0.2\r\n", cl], b)
    add("host_space_before_colon", [b"Host : 127.0.0.1\r\n", cl], b, host=False)
    add("host_value_with_space", [b"Host: a b\r\n", cl], b, host=False)
    # Chunked bodies.
    add("chunk_size_overflow", [te], chunked(b, size=b"1" + b"0" * 16))
    add("chunk_size_overflow_ffff", [te], chunked(b, size=b"f" * 17))
    add("chunk_size_negative", [te], chunked(b, size=b"-1"))
    add("chunk_size_0x_prefix", [te], chunked(b, size=b"0x%x" % n))
    add("chunk_size_trailing_space", [te], chunked(b, ext=b" "))
    add("chunk_size_empty", [te], chunked(b, size=b""))
    add("chunk_ext_empty_name", [te], chunked(b, ext=b";"))
    add("chunk_ext_bad_value", [te], chunked(b, ext=b";a=b c"))
    add("chunk_ext_unterminated_quote", [te], chunked(b, ext=b';a="b'))
    add("chunk_ext_ctl", [te], chunked(b, ext=b";a=\x01"))
    add("chunk_ext_bare_lf", [te], b"%x;a=b\n" % n + b + b"\r\n0\r\n\r\n")
    add("chunk_data_not_followed_by_crlf", [te], chunked(b, after=b"XX"))
    add("chunk_data_bare_lf", [te], chunked(b, after=b"\n"))
    add("chunk_size_bare_lf", [te], b"%x\n" % n + b + b"\r\n0\r\n\r\n")
    add("last_chunk_bare_lf", [te], chunked(b, last=b"0\n\n"))
    add("trailer_without_colon", [te], chunked(b, last=b"0\r\nX y\r\n\r\n"))
    add("trailer_obs_fold", [te], chunked(b, last=b"0\r\nX-T: a\r\n b\r\n\r\n"))
    add("trailer_nul", [te], chunked(b, last=b"0\r\nX-T: a\x00\r\n\r\n"))
    return out


def exchange(host, port, data, timeout=5.0):
    """Send data; return (bytes received, how it ended: eof|reset|timeout)."""
    s = socket.create_connection((host, port), timeout=timeout)
    got = b""
    end = "timeout"
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                end = "reset"
                break
            if not chunk:
                end = "eof"
                break
            got += chunk
    finally:
        s.close()
    return got, end


def verdict(got, end):
    """'' when the case passed, else why not."""
    if end == "timeout":
        return "connection left open after %r" % got.split(b"\r\n", 1)[0][:40]
    if not got:
        return "closed (%s) without an answer" % end
    first = got.split(b"\r\n", 1)[0]
    if not first.startswith(b"HTTP/1.1 400 ") and first != b"HTTP/1.1 400":
        return "answered %r" % first[:60]
    head, sep, rest = got.partition(b"\r\n\r\n")
    length = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if not sep or length is None or len(rest) < length:
        return "a truncated or unframed 400"
    if rest[length:]:
        return "answered more than once (%r...)" % rest[length:][:40]
    return ""


def main(argv):
    if len(argv) < 4:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    host, port, token = argv[1], int(argv[2]), argv[3]
    all_cases = cases(token)
    if "--list" in argv:
        for name, _ in all_cases:
            print(name)
        return 0
    only = argv[argv.index("--only") + 1] if "--only" in argv else None
    passed = total = 0
    for name, data in all_cases:
        if only and name != only:
            continue
        total += 1
        why = verdict(*exchange(host, port, data))
        passed += not why
        print("%-36s %s" % (name, "ok" if not why else "FAIL: " + why))
    print("passed %d/%d" % (passed, total))
    return 0 if passed == total else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
