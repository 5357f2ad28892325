"""What paperbrief prints to a terminal is inert: text from a paper, an LLM or a server shows as
the characters it holds and never drives the terminal.

Titles, summaries, ids and error messages come from PDFs, models and servers. Through rich they
would be live: `[/INST]` is a closing markup tag (a MarkupError at the end of the run),
`[link=http://evil.test]Click[/link]` an OSC 8 link, `:x:` an emoji; and an ESC, a C1 control
(`\\x9b` is CSI) or a bidi override inside them would reach the terminal as it is. So every
console paperbrief prints with is an `InertConsole`: no markup, no emoji codes, no highlighting,
and controls dropped from every string it is given (table cells included). Our own styles are
given as `Text` styles, never as markup in a string. A `Text` made of untrusted text is made
by `one_line` (or from `inert`): the console cleans the strings it renders, not a `Text`.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

from pipeline.markup import TERMINAL_UNSAFE, clean


def inert(text: str) -> str:
    """`text` without the characters that could drive a terminal; lines and tabs are kept."""
    return TERMINAL_UNSAFE.sub("", text)


def one_line(text: str, style: str = "") -> Text:
    """Untrusted text as one line of `Text` (never markup; whitespace runs are one space, so a
    title with a newline keeps its table row whole), styled with one of our styles."""
    return Text(clean(text), style=style)


class InertConsole(Console):
    """A rich `Console` on which no string is markup, emoji codes or highlighted, and from
    which controls are dropped. `markup=True` passed to one `print` would still parse markup:
    nothing in paperbrief does."""

    def __init__(self, **options: Any) -> None:
        for option in ("markup", "emoji", "highlight"):
            options.setdefault(option, False)
        super().__init__(**options)

    def render_str(self, text: str, **options: Any) -> Text:
        return super().render_str(inert(text), **options)


def console(*, stderr: bool = False, **options: Any) -> InertConsole:
    """The console paperbrief prints with (stdout, or stderr for progress and errors)."""
    return InertConsole(stderr=stderr, **options)
