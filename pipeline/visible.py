"""Text as a reader sees it: what the reports drop, and the letters a look-alike stands for.

A paper can hide a phrase from a filter without hiding it from the reader: "Ig<U+200B>nore
previous instructions" shows as "Ignore previous instructions" once a viewer (or the report's
own `markup.clean`) drops the zero-width space, and "Ignоre" with a Cyrillic "о" reads the same
as the English word. So a check on untrusted text runs on `skeleton(text)`:

- `INVISIBLE_RANGES` removed: every format character (category Cf: zero-width spaces and
  joiners, bidi controls, soft hyphen, word joiner, tag characters...), every other default-
  ignorable code point (combining grapheme joiner, Hangul fillers, variation selectors, Khmer
  and Mongolian invisibles...), controls that are not whitespace (Cc) and surrogates. The
  report's `markup.clean` drops exactly these, so what the check saw is what the report shows.
- NFKC then a fold of combining marks and look-alike letters to ASCII: fullwidth and
  mathematical alphanumerics (NFKC makes them ASCII), accented letters ("Ìgnore"), and the
  Cyrillic, Greek and other letters that look like Latin ones (`_LOOK_ALIKES`, from Unicode's
  confusables.txt for the letters a-z).
- A word spelled out one letter at a time, "I g n o r e   p r e v i o u s" or "i.g.n.o.r.e", as
  the word it reads as (`unspelled`).

`skeleton` is for matching only: it is never shown, and its offsets are not the text's.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from typing import Final

# Controls that are not whitespace (Cc), format characters (Cf, Unicode 14 as in Python 3.11)
# and the other default-ignorable code points (DerivedCoreProperties.txt), as ranges: a table,
# not a scan of the Unicode database at import. `tests/test_visible.py` checks it against
# `unicodedata`, so a newer Python's new format character fails a test, not the filter.
INVISIBLE_RANGES: Final = (
    (0x0000, 0x0008),
    (0x000E, 0x001B),  # 0x1C-0x1F are whitespace to `str.split`
    (0x007F, 0x0084),
    (0x0086, 0x009F),  # 0x85 (next line) is whitespace
    (0x00AD, 0x00AD),  # soft hyphen
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x115F, 0x1160),  # Hangul choseong/jungseong fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180B, 0x180F),  # Mongolian variation selectors and vowel separator
    (0x200B, 0x200F),  # zero-width space, joiners, direction marks
    (0x202A, 0x202E),  # bidi embeddings and overrides
    (0x2060, 0x206F),  # word joiner, invisible operators (U+2063), bidi isolates
    (0x3164, 0x3164),  # Hangul filler
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFEFF, 0xFEFF),  # zero-width no-break space
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0xFFF0, 0xFFFB),  # unassigned ignorables, interlinear annotation
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x13438),
    (0x1BCA0, 0x1BCA3),  # shorthand format controls
    (0x1D173, 0x1D17A),  # musical symbol format controls
    (0xE0000, 0xE0FFF),  # tag characters, variation selectors supplement
)


@functools.cache
def _dropped() -> re.Pattern[str]:
    """The class of `INVISIBLE_RANGES` and surrogates (a lone surrogate cannot be encoded, so
    no report could show it); compiled on first use, not when a report module is imported."""
    ranges = "".join(re.escape(chr(lo)) + "-" + re.escape(chr(hi)) for lo, hi in INVISIBLE_RANGES)
    return re.compile(f"[{ranges}\\ud800-\\udfff]")


# Letters that look like an ASCII letter, by the letter (Unicode confusables.txt, letters a-z
# and A-Z, scripts a paper's text may mix: Cyrillic, Greek, Armenian, Cherokee, Latin extras).
_LOOK_ALIKES: Final = {
    "a": "аɑαа⍺",
    "b": "Ьᖯ",
    "c": "сϲᴄⅽ",
    "d": "ԁⅾ",
    "e": "еҽ℮ℯ",
    "g": "ɡցᶃ",
    "h": "һհ",
    "i": "іɩιӏⅰ˛ı",
    "j": "јϳ",
    "k": "κк",
    "l": "ӏⅼǀ",
    "m": "ⅿм",
    "n": "ոπп",
    "o": "оοօσ০ംᴏ",
    "p": "рρ⍴",
    "q": "ԛզ",
    "r": "гᴦ",
    "s": "ѕꜱ",
    "t": "т",
    "u": "υսᴜ",
    "v": "νѵᴠⅴ",
    "w": "ѡᴡաԝ",
    "x": "хⅹ×",
    "y": "уγүɣ",
    "z": "ᴢ",
    "A": "АΑᎪ",
    "B": "ВΒᏴ",
    "C": "СϹᏟⅭ",
    "D": "ᎠⅮ",
    "E": "ЕΕᎬ",
    "H": "НΗᎻ",
    "I": "ІΙӀⅠ",
    "J": "ЈᎫ",
    "K": "КΚᏦ",
    "M": "МΜᎷⅯ",
    "N": "ΝᏁ",
    "O": "ОΟՕ",
    "P": "РΡᏢ",
    "S": "ЅᏚ",
    "T": "ТΤᎢ",
    "X": "ХΧⅩ",
    "Y": "ҮΥ",
    "Z": "ΖᏃ",
}


@functools.cache
def _fold() -> dict[int, str]:
    return str.maketrans(
        {alike: ascii for ascii, alikes in _LOOK_ALIKES.items() for alike in alikes}
    )


def shown(text: str) -> str:
    """`text` without the characters no report shows (`INVISIBLE_RANGES`, surrogates)."""
    return _dropped().sub("", text)


def skeleton(text: str, respell: Callable[[str], str] | None = None) -> str:
    """`text` as it reads: invisibles dropped, look-alike letters as the ASCII letter they show,
    words spelled out letter by letter written whole (`unspelled`; `respell` as there)."""
    return unspelled(_letters(text), respell)


def _letters(text: str) -> str:
    """Invisibles dropped and look-alikes folded. Printable ASCII comes back as it is, after
    two scans in C: most of a paper's sentences."""
    if text.isascii() and text.isprintable():
        return text
    text = shown(text)
    if text.isascii():
        return text
    # NFKD splits "Ì" into "I" and a combining mark; NFKC would compose them again
    decomposed = unicodedata.normalize("NFKD", text)
    letters = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    # NFKC may make an invisible of a visible compatibility form (U+FFA0's kin): drop it too
    return shown(unicodedata.normalize("NFKC", letters)).translate(_fold())


