"""Reading what a widget's HTML says: the text a student sees, without tags and entities."""

from __future__ import annotations

import html
import re

_TAG = re.compile(r"<[^>]+>")


def visible_text(markup: str) -> str:
    """Return the text of an HTML fragment as a browser shows it (tags dropped, entities decoded)."""
    return html.unescape(_TAG.sub("", markup))
