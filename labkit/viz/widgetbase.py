"""The shape every labkit notebook widget shares: a small class whose `.widget` is the ipywidgets root it shows.

A widget's state lives in its attributes and its event handlers are its methods, so a test drives it in
Python (set a control's `.value`, call a button's `.click()`) and reads what it shows. In a live notebook the
object displays as its ipywidgets view. A notebook saved with its outputs and read without a kernel (GitHub,
nbviewer, a diff) cannot show that view; instead of ipywidgets' "VBox(children=(...))" it reads the text and
HTML fallbacks of the display bundle: what the widget is and what it showed when the cell ran. They hold no
memory address or other run-to-run noise, so stored outputs stay deterministic.
"""

from __future__ import annotations

import html
from typing import Any

RUN_TO_USE = "run this cell to use it"


class NotebookWidget:
    """Base of the notebook widgets: subclasses set `self.widget` and say in `describe()` what they are."""

    widget: Any = None   # the ipywidgets root (a VBox); set by the subclass's __init__

    def describe(self) -> str:
        """Return one line saying what this widget is and what it shows now ("Layer explorer for ubuntu:latest")."""
        raise NotImplementedError

    def details(self) -> str:
        """Return what the widget shows now, as plain text lines for a reader without a kernel ("": none)."""
        return ""

    def details_html(self) -> str:
        """Return what the widget shows now as HTML (by default `details()` preformatted); "" when none."""
        text = self.details()
        return f"<pre>{html.escape(text)}</pre>" if text else ""

    def fallback_text(self) -> str:
        """Return the text/plain a notebook stores for this widget: what it is, how to use it, then its details."""
        head = f"{self.describe()} \u2014 {RUN_TO_USE}"
        text = self.details()
        return f"{head}\n{text}" if text else head

    def fallback_html(self) -> str:
        """Return the text/html a notebook stores for this widget: the same, the details as HTML."""
        head = f"<p><b>{html.escape(self.describe())}</b> \u2014 <i>{RUN_TO_USE}</i></p>"
        return f"<div class='labkit-widget-fallback'>{head}{self.details_html()}</div>"

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        # The live view (application/vnd.jupyter.widget-view+json) comes from ipywidgets and is what
        # JupyterLab renders; the text/plain and text/html beside it are what everything else renders.
        bundle = dict(self.widget._repr_mimebundle_(include=include, exclude=exclude))
        bundle["text/plain"] = self.fallback_text()
        bundle["text/html"] = self.fallback_html()
        return bundle

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.describe()}>"
