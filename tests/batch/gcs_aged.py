#!/usr/bin/env python3
"""tests/blob/gcs_server.py with a movable clock for object times.

Cleanup removes objects by their age ("updated"), and a test cannot wait days.
This runs the same server with one change: the time stamped on objects written
from now on is the real time minus the number of seconds in the file named by
GCS_AGE_FILE (0 when the file is absent or empty). Everything else, tokens
included, keeps the real clock. Same arguments and output as gcs_server.py.
"""
import os
import sys
import time as real_time
import types

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "blob"))
import gcs_server  # noqa: E402


def age():
    path = os.environ.get("GCS_AGE_FILE", "")
    try:
        with open(path) as f:
            return float(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0.0


def aged_gmtime(t=None):
    return real_time.gmtime((real_time.time() if t is None else t) - age())


clock = types.SimpleNamespace(**{k: getattr(real_time, k) for k in dir(real_time)
                                 if not k.startswith("__")})
clock.gmtime = aged_gmtime
gcs_server.time = clock

if __name__ == "__main__":
    gcs_server.main()