# What a word may be spelled out with, one letter at a time, as a character class: "I g n o r e",
# "i.g.n.o.r.e", "I-g-n-o-r-e", "i_g_n_o_r_e", and the dashes, stars and dots that read the same.
_SPELLING_MARKS: Final = " \t._*/|+~\u00b7\u2022\u2010-\u2015-"
# ASCII letters: `_letters` has made ASCII of every letter that reads as one, and the checks
# read English (an ASCII class also scans in 60% of the time of a Unicode one).
_LETTER: Final = "[A-Za-z]"


@functools.cache
def _spelled() -> re.Pattern[str]:
    """Two or more letters, each alone between marks: "I g n o r e   p r e v i o u s"."""
    return re.compile(rf"(?<!{_LETTER}){_LETTER}(?:[{_SPELLING_MARKS}]++{_LETTER}(?!{_LETTER}))+")


@functools.cache
def _marks() -> re.Pattern[str]:
    return re.compile(f"([{_SPELLING_MARKS}]+)")


def unspelled(text: str, respell: Callable[[str], str] | None = None) -> str:
    """`text` with every run of letters spelled out one at a time written as the words a reader
    sees in it: within a run, the marks found most often between two letters join them
    ("I.g.n.o.r.e p.r.e.v" is "Ignore prev"), any other marks are a space between words
    ("I g n o r e   p r e v", "I  g  n  o  r  e    p  r  e  v" too). Once whitespace is
    collapsed, a run spaced out with single spaces is one word ("Ignoreprev"): `respell(word)`,
    when given, rewrites each such word (`addresses_reader` splits it at the words its checks
    look for)."""
    if not _spelled().search(text):
        return text
    return _spelled().sub(lambda run: _words(run.group(0), respell), text)


def _words(run: str, respell: Callable[[str], str] | None) -> str:
    parts = _marks().split(run)  # letter, marks, letter, marks, ..., letter
    letters, marks = parts[0::2], parts[1::2]
    joiner = Counter(marks).most_common(1)[0][0]
    # Each word joined once from its slice: adding letter by letter to a string was most of
    # the time of a long hostile run ("a.a.a...").
    words, start = [], 0
    for after, mark in enumerate(marks, 1):
        if mark != joiner:
            words.append("".join(letters[start:after]))
            start = after
    words.append("".join(letters[start:]))
    return " ".join(map(respell, words) if respell else words)
