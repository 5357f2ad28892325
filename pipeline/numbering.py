"""Section numbers and their order: whether "2.1" comes right after "2", "III" after "II".

Used to accept a heading that only its words make one (body-font capitals) when it is next in
its numbering's sequence, the way a reader checks "II. OVERVIEW OF RAG" follows "I.".
"""

from __future__ import annotations

import re

ROMAN = {"I": 1, "V": 5, "X": 10}


def parts(number: str) -> tuple[str, tuple[int, ...]] | None:
    """("roman" | "letter" | "arabic", parts): "IV" -> ("roman", (4,)), "B.2" -> ("letter",
    (2, 2)); None when unnumbered."""
    if not number:
        return None
    first, *rest = number.split(".")
    if re.fullmatch(r"[IVX]+", first):
        values = [ROMAN[ch] for ch in first]
        value = sum(-v if v < w else v for v, w in zip(values, [*values[1:], 0], strict=True))
        scheme = "roman"
    elif first.isalpha():
        value, scheme = ord(first.upper()) - ord("A") + 1, "letter"
    else:
        value, scheme = int(first), "arabic"
    return scheme, (value, *(int(part) for part in rest if part.isdigit()))


def follows(prev: tuple[int, ...] | None, number: tuple[int, ...]) -> bool:
    """Whether `number` (its parts) comes right after `prev` (None: it is the first): 2 after
    1, 2.1 after 2, 3 after 2.4, 1 or 1.1 first."""
    if prev is None:
        return all(part == 1 for part in number)
    n = len(number)
    if n <= len(prev):
        return number[:-1] == prev[: n - 1] and number[-1] == prev[n - 1] + 1
    return n == len(prev) + 1 and number[:-1] == prev and number[-1] == 1
