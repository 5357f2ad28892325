"""`paperbrief extract FILE.pdf`: print what the extractor reads from one PDF, as JSON.

For debugging a bad summary: the title, abstract, sections (heading, level, kind, pages, text),
captions and whether a reference list was found, exactly as the later stages see them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pipeline.markup import TERMINAL_UNSAFE
from pipeline.models import Document
from pipeline.settings import ExtractSettings


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "extract",
        help="print the text extracted from one PDF as JSON",
        description=(
            "Read one PDF the way the pipeline does and print the result as JSON: title, "
            "abstract, sections with heading, level, kind and pages, captions, references flag. "
            "Exit code 0: read; 1: the PDF could not be read (one line on stderr says why)."
        ),
    )
    parser.add_argument("file", type=Path, metavar="FILE", help="the PDF to read")
    parser.add_argument(
        "--max-pages",
        type=int,
        default=ExtractSettings.model_fields["max_pages"].default,
        help="read at most this many pages (default %(default)s)",
    )
    parser.add_argument(
        "--max-page-mb",
        type=_mib,
        default=ExtractSettings.model_fields["max_page_mb"].default,
        help="skip a page holding more MiB of drawing instructions (default %(default)s)",
    )


def _mib(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= 1024:  # NaN too
        raise argparse.ArgumentTypeError(f"expected MiB between 0 and 1024, got {text!r}")
    return value


def extract_command(args: argparse.Namespace) -> int:
    from pipeline.stages.extract import document

    limits = {"max_pages": args.max_pages, "max_page_mb": args.max_page_mb}
    doc = document(args.file, args.file.stem, **limits, local=True)  # errors: cli.main
    sys.stdout.write(printable_json(as_json(doc)) + "\n")
    return 0


def printable_json(value: object) -> str:
    """JSON that is safe to print: `json` escapes C0 controls (ESC among them) but not C1
    controls (U+009B is CSI) or bidi overrides, which a terminal would act on. They only occur
    inside strings, where `\\uXXXX` is the same character."""
    text = json.dumps(value, ensure_ascii=False, indent=2)
    return TERMINAL_UNSAFE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def as_json(doc: Document) -> dict:
    """The document in the shape the command prints."""
    return {
        "paper_id": doc.paper_id,
        "title": doc.title,
        "abstract": doc.abstract,
        "pages": doc.pages,
        "pages_read": doc.pages_read,
        "pages_skipped": doc.pages_skipped,
        "has_references": doc.has_references,
        "sections": [
            {
                "heading": s.heading,
                "level": s.level,
                "kind": s.kind,
                "pages": [s.page_start, s.page_end],
                "text": s.text,
            }
            for s in doc.sections
        ],
        "captions": doc.captions,
    }
