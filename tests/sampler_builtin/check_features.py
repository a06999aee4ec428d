# check_features.py - checks of features.sh on the raw output of `profd sample record`.
#   check_features.py names RAW THREADS_JSON
#       every thread of the fixture has its root frame: "thread (TID): NAME" for the named
#       ones (MainThread, worker-one, renamed-ü, renamed after it started) and "thread (TID)"
#       for the one with no threading.Thread object.
#   check_features.py speedscope JSON THREADS_JSON
#       the speedscope profiles are named `Thread TID "NAME"` (NAME empty for the thread with no
#       threading.Thread object).
#   check_features.py native RAW
#       some stack has run_qsort (Python), then a frame of libc's qsort (native), then
#       compare_ints (Python), in that order from the root.
#   check_features.py family RAW FAMILY_JSON PARENT_PID PARENT_CMDLINE_FILE SAMPLER_START END
#       the parent's stacks are rooted at process PID:"cmdline", the child's at the parent's
#       process frame and then its own, with child_work in them (when the child's work began
#       before the capture ended); the child was started after the capture began.
import json
import sys


def stacks(path):
    out = []
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        frames, _, count = line.rpartition(" ")
        out.append((frames.split(";"), int(count)))
    return out


def fail(msg, raw):
    print("FAIL:", msg)
    print("raw output (first lines):")
    for frames, count in stacks(raw)[:8]:
        print("  ", ";".join(frames)[:600], count)
    sys.exit(1)


def names(raw, threads_json):
    ids = json.load(open(threads_json, encoding="utf-8"))
    roots = {f[0] for f, _ in stacks(raw)}
    for name, tid in ids.items():
        want = "thread (%d): %s" % (tid, name) if name else "thread (%d)" % tid
        if want not in roots:
            fail("no stack rooted at %r (roots: %s)" % (want, sorted(roots)), raw)
    print("ok: %d thread roots with their names" % len(ids))


def speedscope(path, threads_json):
    ids = json.load(open(threads_json, encoding="utf-8"))
    got = [p["name"] for p in json.load(open(path, encoding="utf-8"))["profiles"]]
    for name, tid in ids.items():
        want = 'Thread %d "%s"' % (tid, name)
        if want not in got:
            print("FAIL: no speedscope profile %r (profiles: %s)" % (want, got))
            sys.exit(1)
    print("ok: %d speedscope profiles named by thread" % len(ids))


def native(raw):
    best = None
    for frames, count in stacks(raw):
        names_ = [f.split(" (")[0] for f in frames]
        files = [f.rpartition(" (")[2] for f in frames]
        if "run_qsort" not in names_ or "compare_ints" not in names_:
            continue
        a, b = names_.index("run_qsort"), len(names_) - 1 - names_[::-1].index("compare_ints")
        between = [(n, f) for n, f in zip(names_[a + 1:b], files[a + 1:b])]
        if any(n.startswith(("qsort", "msort")) for n, _ in between):
            best = (frames, count)
            break
    if not best:
        fail("no stack with run_qsort -> qsort (native) -> compare_ints", raw)
    print("ok: native frames between Python frames:", " ; ".join(best[0])[:400])


def family(raw, family_json, parent_pid, cmdline_file, sampler_start, sampler_end):
    fam = json.load(open(family_json, encoding="utf-8"))
    parent_cmd = open(cmdline_file, encoding="utf-8").read().strip()
    parent_frame = 'process %s:"%s"' % (parent_pid, parent_cmd)
    child_frame = 'process %d:"%s"' % (fam["child"], fam["child_cmdline"])
    st = stacks(raw)
    own = [f for f, _ in st if f[0] == parent_frame and (len(f) < 2 or not f[1].startswith("process "))]
    kids = [f for f, _ in st if f[0] == parent_frame and len(f) > 1 and f[1] == child_frame]
    if not own:
        fail("no stack of the target rooted at %r" % parent_frame, raw)
    if not any("parent_work" in ";".join(f) for f in own):
        fail("the target's stacks lack parent_work", raw)
    if not kids:
        fail("no stack of the child rooted at %r;%r" % (parent_frame, child_frame), raw)
    try:
        work_started = float(open(family_json.rsplit("/", 1)[0] + "/child_started").read())
    except (OSError, ValueError):
        work_started = None
    if work_started is not None and work_started < float(sampler_end) - 0.2 and \
            not any(any(x.startswith("child_work (") for x in f) for f in kids):
        fail("the child's stacks lack child_work, which ran from %.2f s before the capture "
             "ended" % (float(sampler_end) - work_started), raw)
    if fam["started"] <= float(sampler_start):
        fail("the child was started before the capture began", raw)
    others = [f for f, _ in st if f[0] != parent_frame]
    if others:
        fail("stacks not rooted at the target's process frame: %s" % others[:2], raw)
    print("ok: %d target stacks, %d child stacks (child %d started %.2f s into the capture)"
          % (len(own), len(kids), fam["child"], fam["started"] - float(sampler_start)))


if __name__ == "__main__":
    {"names": names, "speedscope": speedscope, "native": native, "family": family}[sys.argv[1]](*sys.argv[2:])
