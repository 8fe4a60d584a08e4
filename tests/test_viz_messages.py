"""The one error-to-HTML helper every widget uses: one line, escaped, the word "Error" and the error style."""

from __future__ import annotations

import errno
import os

import pytest
import requests

from labkit.errors import InvalidReference, LabkitError, NotFound
from labkit.viz.messages import STUDENT_MISTAKES, error_html, error_line, error_text, hint_html, ok_html


@pytest.mark.parametrize("exc, line", [
    (NotFound("image myimage: not found in the store"), "image myimage: not found in the store"),
    (InvalidReference('invalid reference "Ubuntu": must be lowercase\nmore'),
     'invalid reference "Ubuntu": must be lowercase'),
    (LabkitError(""), "LabkitError"),
    (FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), "/etc/nope"), "/etc/nope: No such file or directory"),
    (PermissionError(errno.EACCES, os.strerror(errno.EACCES)), "Permission denied"),
    (requests.ConnectionError("connection refused\nretries exceeded"), "ConnectionError: connection refused"),
    (ValueError("  first line  \nsecond line"), "ValueError: first line"),
    (KeyError("Layers"), "KeyError: 'Layers'"),
    (ZeroDivisionError(), "ZeroDivisionError"),
])
def test_error_line_is_one_line_a_student_can_read(exc, line):
    assert error_line(exc) == line


def test_error_text_names_what_was_being_done():
    missing = FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), "/nope")
    assert error_text(missing, "delete") == "Error: delete: /nope: No such file or directory"
    assert error_text(NotFound("pull x: manifest unknown")) == "Error: pull x: manifest unknown"


def test_error_html_is_escaped_styled_and_one_line():
    page = error_html(InvalidReference('invalid reference "<b>"\nTraceback (most recent call last):'), "pull")
    assert page == ("<div class='labkit-error' style='color:#8a1c1c'>"
                    "Error: pull: invalid reference &quot;&lt;b&gt;&quot;</div>")
    # a log keeps its lines as text: a worded line is shown as it is, in the same style
    assert error_html("Error: chmod: mode 99999 is out of range") == \
        "<div class='labkit-error' style='color:#8a1c1c'>Error: chmod: mode 99999 is out of range</div>"


def test_hints_and_successes_are_escaped():
    assert hint_html("Type a term <first>") == "<i>Type a term &lt;first&gt;</i>"
    assert ok_html("Status: Downloaded newer image for a<b") == \
        "<div class='labkit-ok' style='color:#1b5e20'>Status: Downloaded newer image for a&lt;b</div>"


def test_student_mistakes_are_labkits_the_file_systems_and_bad_values_not_bugs():
    for mistake in (NotFound("x"), InvalidReference("x"), FileNotFoundError(), requests.ConnectionError(),
                    ValueError("a NUL byte in a path")):
        assert isinstance(mistake, STUDENT_MISTAKES)
    for bug in (TypeError(), AttributeError(), KeyError(), RuntimeError()):
        assert not isinstance(bug, STUDENT_MISTAKES)
