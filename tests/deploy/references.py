#!/usr/bin/env python3
"""references.py SOURCE_DIR PROFD_BIN - the deployment files and their docs
name only things that exist:

* every PROFD_* variable (and the Google variables profd reads) named in the
  Dockerfile, docker-compose.yml, deploy/, helm/profd/ and docs/deploy.md,
  docs/operations.md is listed by `profd help env` (or `profd help api|worker|serve`);
* every metric named in docs/operations.md is registered in src/ (a string
  literal "profd_..."), histogram suffixes _bucket/_count/_sum allowed;
* every session error_code (PROFD_E_* in include/profd/util.h) has a runbook
  heading `### code` in docs/operations.md.
Metrics registered in src/ but missing from operations.md are reported as
NOTE lines (other modules add metrics; the docs should follow).
One line per problem; exit 1 if any."""
import glob
import os
import re
import subprocess
import sys

VAR = re.compile(r"\b(PROFD_[A-Z0-9_]*[A-Z0-9]|STORAGE_EMULATOR_HOST|PUBSUB_EMULATOR_HOST|"
                 r"GOOGLE_APPLICATION_CREDENTIALS|GOOGLE_CLOUD_PROJECT|GCE_METADATA_HOST)\b")
METRIC = re.compile(r"\bprofd_[a-z0-9_]+")


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def main():
    src, profd = sys.argv[1], sys.argv[2]
    problems = []
    env = subprocess.run([profd, "help", "env"], capture_output=True, text=True, check=True).stdout
    known = {line.split()[0] for line in env.splitlines() if line.startswith("  ") and line.split()}
    if len(known) < 20:
        sys.exit("references: `profd help env` listed only %d variables" % len(known))
    # Variables the commands' own help names (PROFD_LOG_LEVEL/FORMAT are read
    # by the logger, not the config table, so only `help api`/`help worker` list them).
    for cmd in ("api", "worker", "serve"):
        text = subprocess.run([profd, "help", cmd], capture_output=True, text=True).stdout
        known |= {m.group(1) for m in VAR.finditer(text)}

    files = ["Dockerfile", "docker-compose.yml", "docs/deploy.md", "docs/operations.md"]
    files += sorted(glob.glob("deploy/**/*", root_dir=src, recursive=True))
    files += sorted(glob.glob("helm/profd/**/*", root_dir=src, recursive=True))
    checked = 0
    for rel in files:
        path = os.path.join(src, rel)
        if not os.path.isfile(path):
            continue
        text = read(path)
        for m in VAR.finditer(text):
            checked += 1
            if m.group(1) not in known:
                line = text.count("\n", 0, m.start()) + 1
                problems.append("%s:%d: %s is not a variable profd knows (profd help env)"
                                % (rel, line, m.group(1)))

    registered = set()
    for path in glob.glob(os.path.join(src, "src", "**", "*.c"), recursive=True):
        text = read(path)
        for m in re.finditer(r'profd_metric_(?:counter|histogram)\(\s*"(profd_[a-z0-9_]+)"', text):
            registered.add(m.group(1))
    if not registered:
        problems.append("src/: no metric registrations found (profd_metric_counter/histogram)")
    ops = read(os.path.join(src, "docs", "operations.md"))
    named = set()
    for m in METRIC.finditer(ops):
        name = re.sub(r"_(bucket|count|sum)$", "", m.group(0))
        if name not in registered:
            line = ops.count("\n", 0, m.start()) + 1
            problems.append("docs/operations.md:%d: metric %s is not registered in src/" % (line, name))
        named.add(name)
    for name in sorted(registered - named):
        print("NOTE: metric %s (src/) is not documented in docs/operations.md" % name)

    codes = re.findall(r'#define PROFD_E_\w+\s+"([a-z_]+)"', read(os.path.join(src, "include", "profd", "util.h")))
    if len(codes) < 10:
        problems.append("include/profd/util.h: found only %d error codes" % len(codes))
    for code in codes:
        if not re.search(r"^### %s$" % re.escape(code), ops, re.M):
            problems.append("docs/operations.md: no runbook (### %s) for error_code %s" % (code, code))

    for p in problems:
        print(p)
    if problems:
        return 1
    print("references: %d variable mentions known to profd, %d metrics documented, %d error codes with runbooks"
          % (checked, len(named), len(codes)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
