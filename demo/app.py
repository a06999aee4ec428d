"""A CPU-busy sample service for `make demo`, with a call tree you can recognise
in its flame graph: handle_request -> parse_payload / compute_report ->
fibonacci / checksum, and render_page. It serves nothing; it just works, as
a busy web handler would, until it is stopped (or after 10 minutes)."""
import json
import time


def fibonacci(n):
    return n if n < 2 else fibonacci(n - 1) + fibonacci(n - 2)


def checksum(data):
    total = 0
    for i, ch in enumerate(data):
        total = (total * 31 + ord(ch) + i) % 1000003
    return total


def parse_payload(i):
    text = json.dumps({"order": i, "items": list(range(200)), "note": "x" * 300})
    return json.loads(text)


def compute_report(payload):
    fib = fibonacci(18 + payload["order"] % 4)
    return {"fib": fib, "sum": checksum(str(payload["items"]))}


def render_page(report):
    return "<p>%d %d</p>" % (report["fib"], report["sum"]) * 50


def handle_request(i):
    payload = parse_payload(i)
    report = compute_report(payload)
    return render_page(report)


def main():
    deadline = time.time() + 600
    i = 0
    while time.time() < deadline:
        handle_request(i)
        i += 1


if __name__ == "__main__":
    main()
