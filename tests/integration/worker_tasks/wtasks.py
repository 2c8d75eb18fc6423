"""Functions the worker tests schedule as worker jobs (func "wtasks:NAME"). Each call appends one
line to the file named by $WTASKS_OUT, so a test counts calls across worker processes."""

import json
import os
import time


def _note(**fields):
    fields.update(pid=os.getpid(), at=time.time())
    with open(os.environ["WTASKS_OUT"], "a") as f:
        f.write(json.dumps(fields) + "\n")


def record(tag):
    _note(tag=tag)
    return {"tag": tag}


def add(a, b):
    return a + b


def unserialisable():
    return {1, 2}


def fail(message):
    raise ValueError(message)


def sleep(tag, seconds):
    _note(tag=tag, event="start")
    time.sleep(seconds)
    _note(tag=tag, event="end")
    return "slept"


def sleep_first_time(marker, seconds):
    """Sleeps on the first call (creating `marker`), returns at once on later ones: a retry succeeds."""
    if not os.path.exists(marker):
        open(marker, "w").close()
        _note(tag="first", event="start")
        time.sleep(seconds)
    _note(tag="again")
    return "done"
