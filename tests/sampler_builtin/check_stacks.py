# check_stacks.py - assert a raw capture of fixture.py against what the fixture knows about itself.
#
# Usage: python3 check_stacks.py RAW FIXTURE SPLIT_JSON MINOR [cpu|wall]
# RAW was recorded with --threads --idle. Exits 1 with one line per failed assertion.
#
# The time split of the main thread's phases is held to the fixture's own CPU time
# (time.thread_time()), within 5 points. The fixture also reports its wall-clock split; the
# distance of the samples from it is printed, since a pausing capture stops the target for the
# length of each read (longer for the 1000-deep stack) and so moves wall time, not CPU time,
# into the deep phase: when the two distances part, that is the pausing sampler's observer
# effect on this machine at this moment. ("wall" as the fifth argument checks against the wall
# split instead, for experiments.)
import json
import re
import sys
from collections import Counter, defaultdict

raw, fixture, split_file, minor = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
truth = sys.argv[5] if len(sys.argv) > 5 else "cpu"
fails = []


def check(ok, msg):
    if not ok:
        fails.append(msg)


markers = {}
for no, text in enumerate(open(fixture, encoding="utf-8"), 1):
    m = re.search(r"# L:(\w+)", text)
    if m:
        markers[m.group(1)] = no

FRAME = re.compile(r"^(.*) \(([^()]*?)(?::(\d+))?\)$")
stacks = defaultdict(list)  # thread frame -> [(frames, count)]
for line in open(raw, encoding="utf-8"):
    line = line.rstrip("\n")
    if not line:
        continue
    body, count = line.rsplit(" ", 1)
    parts = body.split(";")
    check(parts[0].startswith("thread ("), "stack without a thread root frame: " + line[:120])
    frames = []
    for p in parts[1:]:
        m = FRAME.match(p)
        check(m is not None, "malformed frame: " + p)
        if m:
            frames.append((m.group(1), m.group(2), int(m.group(3) or 0)))
    stacks[parts[0]].append((frames, int(count)))


def names(frames):
    return {f[0] for f in frames}


main = [t for t, s in stacks.items() if any("nested_outer" in names(f) for f, _ in s)]
side = [t for t, s in stacks.items() if any("café_ñ" in names(f) for f, _ in s)]
check(len(main) == 1, "expected one main thread, got %r" % main)
check(len(side) == 1, "expected one side thread, got %r" % side)
if len(main) == 1 and len(side) == 1:
    check(main[0] != side[0], "main and side stacks share the thread frame " + main[0])
    for f, _ in stacks[main[0]]:
        check(not names(f) & {"café_ñ", "深い関数"}, "side function in the main thread")
    for f, _ in stacks[side[0]]:
        check(not names(f) & {"nested_outer", "recurse", "spin"}, "main function in side thread")
    check(any("深い関数" in names(f) for f, _ in stacks[side[0]]), "no 深い関数 frame")

method = "Shape.area" if minor >= 11 else "area"
lines = defaultdict(Counter)  # function -> line -> samples
for t, s in stacks.items():
    for frames, n in s:
        for i, (name, file, ln) in enumerate(frames):
            check(file == "fixture.py" or "fixture" not in file, "unexpected filename " + file)
            if file == "fixture.py":
                key = name
                if name == "recurse":
                    key = "recurse_bottom" if i + 1 < len(frames) and frames[i + 1][0] == "spin" else "recurse"
                lines[key][ln] += n

expect = {
    "spin": "spin", method: "area_call", "nested_outer": "outer_call",
    "produce": "produce_spin", "consume_gen": "consume_call", "coro_inner": "coro_inner_spin",
    "coro_outer": "coro_outer_call", "recurse": "recurse_call", "recurse_bottom": "recurse_bottom",
    "café_ñ": "cafe_call", "深い関数": "cjk_sleep",
}
for fn, marker in expect.items():
    got = lines.get(fn)
    check(bool(got), "no samples in %s" % fn)
    if got:
        line, n = got.most_common(1)[0]
        share = n / sum(got.values())
        check(line == markers[marker] and share >= 0.9,
              "%s: expected line %d in >= 90%% of samples, got %r" % (fn, markers[marker], dict(got)))

if len(main) == 1:
    deepest = max(Counter(f[0] for f in frames)["recurse"] for frames, _ in stacks[main[0]])
    check(deepest >= 1000, "deepest recursion seen is %d frames, expected >= 1000" % deepest)
    phase_of = {"nested_outer": "nested", "consume_gen": "gen", "run_coro": "coro", "recurse": "deep"}
    seen, total = Counter(), 0
    for frames, n in stacks[main[0]]:
        total += n
        for fn, ph in phase_of.items():
            if fn in names(frames):
                seen[ph] += n
                break
    both = json.load(open(split_file))
    split = both[truth]
    for ph, want in split.items():
        got = seen[ph] / total if total else 0
        check(abs(got - want) <= 0.05, "phase %s: sampled %.3f vs measured %s %.3f (> 5 points)" % (
            ph, got, truth, want))
    def worst(kind):
        return 100 * max(abs((seen[ph] / total if total else 0) - both[kind][ph]) for ph in both[kind])
    print("main thread: %d samples; sampled %s; measured %s %s; worst distance from the CPU split "
          "%.1f points, from the wall split %.1f" % (
              total, {k: round(v / total, 3) for k, v in seen.items()}, truth,
              {k: round(v, 3) for k, v in split.items()}, worst("cpu"), worst("wall")))

for f in fails:
    print("FAIL:", f)
sys.exit(1 if fails else 0)
