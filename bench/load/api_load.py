#!/usr/bin/env python3
"""bench/load/api_load.py PROFD_BIN [CLIENTS] [SLOW] [SECONDS]

The API under CLIENTS concurrent connections (default 200), SLOW of them
slowloris-style (default 20: they send a request header one byte a second and
never finish), for SECONDS (default 15). The rest loop over GET session, GET
list and POST start with keep-alive. Runs `profd serve` on a free loopback
port with the memory store. Prints latency percentiles and errors, and whether
the slow clients were cut off while the others kept being served. Normal
clients come from 100 loopback addresses, the slow ones from one."""
import http.client, json, os, socket, subprocess, sys, tempfile, threading, time

profd = sys.argv[1]
clients = int(sys.argv[2]) if len(sys.argv) > 2 else 200
slow = int(sys.argv[3]) if len(sys.argv) > 3 else 20
seconds = int(sys.argv[4]) if len(sys.argv) > 4 else 15

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

tmp = tempfile.mkdtemp(prefix="profd-apiload.")
port = free_port()
secret = "load-test-secret-0123456789abcdef"
target = subprocess.Popen(["sleep", "3600"])
json.dump({"load": {"pid": target.pid}}, open(f"{tmp}/targets.json", "w"))
env = dict(os.environ, PROFD_LISTEN=f"127.0.0.1:{port}", PROFD_JWT_SECRET=secret,
           PROFD_STORAGE=f"file://{tmp}/data", PROFD_TARGETS=f"{tmp}/targets.json",
           PROFD_SAMPLER="builtin", PROFD_RATE_LIMIT="100000", PROFD_LOG_LEVEL="warn",
           PROFD_SPOOL_DIR=f"{tmp}/spool")
env.pop("PROFD_REDIS_URL", None)
serve = subprocess.Popen([profd, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=open(f"{tmp}/serve.log", "w"))
token = subprocess.check_output([profd, "api", "token", "--secret", secret, "--sub", "load", "--role", "admin"], text=True).strip()
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close(); break
    except OSError:
        time.sleep(0.1)
H = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}

def start_one(c):
    c.request("POST", "/api/v1/monitoring/profile/start", json.dumps({"service_name": "load", "duration_seconds": 10}), H)
    r = c.getresponse(); body = r.read(); return r.status, body

c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
st, body = start_one(c)
sid = json.loads(body)["session_id"] if st == 201 else None

lat, errors, codes = [], [], {}
lock = threading.Lock()
stop = time.time() + seconds

# Clients come from many loopback addresses (127.0.1.x), as real clients come
# from many hosts; the server limits connections per client address.
def source(i):
    return (f"127.0.1.{1 + i % 100}", 0)

def client(i):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=source(i))
    n = 0
    while time.time() < stop:
        n += 1
        t0 = time.perf_counter()
        try:
            if n % 10 == 0:
                conn.request("GET", "/api/v1/monitoring/profile?limit=50", headers=H)
            elif n % 97 == 0:
                conn.request("POST", "/api/v1/monitoring/profile/start", json.dumps({"service_name": "load", "duration_seconds": 10}), H)
            else:
                conn.request("GET", f"/api/v1/monitoring/profile/{sid}", headers=H)
            r = conn.getresponse(); r.read()
            dt = time.perf_counter() - t0
            with lock:
                lat.append(dt); codes[r.status] = codes.get(r.status, 0) + 1
        except Exception as e:
            with lock:
                errors.append(type(e).__name__)
            conn.close(); conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=source(i))

slow_cut = []
def slowloris(i):
    s = socket.create_connection(("127.0.0.1", port), source_address=("127.0.2.1", 0))  # one address
    req = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000
    t0 = time.time()
    try:
        for b in req:
            s.send(bytes([b])); time.sleep(1)
            if time.time() > stop + 30:
                break
    except OSError:
        with lock:
            slow_cut.append(time.time() - t0)
    s.close()

threads = [threading.Thread(target=slowloris, args=(i,), daemon=True) for i in range(slow)]
threads += [threading.Thread(target=client, args=(i,)) for i in range(clients - slow)]
for t in threads: t.start()
for t in threads[slow:]: t.join()
time.sleep(max(0, 20 - seconds))
lat.sort()
p = lambda q: lat[min(len(lat) - 1, int(q / 100 * len(lat)))] * 1000 if lat else float("nan")
print(f"{clients} connections ({slow} slowloris) for {seconds} s against profd serve")
print(f"requests {len(lat)} ({len(lat) / seconds:.0f}/s), codes {dict(sorted(codes.items()))}, client errors {len(errors)}")
print(f"latency p50 {p(50):.2f} ms  p90 {p(90):.2f} ms  p99 {p(99):.2f} ms  max {p(100):.2f} ms")
print(f"slowloris connections cut off by the server: {len(slow_cut)}/{slow}" + (f" after {min(slow_cut):.0f}-{max(slow_cut):.0f} s" if slow_cut else ""))
alive = serve.poll() is None
print(f"server still running: {alive}")
serve.terminate(); target.kill()
try: serve.wait(10)
except subprocess.TimeoutExpired: serve.kill()
sys.exit(0 if alive and not errors and set(codes) <= {200, 201, 409} else 1)
