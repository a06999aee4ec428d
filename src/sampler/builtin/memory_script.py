# memory_script.py - profd's memory capture, run inside the target by CPython's PEP 768 hook.
#
# `profd sample memory` (memory.c) embeds this file, compiles nothing of it and interpolates
# nothing into it: the script file it writes for the target is a short stub that passes four
# validated values (window, frames, a random token, the capture directory) to this text and
# runs it under the file name "<profd-memory>", so that its own frames can be filtered out of
# what tracemalloc saw. Standard library only. It must never raise into the target and never
# block the thread that runs it: the hook runs it at a safe point of some thread of the
# target, so it only starts tracemalloc and a daemon thread, and returns. It removes its own
# file once tracing is on (so "the script is gone" also means "the window has begun").
#
# The daemon thread sleeps out the window, takes a snapshot, stops tracemalloc if this script
# started it (a target that traced already is left as it was: same traceback limit, still
# tracing, peak not reset), and writes, into the output file the worker created:
#
#   # profd-memory 1
#   frame;frame;frame BYTES        root first, frames "qualname (short_file:line)"
#   ...
#   # summary bytes=B blocks=N peak=P frames=F tracer=profd|target
#   # end
#
# "allocations made during the window and still live at its end": when this script started
# tracemalloc, every trace is one (tracing began with the window); when the target traced
# already, it is each traceback's growth (snapshot at the end compared with one at the start,
# positive size differences only). The worker reads the file as untrusted input.


def _profd_capture(window, frames, token, directory):
    import os
    import sys
    import threading
    import time
    import tracemalloc
    import linecache

    key = "_profd_memory_capture"
    if getattr(sys, key, None) is not None:  # a second trigger of the same capture
        return
    setattr(sys, key, token)
    script = os.path.join(directory, "capture.py")
    out = os.path.join(directory, "out.txt")
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start(frames)
    ignore = [tracemalloc.Filter(False, "<profd-memory>", all_frames=True),
              tracemalloc.Filter(False, tracemalloc.__file__),
              tracemalloc.Filter(False, linecache.__file__)]
    before = None if started else tracemalloc.take_snapshot().filter_traces(ignore)
    try:
        os.unlink(script)  # its text is already read: nothing of profd stays on disk
    except OSError:
        pass
    limit = tracemalloc.get_traceback_limit()
    t0 = time.monotonic()

    def short_name(filename, cache):
        if filename in cache:
            return cache[filename]
        name = filename
        if filename.startswith("/"):
            keep = 0
            d = filename
            while True:
                d = d.rsplit("/", 1)[0]
                keep = len(d) + 1
                if not d or not os.path.exists(d + "/__init__.py"):
                    break
            name = filename[keep:]
        cache[filename] = name
        return name

    def function_spans(filename, cache):
        if filename in cache:
            return cache[filename]
        spans = []
        source = filename
        if filename.startswith("<frozen ") and filename.endswith(">"):  # frozen stdlib modules
            mod = sys.modules.get(filename[8:-1])
            source = getattr(mod, "__file__", None) or filename
        try:
            import ast
            tree = ast.parse("".join(linecache.getlines(source)))
        except Exception:
            tree = None
        if tree is not None:
            todo = [(tree, "", False)]
            while todo:
                node, prefix, in_func = todo.pop()
                for child in ast.iter_child_nodes(node):
                    if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                        qual = prefix + child.name
                        end = getattr(child, "end_lineno", None) or child.lineno
                        spans.append((child.lineno, end, qual))
                        func = not isinstance(child, ast.ClassDef)
                        todo.append((child, qual + (".<locals>." if func else "."), func))
                    else:
                        todo.append((child, prefix, in_func))
        spans.sort()
        cache[filename] = spans
        return spans

    def frame_text(frame, names, spans):
        qual = "<module>"
        best = -1
        for first, last, q in function_spans(frame.filename, spans):
            if first > frame.lineno:
                break
            if last >= frame.lineno and first >= best:
                best, qual = first, q
        text = "%s (%s:%d)" % (qual, short_name(frame.filename, names), frame.lineno)
        return "".join("_" if c in ";\r\n" or ord(c) < 32 else c for c in text)

    def finish():
        lines = ["# profd-memory 1"]
        try:
            left = window - (time.monotonic() - t0)
            if left > 0:
                time.sleep(left)
            after = tracemalloc.take_snapshot().filter_traces(ignore)
            peak = tracemalloc.get_traced_memory()[1]
            if started:
                tracemalloc.stop()
            if before is None:
                rows = [(s.size, s.count, s.traceback) for s in after.statistics("traceback")]
            else:
                rows = [(d.size_diff, max(d.count_diff, 0), d.traceback)
                        for d in after.compare_to(before, "traceback") if d.size_diff > 0]
            names, spans = {}, {}
            total = blocks = 0
            for size, count, tb in rows:
                if size <= 0 or len(tb) == 0:
                    continue
                lines.append(";".join(frame_text(f, names, spans) for f in tb) + " %d" % size)
                total += size
                blocks += count
            lines.append("# summary bytes=%d blocks=%d peak=%d frames=%d tracer=%s"
                         % (total, blocks, peak, limit, "profd" if started else "target"))
        except BaseException as e:  # report, never raise into the target
            if started and tracemalloc.is_tracing():
                tracemalloc.stop()
            lines.append("# error %s" % type(e).__name__)
        lines.append("# end")
        try:
            with open(out, "w") as f:
                f.write("\n".join(lines) + "\n")
        except OSError:
            pass
        try:
            delattr(sys, key)
        except AttributeError:
            pass

    threading.Thread(target=finish, name="profd-memory", daemon=True).start()
