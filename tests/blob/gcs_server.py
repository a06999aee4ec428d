#!/usr/bin/env python3
"""A Cloud Storage JSON API test server (Python 3 standard library only).

Speaks the subset profd uses: uploads (uploadType=media, multipart, and
resumable with real 308 semantics, the `bytes */N` status query and the
Range header), ifGenerationMatch, object metadata, alt=media downloads (with
Range), delete, and listing with prefix and pageToken. md5Hash and crc32c
are reported base64 like GCS does, and checked when the client sends them.

Also: a fake OAuth token endpoint (POST /token) that checks the JWT bearer
assertion (RS256 header and claims, and the RSA signature when started with
--public-key PEM), a fake metadata server (/computeMetadata/v1/...), and a
fake IAM signBlob. With --require-auth, storage requests need a bearer token
this server issued and that has not expired.

Control (JSON over HTTP, for tests):
  POST /_control/faults {"faults": [{"kind": K, "match": M, "count": N, ...}]}
     kinds: 503, 500, 502, 408, 429 (+"retry_after": S), 400, 401,
            reset (close before answering), reset-mid-body (read "after_bytes"
            of the body, keep whole 256 KiB units of a resumable chunk, close),
            slow (+"delay": seconds, then answer normally),
            corrupt-hash (answer with wrong md5Hash/crc32c, or x-goog-hash),
            broken-stream (download: send part of the body, then close)
     match: any | upload | chunk | status | download | metadata | delete |
            list | token
     after: N matching requests pass untouched before the fault applies
  POST /_control/config {"token_ttl": S, "page_size": N}
  GET  /_control/stats   counters, request log, resumable chunk offsets
  POST /_control/reset   forget objects, sessions, faults and counters

Prints the port on stdout when ready; binds 127.0.0.1, port 0 by default.
"""
import argparse
import base64
import hashlib
import json
import socket
import struct
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

QUANTUM = 256 * 1024
LOCK = threading.RLock()


def crc32c(data, crc=0):
    table = CRC_TABLE
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


CRC_TABLE = _table()


def b64(b):
    return base64.b64encode(b).decode()


def hashes(data):
    return b64(struct.pack(">I", crc32c(data))), b64(hashlib.md5(data).digest())


# --- RSA public key (SubjectPublicKeyInfo DER) for JWT checks -------------

