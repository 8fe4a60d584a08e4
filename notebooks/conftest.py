"""nbval runs the notebooks in kernels that inherit this environment: a throwaway labkit home, offline
outputs; the lab registry is started before the first notebook and stopped when the session ends.

Starting it here keeps the stored outputs the same when 127.0.0.1:5000 is someone else's: `lab up` then
takes a free port (and says so once, here, not in a notebook's set-up cell) and points localhost:5000
at it, so the notebooks see the same lab either way."""

import os
import tempfile
from pathlib import Path

os.environ["LABKIT_HOME"] = tempfile.mkdtemp(prefix="labkit-nbval-")
os.environ.pop("LABKIT_NOTEBOOK_BASE", None)
os.environ["LABKIT_OFFLINE"] = "1"  # stored outputs are the offline ones, on any machine


def pytest_sessionstart(session):
    from labkit.labctl import lab_up

    for line in lab_up(Path(os.environ["LABKIT_HOME"])):
        if " is in use by " in line:
            print(f"\nnotebooks/conftest.py: {line}")


def pytest_sessionfinish(session, exitstatus):
    from labkit.labctl import lab_down

    lab_down(Path(os.environ["LABKIT_HOME"]))
