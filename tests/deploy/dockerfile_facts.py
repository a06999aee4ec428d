#!/usr/bin/env python3
"""dockerfile_facts.py - reads a Dockerfile and prints facts about it, one per
line, for tests/deploy/dockerfile.sh to check against the machine:

    stage NAME IMAGE                      every FROM, ARGs substituted
    apt STAGE PACKAGE                     every package an apt-get install names
    arg NAME VALUE                        every ARG default
    env NAME VALUE                        every ENV of the last stage
    user USER                             the last stage's USER
    healthcheck WORD...                   the HEALTHCHECK's exec-form command
    entrypoint WORD... / cmd WORD...      of the last stage
    copyfrom STAGE SRC DST                COPY --from lines

Only the syntax this repository's Dockerfile uses is understood (exec-form
JSON arrays, backslash continuations, `KEY=VALUE` ENV pairs); anything it
cannot read is an error, so the test fails rather than checking nothing.
"""
import json
import re
import shlex
import sys


def logical_lines(text):
    buf = ""
    for raw in text.split("\n"):
        line = raw.rstrip()
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.lstrip().startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        yield (buf + line).strip()
        buf = ""
    if buf:
        yield buf.strip()


def subst(s, args):
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m.group(1) or m.group(2), m.group(0)), s)


def main():
    text = open(sys.argv[1]).read()
    args, stage = {}, None
    out = []
    for line in logical_lines(text):
        instr, _, rest = line.partition(" ")
        instr = instr.upper()
        rest = rest.strip()
        if instr == "ARG":
            name, _, value = rest.partition("=")
            args[name] = value
            out.append("arg %s %s" % (name, value))
        elif instr == "FROM":
            words = subst(rest, args).split()
            image = words[0]
            stage = words[2] if len(words) >= 3 and words[1].upper() == "AS" else image
            out.append("stage %s %s" % (stage, image))
        elif instr == "RUN":
            for m in re.finditer(r"apt-get install ([^&;|]*)", rest):
                for w in shlex.split(m.group(1)):
                    if not w.startswith("-"):
                        out.append("apt %s %s" % (stage, w))
        elif instr == "ENV":
            for pair in shlex.split(rest):
                name, _, value = pair.partition("=")
                out.append("env %s %s" % (name, value))
        elif instr == "USER":
            out.append("user %s" % rest)
        elif instr in ("ENTRYPOINT", "CMD"):
            out.append("%s %s" % (instr.lower(), " ".join(json.loads(rest))))
        elif instr == "HEALTHCHECK":
            cmd = rest.split(" CMD ", 1)
            if len(cmd) != 2:
                sys.exit("HEALTHCHECK without an exec-form CMD: %s" % rest)
            out.append("healthcheck %s" % " ".join(json.loads(cmd[1])))
        elif instr == "COPY" and rest.startswith("--from="):
            words = rest.split()
            out.append("copyfrom %s %s %s" % (words[0][7:], words[1], words[2]))
    print("\n".join(out))


if __name__ == "__main__":
    main()
