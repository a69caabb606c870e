"""Loaded at start-up by every Python process of `make test-dates` (the Makefile puts this folder
on PYTHONPATH): the suite, its Celery worker and the app it serves for the browser.

Under faketime the monotonic clock must stay the machine's (FAKETIME_DONT_FAKE_MONOTONIC), or the
timed waits on locks and queues never end. Debian's libfaketime 0.9.10 then refuses the absolute
monotonic `clock_nanosleep` that `time.sleep` makes (EINVAL): sleeping is a timed wait instead,
which reads that same monotonic clock. Outside faketime this module changes nothing."""

import os
import threading
import time

if "faketime" in os.environ.get("LD_PRELOAD", ""):

    def _sleep(seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        threading.Event().wait(min(seconds, threading.TIMEOUT_MAX))

    time.sleep = _sleep
