"""Run the lab notebooks top to bottom and store their outputs, as committed (text and SVG; no widget state).

    .venv/bin/python notebooks/execute.py                 # every notebook
    .venv/bin/python notebooks/execute.py 05-showing-images.ipynb

Each run uses a fresh temporary LABKIT_HOME (and the lab registry the first notebook starts for it, stopped
at the end), so stored outputs never depend on the machine's own lab.
Timing metadata and saved widget state are stripped: nbval compares what remains.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent


def execute(path: Path, home: Path) -> None:
    """Execute one notebook in place with `home` as LABKIT_HOME."""
    nb = nbformat.read(path, as_version=4)
    os.environ["LABKIT_HOME"] = str(home)
    os.environ.pop("LABKIT_NOTEBOOK_BASE", None)
    os.environ["LABKIT_OFFLINE"] = "1"  # store the offline outputs: the same on every machine
    client = NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(HERE)}},
                            record_timing=False, store_widget_state=False)
    client.execute()
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = _coalesce_streams(cell.outputs)
    nbformat.write(nb, path)


def _coalesce_streams(outputs: list) -> list:
    """Return `outputs` with consecutive writes to one stream merged: how a cell's print()s arrive in
    messages depends on the machine's load, and the stored notebook must not (nbval merges them too)."""
    merged: list = []
    for out in outputs:
        prev = merged[-1] if merged else None
        if (prev is not None and out.get("output_type") == "stream" and prev.get("output_type") == "stream"
                and prev.get("name") == out.get("name")):
            prev["text"] = "".join(prev["text"]) + "".join(out["text"])
            continue
        merged.append(out)
    return merged


def main(argv: list[str]) -> int:
    from labkit.labctl import lab_down, lab_up

    names = argv or sorted(p.name for p in HERE.glob("[0-9][0-9]-*.ipynb"))
    with tempfile.TemporaryDirectory(prefix="labkit-nb-") as tmp:
        try:
            # started before the first notebook: when 127.0.0.1:5000 is another's, no set-up cell stores
            # the line saying this home's registry took a free port (notebooks/conftest.py does the same)
            for line in lab_up(Path(tmp)):
                print(line, flush=True)
            for name in names:
                print(f"executing {name}", flush=True)
                execute(HERE / Path(name).name, Path(tmp))
        finally:
            lab_down(Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
