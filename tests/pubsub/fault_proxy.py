"""fault_proxy.py - an HTTP proxy in front of the Pub/Sub emulator that fails
the first requests of a kind, to test profd's retries.

    python3 fault_proxy.py UPSTREAM_HOST:PORT SUFFIX STATUS[,STATUS...]

Requests whose path ends with SUFFIX (":publish") are answered with the
listed statuses in turn (503, 429, ... or "reset" to drop the connection),
then forwarded; everything else is forwarded at once. Prints "PORT=N" when
listening. GET /_stats answers {"faults": n, "forwarded": n}.
"""
import http.server
import json
import socket
import sys
import urllib.error
import urllib.request

upstream, suffix, plan = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
stats = {"faults": 0, "forwarded": 0}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        if self.path == "/_stats":
            return self.reply(200, json.dumps(stats).encode())
        if self.path.endswith(suffix) and plan:
            fault = plan.pop(0)
            stats["faults"] += 1
            if fault == "reset":
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                self.close_connection = True
                self.connection.close()
                return
            msg = {"error": {"code": int(fault), "message": "injected fault", "status": "UNAVAILABLE"}}
            return self.reply(int(fault), json.dumps(msg).encode())
        req = urllib.request.Request("http://" + upstream + self.path, data=body, method=self.command,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                status, data = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, data = e.code, e.read()
        stats["forwarded"] += 1
        self.reply(status, data)

    do_GET = do_POST = do_PUT = do_DELETE = handle_any


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print("PORT=%d" % srv.server_address[1], flush=True)
srv.serve_forever()
