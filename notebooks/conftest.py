"""nbval runs the notebooks in kernels that inherit this environment: a throwaway labkit home, offline
outputs; the lab registry the first notebook starts in the background is stopped when the session ends."""

import os
import tempfile
from pathlib import Path

os.environ["LABKIT_HOME"] = tempfile.mkdtemp(prefix="labkit-nbval-")
os.environ.pop("LABKIT_NOTEBOOK_BASE", None)
os.environ["LABKIT_OFFLINE"] = "1"  # stored outputs are the offline ones, on any machine


def pytest_sessionfinish(session, exitstatus):
    from labkit.labctl import lab_down

    lab_down(Path(os.environ["LABKIT_HOME"]))
