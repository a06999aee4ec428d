#!/usr/bin/env python3
"""chart_check.py - checks a Helm chart without helm: python3 + PyYAML only.

    chart_check.py CHART_DIR

What it checks, each failure one line `FILE:LINE: reason`, exit 1 if any:

1. values.yaml parses, and every key in it is documented: a comment line
   directly above it (blank lines end a comment) or a trailing `# comment`.
2. Every template (templates/*.yaml) is balanced: `{{`/`}}` pairs, and
   block actions (if/with/range/define/block) match their `end`s.
3. Every template, with its template actions taken out, parses as YAML and
   each document is a Kubernetes object (apiVersion, kind, metadata.name).
   Lines that hold only actions are dropped; actions inside a line become the
   placeholder X. Both branches of an if stay, so they must both be valid.
4. Every `.Values.a.b` path used by a template, _helpers.tpl or NOTES.txt
   exists in values.yaml (a typo in a path renders as empty, silently).

Helm's own `helm lint` does (most of) this when it is installed; this runs
everywhere. tests/deploy/chart.sh runs it on the chart and on broken copies.
"""
import os
import re
import sys

import yaml

ACTION = re.compile(r"\{\{-?(.*?)-?\}\}", re.S)
COMMENT = re.compile(r"\{\{-?\s*/\*.*?\*/\s*-?\}\}", re.S)
VALUES_PATH = re.compile(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
KEY_LINE = re.compile(r"^(\s*)(?:- )?([A-Za-z0-9_.\-/\"']+):(\s|$)")
OPENERS = ("if", "with", "range", "define", "block")

problems = []


def problem(path, line, msg):
    problems.append("%s:%d: %s" % (path, line, msg))


def line_of(text, offset):
    return text.count("\n", 0, offset) + 1


def check_values_documented(path, text):
    lines = text.split("\n")
    for i, line in enumerate(lines):
        m = KEY_LINE.match(line)
        if not m or line.lstrip().startswith("#"):
            continue
        if re.search(r"\s#\s", line):  # trailing comment
            continue
        prev = lines[i - 1].strip() if i > 0 else ""
        if not prev.startswith("#"):
            problem(path, i + 1, "value '%s' has no comment documenting it" % m.group(2))


def check_balance(path, text):
    if text.count("{{") != text.count("}}"):
        problem(path, 1, "unbalanced {{ and }} (%d vs %d)" % (text.count("{{"), text.count("}}")))
        return
    stack = []
    for m in ACTION.finditer(COMMENT.sub("", text)):
        words = m.group(1).strip().split()
        if not words:
            continue
        if words[0] in OPENERS:
            stack.append((words[0], line_of(text, m.start())))
        elif words[0] == "end":
            if not stack:
                problem(path, line_of(text, m.start()), "{{ end }} without an opening action")
            else:
                stack.pop()
    for kind, line in stack:
        problem(path, line, "{{ %s }} is never closed by {{ end }}" % kind)


def strip_template(text):
    """The YAML skeleton of a template: actions removed or replaced by X."""
    text = COMMENT.sub("", text)
    out = []
    for line in text.split("\n"):
        if line.strip() and ACTION.sub("", line).strip() == "":
            out.append("")  # a line of actions only: keep numbering
        else:
            out.append(ACTION.sub("X", line))
    return "\n".join(out)


def check_manifest(path, text):
    skeleton = strip_template(text)
    try:
        docs = list(yaml.safe_load_all(skeleton))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problem(path, mark.line + 1 if mark else 1,
                "not YAML once template actions are removed: %s" % getattr(e, "problem", e))
        return
    objects = [d for d in docs if d is not None]
    if not objects:
        problem(path, 1, "no Kubernetes object in this template")
    for d in objects:
        if not isinstance(d, dict):
            problem(path, 1, "a document is not a mapping")
            continue
        for field in ("apiVersion", "kind"):
            if not d.get(field):
                problem(path, 1, "a document has no %s" % field)
        if not isinstance(d.get("metadata"), dict) or not d["metadata"].get("name"):
            problem(path, 1, "%s has no metadata.name" % d.get("kind", "a document"))


def check_values_paths(path, text, values):
    for m in VALUES_PATH.finditer(text):
        node, walked = values, []
        for part in m.group(1).strip(".").split("."):
            walked.append(part)
            if not isinstance(node, dict) or part not in node:
                problem(path, line_of(text, m.start()),
                        ".Values.%s is not defined in values.yaml" % ".".join(walked))
                break
            node = node[part]


def main():
    if len(sys.argv) != 2:
        print("usage: chart_check.py CHART_DIR", file=sys.stderr)
        return 2
    chart = sys.argv[1]
    values_path = os.path.join(chart, "values.yaml")
    with open(values_path) as f:
        values_text = f.read()
    try:
        values = yaml.safe_load(values_text) or {}
    except yaml.YAMLError as e:
        problem(values_path, 1, "values.yaml does not parse: %s" % e)
        values = {}
    check_values_documented(values_path, values_text)
    with open(os.path.join(chart, "Chart.yaml")) as f:
        meta = yaml.safe_load(f)
    for field in ("apiVersion", "name", "version", "appVersion"):
        if not meta.get(field):
            problem(os.path.join(chart, "Chart.yaml"), 1, "Chart.yaml has no %s" % field)

    tdir = os.path.join(chart, "templates")
    count = 0
    for name in sorted(os.listdir(tdir)):
        path = os.path.join(tdir, name)
        with open(path) as f:
            text = f.read()
        check_balance(path, text)
        check_values_paths(path, text, values)
        if name.endswith(".yaml"):
            check_manifest(path, text)
            count += 1
    for p in problems:
        print(p)
    if problems:
        print("chart_check: %d problem(s)" % len(problems))
        return 1
    print("chart_check: %s: %d templates, values documented, every .Values path defined"
          % (chart, count))
    return 0


if __name__ == "__main__":
    sys.exit(main())
