#!/usr/bin/env python3
"""Run every signingV4Tests case of Google's conformance file through
`profd storage sign` and compare the printed URL character for character.

usage: v4_vectors.py PROFD VECTORS.json KEY.json
Exit 0 when all pass; prints the first differing position of each failure.
"""
import json
import subprocess
import sys
import urllib.parse

STYLES = {"PATH_STYLE": "path", "VIRTUAL_HOSTED_STYLE": "virtual-hosted",
          "BUCKET_BOUND_HOSTNAME": "bucket-bound"}


def argv_for(profd, case, key):
    a = [profd, "storage", "sign", "--key", key, "--method", case["method"],
         "--bucket", case["bucket"], "--expires", str(case["expiration"]),
         "--timestamp", case["timestamp"]]
    if case.get("object") is not None:
        a += ["--object", case["object"]]
    for k, v in case.get("headers", {}).items():
        a += ["--header", f"{k}:{v}"]
    for k, v in case.get("queryParameters", {}).items():
        a += ["--query", urllib.parse.quote(k, safe="") + "=" + urllib.parse.quote(v, safe="")]
    if case.get("scheme"):
        a += ["--scheme", case["scheme"]]
    if case.get("urlStyle"):
        a += ["--url-style", STYLES[case["urlStyle"]]]
    for field, flag in (("bucketBoundHostname", "--bucket-bound-hostname"),
                        ("hostname", "--hostname"), ("clientEndpoint", "--endpoint"),
                        ("emulatorHostname", "--emulator-host"),
                        ("universeDomain", "--universe-domain")):
        if case.get(field):
            a += [flag, case[field]]
    return a


def main():
    profd, vectors, key = sys.argv[1:4]
    cases = json.load(open(vectors))["signingV4Tests"]
    failed = 0
    for case in cases:
        p = subprocess.run(argv_for(profd, case, key), capture_output=True, text=True,
                           env={"PATH": "/usr/bin:/bin"})
        got = p.stdout.strip()
        want = case["expectedUrl"]
        if p.returncode != 0 or got != want:
            failed += 1
            i = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b),
                     min(len(got), len(want)))
            print(f"FAIL {case['description']}: rc={p.returncode} {p.stderr.strip()}\n"
                  f"  differs at {i}: got ...{got[max(0, i - 20):i + 40]}\n"
                  f"                 want ...{want[max(0, i - 20):i + 40]}")
        else:
            print(f"ok   {case['description']}")
    print(f"{len(cases) - failed}/{len(cases)} V4 signing vectors reproduced")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
