#!/usr/bin/env python3
"""compose_check.py RESOLVED.yml SOURCE_DIR - checks the output of
`docker-compose config` (the file with variables and anchors resolved) for
what docs/deploy.md promises of the stack. One line per problem; exit 1."""
import os
import sys

import yaml

problems = []


def need(cond, msg):
    if not cond:
        problems.append(msg)


def env(svc):
    e = svc.get("environment") or {}
    if isinstance(e, list):
        e = dict(x.split("=", 1) for x in e)
    return e


def depends(svc):
    d = svc.get("depends_on") or {}
    return d if isinstance(d, dict) else {k: {} for k in d}


def main():
    doc = yaml.safe_load(open(sys.argv[1]))
    src = sys.argv[2]
    s = doc.get("services", {})
    for name in ("kafka", "kafka-init", "redis", "gcs", "pubsub", "gcp-init", "app", "api", "worker"):
        need(name in s, "service %s is missing" % name)
    if problems:
        return report()

    need("--appendonly" in s["redis"]["command"] and "everysec" in s["redis"]["command"],
         "redis does not run with --appendonly yes --appendfsync everysec")
    need(env(s["kafka"]).get("KAFKA_PROCESS_ROLES") == "broker,controller",
         "kafka is not a single KRaft broker+controller")
    need(env(s["kafka"]).get("KAFKA_AUTO_CREATE_TOPICS_ENABLE") == "false",
         "kafka auto-creates topics (kafka-init should)")
    need("service_healthy" == depends(s["kafka-init"]).get("kafka", {}).get("condition"),
         "kafka-init does not wait for a healthy kafka")
    need("emulators pubsub start" in " ".join(s["pubsub"]["command"]), "pubsub is not the emulator")
    need(s["gcs"]["image"].startswith("fsouza/fake-gcs-server"), "gcs is not fake-gcs-server")

    for name in ("api", "worker"):
        e = env(s[name])
        d = depends(s[name])
        for init in ("kafka-init", "gcp-init"):
            need(d.get(init, {}).get("condition") == "service_completed_successfully",
                 "%s does not wait for %s to complete" % (name, init))
        need(e.get("PROFD_BUS") == "kafka" and e.get("PROFD_KAFKA_BROKERS") == "kafka:9092",
             "%s is not on the stack's Kafka" % name)
        need(e.get("PROFD_REDIS_URL", "").startswith("redis://redis:"), "%s is not on the stack's Redis" % name)
        need(e.get("PROFD_STORAGE", "").startswith("gs://") and e.get("STORAGE_EMULATOR_HOST") == "gcs:4443",
             "%s does not store in the GCS emulator" % name)
        need(s[name].get("command") == [name], "%s does not run `profd %s`" % (name, name))
    need(bool(env(s["api"]).get("PROFD_JWT_SECRET")), "the api has no PROFD_JWT_SECRET")
    need(any(str(p).startswith("127.0.0.1:8080:8080") or
             (isinstance(p, dict) and p.get("published") in (8080, "8080")) for p in s["api"].get("ports", [])),
         "the api is not published on 127.0.0.1:8080")

    w = s["worker"]
    need(w.get("pid") == "service:app", "the worker does not share the app's PID namespace")
    need(w.get("cap_add") == ["SYS_PTRACE"], "the worker's only added capability is not SYS_PTRACE")
    need(not w.get("privileged"), "the worker is privileged")
    need(str(w.get("user")) in ("0:0", "0", "root"), "the worker does not run as root in its container")
    need(w.get("read_only") is True, "the worker's root file system is writable")
    we = env(w)
    need(we.get("PROFD_TARGETS") == "/etc/profd/targets.json", "the worker has no PROFD_TARGETS")
    need(we.get("PROFD_HOST"), "the worker has no PROFD_HOST")

    # Every bind-mounted file exists in the repository.
    for name, svc in s.items():
        for v in svc.get("volumes", []) or []:
            source = v.get("source") if isinstance(v, dict) else v.split(":")[0]
            vtype = v.get("type") if isinstance(v, dict) else ("bind" if source.startswith(("/", ".")) else "volume")
            if vtype == "bind":
                need(os.path.exists(source if os.path.isabs(source) else os.path.join(src, source)),
                     "%s mounts %s, which does not exist" % (name, source))
    mounts = [v.get("target") if isinstance(v, dict) else v.split(":")[1] for v in w.get("volumes", [])]
    need("/etc/profd/targets.json" in mounts, "the worker does not mount targets.json")
    return report()


def report():
    for p in problems:
        print("compose_check: " + p)
    if problems:
        return 1
    print("compose_check: the resolved stack has every promised property")
    return 0


if __name__ == "__main__":
    sys.exit(main())
