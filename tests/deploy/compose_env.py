#!/usr/bin/env python3
"""compose_env.py RESOLVED.yml SERVICE SOURCE_DIR [FROM=TO]... - prints the
environment docker-compose gives SERVICE (from `docker-compose config`), as
NUL-terminated KEY=VALUE items, with each FROM (a compose host:port, e.g.
kafka:9092) replaced by TO (a local stand-in), and each path that the service
bind-mounts replaced by the file it mounts, so the same settings can run
outside Docker (tests/deploy/compose_stack.sh)."""
import os
import sys

import yaml


def main():
    resolved, service, src = sys.argv[1:4]
    swaps = [a.split("=", 1) for a in sys.argv[4:]]
    svc = yaml.safe_load(open(resolved))["services"][service]
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) for e in env)
    mounts = {}
    for v in svc.get("volumes") or []:
        if isinstance(v, dict):  # long syntax (compose v2)
            if v.get("type") != "bind":
                continue
            source, target = v["source"], v["target"]
        else:  # short syntax, SOURCE:TARGET[:MODE] (docker-compose 1.x)
            parts = v.split(":")
            if len(parts) < 2 or not parts[0].startswith((".", "/")):
                continue
            source, target = parts[0], parts[1]
        mounts[target] = source if os.path.isabs(source) else os.path.join(src, source)
    out = []
    for key, value in env.items():
        value = "" if value is None else str(value)
        for old, new in swaps:
            value = value.replace(old, new)
        value = mounts.get(value, value)
        out.append("%s=%s" % (key, value))
    sys.stdout.write("".join(item + "\0" for item in out))


if __name__ == "__main__":
    main()
