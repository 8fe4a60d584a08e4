"""What a widget says when a student's action fails: one line, escaped, worded and styled the same everywhere.

Widgets catch `STUDENT_MISTAKES` (what a student's typing or clicking can make labkit raise) and show it with
`error_html`; anything else is a bug in labkit and is left to surface as one, not dressed up as a message.
"""

from __future__ import annotations

import html

from ..errors import LabkitError

# What a student's action can raise inside a widget: labkit's own errors (a bad reference, a missing image, a
# registry's refusal), the file system's (a missing file, a path that exists, a network that is down: requests'
# errors are OSErrors too) and a value a widget or a container cannot take (a NUL byte in a path).
STUDENT_MISTAKES = (LabkitError, OSError, ValueError)

ERROR_WORD = "Error"
ERROR_COLOUR = "#8a1c1c"
OK_COLOUR = "#1b5e20"


def error_line(exc: BaseException) -> str:
    """Return an exception as the one line a student reads.

    labkit's errors are worded for people: their message. A file system error: the path and the reason, as
    `cat` says it ("/nope: No such file or directory"). Anything else: its type and message.
    """
    text = str(exc).strip()
    first = text.splitlines()[0].strip() if text else ""
    if isinstance(exc, LabkitError):
        return first or type(exc).__name__
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def error_text(error: BaseException, doing: str = "") -> str:
    """Return "Error: <doing>: <the error in one line>" (the words, not only a colour, say it is an error)."""
    line = error_line(error)
    return f"{ERROR_WORD}: {doing}: {line}" if doing else f"{ERROR_WORD}: {line}"


def error_html(error: "BaseException | str", doing: str = "") -> str:
    """Return the widget's one-line error message as HTML, escaped, in the error style.

    `error` is an exception (worded by `error_text` with `doing`), or a message `error_text` already worded
    (a log that keeps its lines as text).
    """
    text = error if isinstance(error, str) else error_text(error, doing)
    return f"<div class='labkit-error' style='color:{ERROR_COLOUR}'>{html.escape(text)}</div>"


def ok_html(text: str) -> str:
    """Return a one-line success message as HTML, escaped, in the success style."""
    return f"<div class='labkit-ok' style='color:{OK_COLOUR}'>{html.escape(text)}</div>"


def hint_html(text: str) -> str:
    """Return a hint (what to do first: "Type a term first, e.g. zookeeper.") as HTML, escaped."""
    return f"<i>{html.escape(text)}</i>"