def der_read(buf, i):
    tag = buf[i]
    n = buf[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(buf[i:i + k], "big")
        i += k
    return tag, buf[i:i + n], i + n


def rsa_public_key(pem):
    body = "".join(l for l in pem.splitlines() if l and not l.startswith("-----"))
    der = base64.b64decode(body)
    _, spki, _ = der_read(der, 0)
    _, _alg, i = der_read(spki, 0)
    _, bits, _ = der_read(spki, i)
    _, rsa, _ = der_read(bits[1:], 0)
    _, n, j = der_read(rsa, 0)
    _, e, _ = der_read(rsa, j)
    return int.from_bytes(n, "big"), int.from_bytes(e, "big")


SHA256_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")


def rs256_ok(key, signing_input, sig):
    n, e = key
    k = (n.bit_length() + 7) // 8
    if len(sig) != k:
        return False
    em = pow(int.from_bytes(sig, "big"), e, n).to_bytes(k, "big")
    digest = hashlib.sha256(signing_input).digest()
    t = SHA256_PREFIX + digest
    return em == b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class State:
    def __init__(self):
        self.reset()

    def reset(self):
        self.objects = {}    # (bucket, name) -> dict
        self.sessions = {}   # id -> dict
        self.faults = []
        self.tokens = {}     # token -> expiry (time.time())
        self.token_requests = 0
        self.log = []
        self.chunks = []     # (session, start, end) of every resumable data PUT received
        self.next_gen = int(time.time() * 1000000)
        self.token_ttl = 3600
        self.page_size = 1000

    def generation(self):
        self.next_gen += 1
        return self.next_gen


STATE = State()
ARGS = None


def resource(bucket, obj, corrupt=False):
    crc, md5 = obj["crc32c"], obj["md5Hash"]
    if corrupt:
        crc, md5 = b64(b"\0\0\0\0"), b64(b"\0" * 16)
    r = {"kind": "storage#object", "id": f"{bucket}/{obj['name']}/{obj['generation']}",
         "name": obj["name"], "bucket": bucket, "generation": str(obj["generation"]),
         "metageneration": "1", "contentType": obj["contentType"],
         "size": str(len(obj["data"])), "md5Hash": md5, "crc32c": crc,
         "timeCreated": obj["updated"], "updated": obj["updated"]}
    if obj.get("metadata"):
        r["metadata"] = obj["metadata"]
    return r


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "gcs-test-server/1"

    def log_message(self, fmt, *args):
        if ARGS.verbose:
            sys.stderr.write("gcs_server: " + fmt % args + "\n")

    def finish(self):
        try:
            super().finish()
        except (OSError, ValueError):
            pass

    # --- plumbing -------------------------------------------------------
    def reply(self, code, body=b"", ctype="application/json", headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if body or code not in (204, 308):
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, code, msg, headers=None):
        self.reply(code, {"error": {"code": code, "message": msg}}, headers=headers)

    def body(self, limit=None):
        n = int(self.headers.get("Content-Length") or 0)
        if limit is not None:
            n = min(n, limit)
        data = b""
        while len(data) < n:
            chunk = self.rfile.read(n - len(data))
            if not chunk:
                break
            data += chunk
        return data

    def reset_connection(self):
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass
        self.close_connection = True

    def kind_of(self, path, q):
        if path.startswith("/token"):
            return "token"
        if path.startswith("/computeMetadata"):
            return "token"
        if path.startswith("/upload/"):
            if self.command == "PUT":
                cr = self.headers.get("Content-Range", "")
                return "status" if cr.startswith("bytes */") else "chunk"
            return "upload"
        if self.command == "DELETE":
            return "delete"
        if "alt" in q and q["alt"][0] == "media" or path.startswith("/download/"):
            return "download"
        if path.rstrip("/").endswith("/o"):
            return "list"
        return "metadata"

    def take_fault(self, kind):
        with LOCK:
            for f in STATE.faults:
                m = f.get("match", "any")
                if m == kind or (m == "any" and kind != "token") or \
                        (m == "upload" and kind in ("chunk", "upload")):
                    if f.get("after", 0) > 0:  # let this many matching requests through first
                        f["after"] -= 1
                        continue
                    f["count"] = f.get("count", 1) - 1
                    if f["count"] <= 0:
                        STATE.faults.remove(f)
                    return dict(f)
        return None

    def authorized(self):
        if not ARGS.require_auth:
            return True
        h = self.headers.get("Authorization", "")
        if not h.startswith("Bearer "):
            return False
        with LOCK:
            exp = STATE.tokens.get(h[7:])
        return exp is not None and exp > time.time()

    # --- dispatch -------------------------------------------------------
    def handle_any(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query, keep_blank_values=True)
        path = u.path
        if path.startswith("/_control/"):
            return self.control(path, q)
        kind = self.kind_of(path, q)
        with LOCK:
            STATE.log.append({"method": self.command, "path": path, "kind": kind, "query": u.query,
                              "range": self.headers.get("Content-Range", ""),
                              "req_range": self.headers.get("Range", ""),
                              "auth": bool(self.headers.get("Authorization"))})
        fault = self.take_fault(kind)
        if fault:
            k = str(fault["kind"])
            if k.isdigit():
                self.body()
                hdr = {}
                if fault.get("retry_after") is not None:
                    hdr["Retry-After"] = str(fault["retry_after"])
                return self.error(int(k), f"injected {k}", hdr)
            if k == "reset":
                return self.reset_connection()
            if k == "slow":
                time.sleep(float(fault.get("delay", 1)))
            if k == "reset-mid-body":
                return self.reset_mid_body(u, q, int(fault.get("after_bytes", 0)))
        corrupt = bool(fault and fault["kind"] == "corrupt-hash")
        broken = fault and fault["kind"] == "broken-stream"
        if kind == "token":
            return self.token(path)
        if path.startswith("/v1/projects/") and path.endswith(":signBlob"):
            return self.sign_blob()
        if not self.authorized():
            self.body()
            return self.error(401, "Invalid Credentials")
        if path.startswith("/upload/storage/v1/b/"):
            return self.upload(u, q, corrupt)
        if path.startswith("/download/storage/v1/b/"):
            path = path[len("/download"):]
            q.setdefault("alt", ["media"])
        if path.startswith("/storage/v1/b/"):
            return self.objects(path, q, corrupt, broken)
        self.error(404, "no such endpoint")

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = handle_any

    # --- control --------------------------------------------------------
    def control(self, path, q):
        data = self.body()
        req = json.loads(data) if data else {}
        with LOCK:
            if path == "/_control/faults":
                STATE.faults.extend(req.get("faults", []))
                return self.reply(200, {"pending": len(STATE.faults)})
            if path == "/_control/config":
                STATE.token_ttl = req.get("token_ttl", STATE.token_ttl)
                STATE.page_size = req.get("page_size", STATE.page_size)
                return self.reply(200, {})
            if path == "/_control/reset":
                STATE.reset()
                return self.reply(200, {})
            if path == "/_control/stats":
                return self.reply(200, {
                    "token_requests": STATE.token_requests, "requests": STATE.log,
                    "chunks": STATE.chunks, "pending_faults": len(STATE.faults),
                    "objects": sorted(n for (_, n) in STATE.objects)})
        self.error(404, "no such control")

    # --- auth -----------------------------------------------------------
    def issue(self):
        tok = "tok-" + uuid.uuid4().hex
        with LOCK:
            STATE.token_requests += 1
            STATE.tokens[tok] = time.time() + STATE.token_ttl
            ttl = STATE.token_ttl
        return {"access_token": tok, "expires_in": ttl, "token_type": "Bearer"}

    def token(self, path):
        data = self.body()
        if path.startswith("/computeMetadata/"):
            if self.headers.get("Metadata-Flavor") != "Google":
                return self.error(403, "missing Metadata-Flavor header")
            if path.endswith("/service-accounts/default/email"):
                return self.reply(200, ARGS.email, "application/text")
            if path.endswith("/service-accounts/default/token"):
                return self.reply(200, self.issue())
            return self.error(404, "no such metadata")
        form = urllib.parse.parse_qs(data.decode())
        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
            return self.error(400, "unsupported grant_type")
        why = self.check_jwt(form.get("assertion", [""])[0])
        if why:
            return self.reply(400, {"error": "invalid_grant", "error_description": why})
        self.reply(200, self.issue())

    def check_jwt(self, jwt):
        parts = jwt.split(".")
        if len(parts) != 3:
            return "assertion is not a JWS compact serialization"
        try:
            hdr = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            sig = b64url_decode(parts[2])
        except ValueError:
            return "assertion is not base64url JSON"
        if hdr.get("alg") != "RS256":
            return "alg must be RS256"
        now = time.time()
        for c in ("iss", "scope", "aud", "iat", "exp"):
            if c not in claims:
                return f"claim {c} missing"
        if not (claims["iat"] - 300 <= now <= claims["exp"]) or claims["exp"] - claims["iat"] > 3600:
            return "iat/exp out of range"
        if not claims["aud"].endswith("/token"):
            return "aud must be the token URI"
        if len(sig) < 128:
            return "signature too short for RS256"
        if ARGS.public_key_rsa and not rs256_ok(ARGS.public_key_rsa,
                                                (parts[0] + "." + parts[1]).encode(), sig):
            return "bad RS256 signature"
        return None

    def sign_blob(self):
        data = json.loads(self.body() or b"{}")
        if not self.authorized():
            return self.error(401, "Invalid Credentials")
        payload = base64.b64decode(data.get("payload", ""))
        fake = (hashlib.sha256(payload).digest()) * 8
        self.reply(200, {"keyId": "fake", "signedBlob": b64(fake)})

    # --- uploads ----------------------------------------------------------
    def store(self, bucket, name, data, meta, if_gen, corrupt):
        ctype = meta.get("contentType") or "application/octet-stream"
        crc, md5 = hashes(data)
        if meta.get("crc32c") and meta["crc32c"] != crc:
            return self.error(400, "Provided CRC32C does not match the data")
        if meta.get("md5Hash") and meta["md5Hash"] != md5:
            return self.error(400, "Provided MD5 hash does not match the data")
        with LOCK:
            cur = STATE.objects.get((bucket, name))
            if if_gen is not None:
                want = int(if_gen)
                if (want == 0 and cur) or (want != 0 and (not cur or cur["generation"] != want)):
                    return self.error(412, "At least one of the pre-conditions you specified did not hold.")
            obj = {"name": name, "data": bytes(data), "generation": STATE.generation(),
                   "contentType": ctype, "metadata": meta.get("metadata") or {},
                   "crc32c": crc, "md5Hash": md5,
                   "updated": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())}
            STATE.objects[(bucket, name)] = obj
        self.reply(200, resource(bucket, obj, corrupt))

    def upload(self, u, q, corrupt):
        bucket = u.path.split("/")[5]
        utype = q.get("uploadType", [""])[0]
        if_gen = q.get("ifGenerationMatch", [None])[0]
        if self.command == "PUT" and utype == "resumable":
            return self.chunk(q, corrupt)
        data = self.body()
        if utype == "media":
            meta = {"contentType": self.headers.get("Content-Type")}
            return self.store(bucket, q.get("name", [""])[0], data, meta, if_gen, corrupt)
        if utype == "multipart":
            ctype = self.headers.get("Content-Type", "")
            if "boundary=" not in ctype or not ctype.startswith("multipart/related"):
                return self.error(400, "multipart upload needs multipart/related with a boundary")
            boundary = ctype.split("boundary=", 1)[1].strip('"').encode()
            parts = data.split(b"--" + boundary)
            if len(parts) < 4 or not parts[-1].startswith(b"--"):
                return self.error(400, "malformed multipart body")
            heads = []
            for p in parts[1:3]:
                head, _, payload = p.partition(b"\r\n\r\n")
                if not payload.endswith(b"\r\n"):
                    return self.error(400, "malformed multipart part")
                heads.append(payload[:-2])
            meta = json.loads(heads[0])
            return self.store(bucket, meta.get("name") or q.get("name", [""])[0], heads[1], meta,
                              if_gen, corrupt)
        if utype == "resumable":
            meta = json.loads(data or b"{}")
            name = meta.get("name") or q.get("name", [""])[0]
            sid = uuid.uuid4().hex
            total = self.headers.get("X-Upload-Content-Length")
            with LOCK:
                STATE.sessions[sid] = {"bucket": bucket, "name": name, "meta": meta,
                                       "if_gen": if_gen, "data": bytearray(), "done": None,
                                       "total": int(total) if total else None}
            host = self.headers.get("Host", f"127.0.0.1:{self.server.server_address[1]}")
            loc = f"http://{host}/upload/storage/v1/b/{bucket}/o?uploadType=resumable&upload_id={sid}"
            return self.reply(200, b"", headers={"Location": loc})
        self.error(400, f"unknown uploadType {utype!r}")

    def session_range(self, s):
        n = len(s["data"])
        return {"Range": f"bytes=0-{n - 1}"} if n else {}

    def chunk(self, q, corrupt, limit=None):
        sid = q.get("upload_id", [""])[0]
        with LOCK:
            s = STATE.sessions.get(sid)
        if not s:
            self.body()
            return self.error(404, "No such upload session")
        cr = self.headers.get("Content-Range", "")
        if not cr.startswith("bytes "):
            self.body()
            return self.error(400, "missing Content-Range")
        spec, _, total = cr[6:].partition("/")
        if s["done"] is not None:
            self.body()
            return self.reply(200, resource(s["bucket"], s["done"], corrupt))
        if spec == "*":
            self.body()
            if total != "*":
                s["total"] = int(total)
                if s["total"] == len(s["data"]):
                    return self.finalize(s, corrupt)
            return self.reply(308, b"", headers=self.session_range(s))
        start, _, end = spec.partition("-")
        start, end = int(start), int(end)
        data = self.body(limit)
        with LOCK:
            STATE.chunks.append([sid, start, end])
        if limit is not None:
            # Reset mid-body: keep whole 256 KiB units that arrived, then drop.
            keep = (start + len(data)) // QUANTUM * QUANTUM
            if start <= len(s["data"]) < keep:
                s["data"] = s["data"][:start] + data[:keep - start]
            return self.reset_connection()
        if start > len(s["data"]):
            return self.error(400, f"chunk starts at {start}, but only {len(s['data'])} bytes are stored")
        if len(data) != end - start + 1:
            return self.error(400, "chunk length does not match Content-Range")
        last = total != "*"
        if not last and len(data) % QUANTUM:
            return self.error(400, "non-final chunk is not a multiple of 256 KiB")
        s["data"] = s["data"][:start] + data
        if last:
            s["total"] = int(total)
        if s["total"] is not None and len(s["data"]) == s["total"] and last:
            return self.finalize(s, corrupt)
        self.reply(308, b"", headers=self.session_range(s))

    def finalize(self, s, corrupt):
        self.store(s["bucket"], s["name"], bytes(s["data"]), s["meta"], s["if_gen"], corrupt)
        with LOCK:
            obj = STATE.objects.get((s["bucket"], s["name"]))
            if obj and obj["data"] == bytes(s["data"]):
                s["done"] = obj

    def reset_mid_body(self, u, q, after):
        n = int(self.headers.get("Content-Length") or 0)
        after = after or n // 2
        if u.path.startswith("/upload/") and self.command == "PUT":
            return self.chunk(q, False, limit=after)
        self.body(after)
        self.reset_connection()

    # --- objects ----------------------------------------------------------
    def objects(self, path, q, corrupt, broken):
        parts = path.split("/")
        bucket = parts[4]
        if len(parts) <= 6 or parts[6] == "":
            return self.list(bucket, q)
        name = urllib.parse.unquote("/".join(parts[6:]))
        with LOCK:
            obj = STATE.objects.get((bucket, name))
        if self.command == "DELETE":
            if not obj:
                return self.error(404, "No such object")
            g = q.get("ifGenerationMatch", [None])[0]
            if g is not None and int(g) != obj["generation"]:
                return self.error(412, "At least one of the pre-conditions you specified did not hold.")
            with LOCK:
                STATE.objects.pop((bucket, name), None)
            return self.reply(204)
        if not obj:
            return self.error(404, f"No such object: {bucket}/{name}")
        if q.get("alt", [""])[0] != "media":
            return self.reply(200, resource(bucket, obj, corrupt))
        data = obj["data"]
        code, start = 200, 0
        rng = self.headers.get("Range", "")
        headers = {"x-goog-generation": str(obj["generation"]),
                   "x-goog-hash": f"crc32c={obj['crc32c']},md5={obj['md5Hash']}"}
        if corrupt:
            headers["x-goog-hash"] = "crc32c=AAAAAA==,md5=AAAAAAAAAAAAAAAAAAAAAA=="
        if rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
            code = 206
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        body = data[start:]
        if broken:
            self.send_response(code)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Type", obj["contentType"])
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:max(1, len(body) // 2)])
            self.wfile.flush()
            return self.reset_connection()
        self.reply(code, body, obj["contentType"], headers)

    def list(self, bucket, q):
        prefix = q.get("prefix", [""])[0]
        token = q.get("pageToken", [""])[0]
        size = int(q.get("maxResults", [STATE.page_size])[0])
        with LOCK:
            names = sorted(n for (b, n) in STATE.objects if b == bucket and n.startswith(prefix))
            names = [n for n in names if n > token]
            page = names[:size]
            items = [resource(bucket, STATE.objects[(bucket, n)]) for n in page]
        out = {"kind": "storage#objects", "items": items}
        if len(names) > size:
            out["nextPageToken"] = page[-1]
        self.reply(200, out)


def main():
    global ARGS
    p = argparse.ArgumentParser(description="Cloud Storage JSON API test server")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--require-auth", action="store_true")
    p.add_argument("--public-key", help="PEM public key that must verify JWT assertions")
    p.add_argument("--email", default="profd-test@example-project.iam.gserviceaccount.com")
    p.add_argument("--verbose", action="store_true")
    ARGS = p.parse_args()
    ARGS.public_key_rsa = rsa_public_key(open(ARGS.public_key).read()) if ARGS.public_key else None
    srv = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    srv.daemon_threads = True
    srv.handle_error = lambda request, addr: None
    print(srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
