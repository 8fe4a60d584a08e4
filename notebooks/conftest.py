"""nbval runs the notebooks in kernels that inherit this environment: give them a throwaway labkit home."""

import os
import tempfile

os.environ["LABKIT_HOME"] = tempfile.mkdtemp(prefix="labkit-nbval-")
os.environ.pop("LABKIT_NOTEBOOK_BASE", None)
