"""What every lab notebook must be, read from the committed files: a lesson's shape, exercises that live in
labkit.lessons, and saved outputs that give no exercise's answer away.

- Shape: a header with the time, the questions and the objectives; key points at the end.
- Exercises: a code cell only calls `exercise("NN-name")` (or `exercise_sheet(...)`); no checker, solution or
  Feedback in a cell; each lesson is shown in its own notebook, after a markdown cell holding the question.
- Answers: no saved output holds a solution, a "Correct" verdict or a feedback block.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from helpers.lessons import notebook_state
from labkit.lessons import lessons
from labkit.viz.exercises import OK_MARK

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
OURS = NOTEBOOKS
EXERCISE_CALL = re.compile(r"""exercise(?:_sheet)?\(([^)]*)\)""")
KEY = re.compile(r"""["'](\d\d-[a-z0-9-]+)["']""")


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def source(cell: dict) -> str:
    return "".join(cell["source"])


def outputs_text(cell: dict) -> str:
    """Return everything a saved code cell shows: streams, text, HTML, SVG."""
    parts = []
    for output in cell.get("outputs", []):
        parts.append("".join(output.get("text", "")))
        for mime, value in output.get("data", {}).items():
            if mime.startswith("text/") or mime == "image/svg+xml":
                parts.append("".join(value) if isinstance(value, list) else str(value))
    return "\n".join(parts)


def used_keys(path: Path) -> list[tuple[int, str]]:
    """Return (cell index, lesson key) for every lesson a notebook shows."""
    found = []
    for n, cell in enumerate(cells(path)):
        if cell["cell_type"] == "code":
            for call in EXERCISE_CALL.findall(source(cell)):
                found += [(n, key) for key in KEY.findall(call)]
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_a_lesson_header_and_key_points(path):
    first = source(cells(path)[0])
    assert first.startswith(f"# {path.name[:2]} ")
    for part in ("**Time:**", "**Questions**", "**Objectives"):
        assert part in first, f"{path.name}: the first cell has no {part}"
    assert re.search(r"\d+ min", first)
    markdown = [source(c) for c in cells(path) if c["cell_type"] == "markdown"]
    assert any("## Key points" in m for m in markdown[-2:]), f"{path.name}: no key points at the end"


@pytest.mark.parametrize("path", OURS, ids=[p.stem for p in OURS])
def test_exercise_cells_only_call_the_lessons(path):
    for n, cell in enumerate(cells(path)):
        if cell["cell_type"] != "code":
            continue
        text = source(cell)
        for banned in ("Feedback(", "Exercise(", "solution=", ".check(", "labkit.viz.exercises"):
            assert banned not in text, f"{path.name} cell {n}: checkers and solutions live in labkit.lessons"


@pytest.mark.parametrize("path", OURS, ids=[p.stem for p in OURS])
def test_every_question_is_written_above_its_widget(path):
    keys = used_keys(path)
    assert keys, f"{path.name} shows no exercise"
    all_cells = cells(path)
    for n, key in keys:
        assert key[:2] == path.name[:2], f"{path.name} shows {key}, a lesson of another notebook"
        above = next((c for c in reversed(all_cells[:n]) if c["cell_type"] == "markdown"), None)
        assert above is not None and len(source(above)) > 80, f"{path.name}: no question above {key}"
        if not lessons()[key].state:  # a prediction or a decision is asked as a question; a task is told
            assert "?" in source(above), f"{path.name}: no question above {key}"


def test_every_lesson_is_shown_once_in_its_notebook():
    shown = [key for path in OURS for _, key in used_keys(path)]
    assert sorted(shown) == sorted(lessons()), "each lesson appears in exactly one notebook cell"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_no_saved_output_holds_a_verdict(path):
    for n, cell in enumerate(cells(path)):
        text = outputs_text(cell)
        assert f"{OK_MARK}:" not in text and "labkit-feedback" not in text, \
            f"{path.name} cell {n}: a saved output shows a checked answer"


def test_no_saved_output_holds_a_solution(lab):
    """Each lesson's solution, computed on a lab in its notebook's state, appears in no saved output."""
    saved = {path.name[:2]: "\n".join(outputs_text(c) for c in cells(path)) for path in OURS}
    everything = "\n".join(saved.values())
    made = set()
    for key, item in lessons().items():
        if item.notebook not in made:
            notebook_state(lab, item.notebook)
            made.add(item.notebook)
        solution = item.solution(lab)
        assert solution and solution not in everything, f"a saved output holds the solution of {key}"
        # and no line of it long enough to be the answer in its own words
        for line in solution.splitlines():
            if len(line) > 30:
                assert line not in everything, f"a saved output holds part of the solution of {key}: {line}"


def test_notebook_08_shows_the_colleagues_push_arriving():
    """The story of 08: a colleague pushes another image under the same tag, and the student's pull brings
    it. A run whose colleague pushed to another registry (localhost:5000 held by a second lab) stored
    "Image is up to date" once; the saved outputs must tell the story as it happens on one lab."""
    path = ROOT / "notebooks" / "08-tags.ipynb"
    code = [c for c in cells(path) if c["cell_type"] == "code"]
    pushed = next(c for c in code if "another_home" in source(c))
    digest = re.search(r"latest: digest: (sha256:[0-9a-f]{64})", outputs_text(pushed)).group(1)
    pulled = next(c for c in code[code.index(pushed) + 1:] if "%docker pull localhost:5000/myapp" in source(c))
    text = outputs_text(pulled)
    assert f"Digest: {digest}" in text
    assert "Status: Downloaded newer image for localhost:5000/myapp:latest" in text
