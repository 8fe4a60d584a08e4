"""Every cell of every notebook is safe to run again, and "Restart Kernel and Run All Cells" works in a used home.

A student runs a cell twice, or a whole notebook twice, or restarts the kernel of a notebook that already ran
in the same labkit home: none of it may end in an error. Here each notebook runs all its cells, all of them
again in the same kernel, then once more in a new kernel (a restart) over the same home.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))


def _client(path: Path) -> NotebookClient:
    nb = nbformat.read(path, as_version=4)
    return NotebookClient(nb, timeout=180, kernel_name="python3", allow_errors=False,
                          resources={"metadata": {"path": str(path.parent)}})


def _errors(client: NotebookClient) -> list[str]:
    return [f"cell {n}: {o.get('ename')}: {o.get('evalue')}" for n, cell in enumerate(client.nb.cells)
            for o in cell.get("outputs", []) if o.get("output_type") == "error"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_run_all_twice_then_restart_and_run_all(path, labkit_home, monkeypatch):
    from labkit.labctl import lab_down

    monkeypatch.setenv("LABKIT_OFFLINE", "1")  # the kernels inherit this environment and labkit_home's home
    try:
        client = _client(path)
        with client.setup_kernel():
            for _ in range(2):
                for n, cell in enumerate(client.nb.cells):
                    client.execute_cell(cell, n)
        assert not _errors(client)
        restarted = _client(path)
        restarted.execute()
        assert not _errors(restarted)
    finally:
        lab_down(labkit_home)  # the lab registry the notebook's setup started in the background
