"""web-api: the sample service of the docker-compose stack.

A CPU-busy loop with a call tree you can recognise in its flame graph:
handle_request -> parse_payload / compute_report -> fibonacci / checksum,
then render_page. It serves nothing and runs until it is stopped. The profd
worker shares this container's PID namespace (pid: "service:app") and finds
the process by its command line (deploy/targets.json)."""
import json
import signal
import sys
import time


def fibonacci(n):
    return n if n < 2 else fibonacci(n - 1) + fibonacci(n - 2)


def checksum(text):
    total = 0
    for i, ch in enumerate(text):
        total = (total * 31 + ord(ch) + i) % 1000003
    return total


def parse_payload(i):
    return json.loads(json.dumps({"order": i, "items": list(range(200))}))


def compute_report(payload):
    return {"fib": fibonacci(18 + payload["order"] % 4),
            "sum": checksum(str(payload["items"]))}


def render_page(report):
    return "<p>%d %d</p>" % (report["fib"], report["sum"]) * 50


def handle_request(i):
    return render_page(compute_report(parse_payload(i)))


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("web-api: working", flush=True)
    i = 0
    while True:
        handle_request(i)
        i += 1
        if i % 50 == 0:
            time.sleep(0.01)  # leave a little idle time, like a real service


if __name__ == "__main__":
    main()
