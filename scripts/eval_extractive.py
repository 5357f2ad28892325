"""How well the extractive backend's summaries read, on the shared corpus of real papers.

    python scripts/eval_extractive.py        (make eval-extractive)

Each corpus PDF, and each short excerpt in the corpus's `edge/` folder, goes through what
`make demo` runs for it: extract → chunk (the default chunk settings, the extractive backend's
tokenizer) → `extractive_summary`. One row per paper, then
the totals against the targets. Always exits 0: it reports, `tests/test_extractive_quality.py`
asserts.

The measures are defined here, apart from the summarizer's own rules, so that they judge its
output rather than restate its choices:

- **repetition**: quoted sentences that occur more than once across summary paragraph 1 and 2,
  the key insight, the takeaways and the industry impact, compared after case, whitespace and
  punctuation are folded. Every extra occurrence counts one. Target 0.
- **dangling openers**: fields shown on their own (key insight, each takeaway, industry
  impact) that open with a word pointing back at text the reader does not see: this, these,
  those, it, its, such, they, their, that, here, "in this case" and the like ("This paper" and
  "This work" name the paper, "It is ... that" is an expletive, both fine), or that use a bare
  "this"/"these"/"those" for a noun ("Standard randomization raises this to 38%"). Target 0.
- **specific takeaways**: the share of quoted takeaways carrying a number (not a year or a
  Table/Figure/Section number) or a named method: an acronym (``GRPO``), a camel-case or
  mixed-case name (``BERTScore``, ``LLaMA``, ``Qwen3``) or a capitalised word inside the
  sentence (``Transformer``), citations and Table/Figure words aside. Target ≥ 70%.
- **impact about use**: the share of quoted industry-impact fields that speak of use, cost,
  deployment, latency, memory, practitioners, production, efficiency and the like. A field that
  says plainly that the paper states no such thing is counted apart, as honest, not as a miss.
- **limitations that state one**: the share of limitation sentences with a limitation word
  (limitation, does not, cannot, fails, only, future work, we leave, restricted to, ...).
- **boilerplate tags**: tags such as "v1", "report", "paper", "preprint", "arxiv" or a year.
"""

from __future__ import annotations

import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline import evaluation
from pipeline.errors import PaperbriefError
from pipeline.llm.extractive import ExtractiveBackend, extractive_summary, split_sentences
from pipeline.models import PaperMeta, PaperSummary
from pipeline.settings import ChunkSettings, ReadingSettings
from pipeline.stages.chunk import read_at_depth
from pipeline.stages.extract import document
from pipeline.tokens import tokenizer_for

SPECIFIC_TARGET = 0.70

# The backend's own notes ("Not assessed: ...", "No ... (extractive backend).") are not quotes.
_NOTE = re.compile(r"\(extractive backend\)\.?$")
_DANGLING = re.compile(
    r"^\W*(?:(?:this|these|those|that|such|it|its|they|their|them|here|there)\b"
    r"|in (?:this|that|these|such) (?:case|setting|way|regard|scenario)s?\b)",
    re.I,
)
_BARE_POINTER = re.compile(
    r"\b(?:this|these|those)(?=\s*[.,;:!?)]|\s+(?:to|by|in|on|for|with|from|at|into|is|are|was"
    r"|were|has|have|can|will|would|may|shows?|means?|suggests?|and|or|but|as|which)\b)",
    re.I,
)
_NAMES_THE_PAPER = re.compile(
    r"^\W*(?:this|that) (?:paper|work|study|article|report|thesis|letter|survey|manuscript)\b"
    r"|^\W*it (?:is|was|has been|remains|becomes|seems|appears)\b(?:\W+\w+){0,4}?\W+"
    r"(?:that|to|whether|how)\b"
    r"|^\W*there (?:is|are|was|were|exist|remain)",
    re.I,
)
_CITATION = re.compile(r"\[[^\]]*\]|\([^()]*\d{4}[a-z]?\)")
_REFERENCE_NUMBER = re.compile(
    r"\b(?:Tables?|Tab\.|Figures?|Fig\.|Sections?|Sec\.|Eq\.|Equation|Appendix|Algorithm"
    r"|Theorem|Lemma)\s*\(?\d+(?:\.\d+)*\)?",
    re.I,
)
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)?")
_YEAR = re.compile(r"^(?:19|20)\d\d$")
_NAME = re.compile(
    r"\b(?:[A-Z]{2,}[A-Za-z0-9-]*|[A-Za-z]+[A-Z][A-Za-z0-9-]*|[A-Z][a-z]+\d[\w-]*|[A-Z][a-z]{2,})"
)
_NOT_NAMES_LIST = (
    "Table Tables Figure Figures Fig Section Sections Sec Appendix Equation Eq Algorithm "
    "Theorem Lemma We Our The This These In For"
)
_NOT_NAMES = frozenset(_NOT_NAMES_LIST.split())
_USE = re.compile(
    r"\b(?:deploy\w*|production(?! of)|practitioners?|industr\w*|real[- ]world|in practice"
    r"|practical (?:use|applications?|settings?|systems?|deployment)|commercial\w*"
    r"|cost\w*|cheap\w*|expensive|latenc\w*|throughput|inference (?:time|speed|cost)"
    r"|(?:memory|energy|power|compute) (?:footprint|usage|consumption|requirements?|costs?|budget)"
    r"|(?:less|lower|reduced?|smaller) (?:memory|compute|energy|power)|speed-?ups?|faster"
    r"|gpus?|hardware|on-device|edge devices?|serving|end[- ]users?|users|open-source"
    r"|publicly (?:available|released)|off-the-shelf|plug-and-play|downstream applications?)\b",
    re.I,
)
_LIMITATION = re.compile(
    r"\b(?:limitations?|limited to|restricted to|does not|do not|did not|cannot|can not|fails?"
    r"|failed|only|future work|we leave|left for|remains? (?:open|unclear|unknown|unexplored)"
    r"|beyond the scope|drawbacks?|shortcomings?|weakness\w*|not yet|unable)\b",
    re.I,
)
_BOILERPLATE_TAG = re.compile(
    r"^(?:v\d+|\d+|(?:19|20)\d\d|report|technical report|paper|preprint|arxiv|draft|version"
    r"|proceedings|conference|workshop|journal|submitted|accepted|camera[- ]ready)$"
    r"|\b(?:arxiv|preprint|v\d+|(?:19|20)\d\d)\b",
    re.I,
)


def fold(sentence: str) -> str:
    """The form two sentences are compared in: case, whitespace and punctuation folded."""
    return " ".join(re.sub(r"[^\w\s]", " ", sentence.lower()).split())


def is_note(text: str) -> bool:
    return bool(_NOTE.search(text.strip()))


def repeated_sentences(summary: PaperSummary) -> list[str]:
    """Each quoted sentence once per extra time it occurs across the fields a reader reads."""
    fields = [*summary.summary, summary.key_insight, *summary.key_takeaways]
    fields.append(summary.industry_impact)
    sentences = [s for field in fields if not is_note(field) for s in split_sentences(field)]
    counts = Counter(fold(s) for s in sentences if not is_note(s))
    return [sentence for sentence, n in counts.items() for _ in range(n - 1)]


def dangling(text: str) -> bool:
    """Whether a field shown on its own points back at text the reader lacks: by its opener,
    or by a "this"/"these"/"those" that stands for a noun ("raises this to 38%")."""
    opener = bool(_DANGLING.match(text)) and not _NAMES_THE_PAPER.match(text)
    return opener or bool(_BARE_POINTER.search(text))


def specific(text: str) -> bool:
    """Whether a sentence carries a number or a named method (see the module docstring)."""
    text = _REFERENCE_NUMBER.sub(" ", _CITATION.sub(" ", text))
    if any(not _YEAR.match(n) for n in _NUMBER.findall(text)):
        return True
    words = text.split(maxsplit=1)
    rest = words[1] if len(words) > 1 else ""
    return any(m not in _NOT_NAMES for m in _NAME.findall(rest)) or bool(
        words and re.match(r"[A-Z]{2,}|[A-Za-z]+[A-Z]", words[0])
    )


def about_use(text: str) -> bool:
    return bool(_USE.search(text))


@dataclass(frozen=True)
class Quality:
    file: str
    repeats: int = 0
    dangling: int = 0
    takeaways: int = 0  # quoted takeaways (notes aside)
    specific: int = 0
    impact: str = "none"  # "use", "other" or "none" (the backend says the paper states none)
    limitations: int = 0
    stated_limitations: int = 0
    boilerplate_tags: tuple[str, ...] = ()
    ms: float = 0.0
    error: str | None = None


def quality(file: str, summary: PaperSummary, ms: float) -> Quality:
    standalone = [summary.key_insight, *summary.key_takeaways, summary.industry_impact]
    quoted_takeaways = [t for t in summary.key_takeaways if not is_note(t)]
    impact = summary.industry_impact
    return Quality(
        file=file,
        repeats=len(repeated_sentences(summary)),
        dangling=sum(dangling(t) for t in standalone if not is_note(t)),
        takeaways=len(quoted_takeaways),
        specific=sum(specific(t) for t in quoted_takeaways),
        impact="none" if is_note(impact) else "use" if about_use(impact) else "other",
        limitations=len(summary.limitations),
        stated_limitations=sum(bool(_LIMITATION.search(s)) for s in summary.limitations),
        boilerplate_tags=tuple(t for t in summary.tags if _BOILERPLATE_TAG.search(t)),
        ms=ms,
    )


def summarize_pdf(path: Path) -> PaperSummary:
    """What `make demo` does to one PDF, minus the cache: extract, chunk, summarize."""
    doc = document(path, path.stem)
    settings = ChunkSettings()
    reading = ReadingSettings()
    tokenizer = tokenizer_for(ExtractiveBackend.model, settings.encoding)
    parts = read_at_depth(
        doc,
        tokenizer=tokenizer,
        depth=reading.depth,
        budget=reading.budget,
        max_tokens=settings.max_tokens,
        overlap=settings.overlap,
        paper_budget=settings.paper_budget,
    )
    meta = PaperMeta(id=path.stem, title=doc.title or path.stem, abstract=doc.abstract)
    return extractive_summary(meta, parts.chunks)


def corpus_pdfs(corpus: Path) -> list[Path]:
    """The corpus papers, then its one-to-two-page excerpts (`edge/`): short papers are where
    a summarizer runs out of sentences and starts to repeat itself."""
    papers = [corpus / "pdfs" / record["file"] for record in evaluation.ground_truth(corpus) or []]
    return papers + sorted((corpus / "edge").glob("*.pdf"))


def score_corpus(corpus: Path) -> list[Quality]:
    scores = []
    for path in corpus_pdfs(corpus):
        started = time.perf_counter()
        try:
            summary = summarize_pdf(path)
        except PaperbriefError as exc:  # one unreadable paper is a row, not the end of the run
            reason = str(exc).split(";")[0].removeprefix(f"{path}: ")
            scores.append(Quality(file=path.name, error=reason))
            continue
        scores.append(quality(path.name, summary, (time.perf_counter() - started) * 1000))
    return scores


@dataclass(frozen=True)
class Totals:
    papers: int
    errors: int
    repeats: int
    dangling: int
    specific_share: float
    impact_use: int
    impact_other: int
    impact_none: int
    limitations: int
    stated_limitations: int
    boilerplate_tags: int

    @property
    def met(self) -> bool:
        return self.repeats == 0 and self.dangling == 0 and self.specific_share >= SPECIFIC_TARGET


def totals(scores: list[Quality]) -> Totals:
    takeaways = sum(s.takeaways for s in scores)
    impacts = Counter(s.impact for s in scores if s.error is None)
    return Totals(
        papers=len(scores),
        errors=sum(s.error is not None for s in scores),
        repeats=sum(s.repeats for s in scores),
        dangling=sum(s.dangling for s in scores),
        specific_share=sum(s.specific for s in scores) / takeaways if takeaways else 0.0,
        impact_use=impacts["use"],
        impact_other=impacts["other"],
        impact_none=impacts["none"],
        limitations=sum(s.limitations for s in scores),
        stated_limitations=sum(s.stated_limitations for s in scores),
        boilerplate_tags=sum(len(s.boilerplate_tags) for s in scores),
    )


def summary_line(t: Totals) -> str:
    quoted = t.impact_use + t.impact_other
    use = f"{t.impact_use}/{quoted} ({t.impact_use / quoted:.0%})" if quoted else "0/0"
    return (
        f"{t.papers} papers ({t.errors} failed): repetition {t.repeats} (target 0), "
        f"dangling openers {t.dangling} (target 0), takeaways with a number or named method "
        f"{t.specific_share:.0%} (target ≥{SPECIFIC_TARGET:.0%}), industry impact about use "
        f"{use}, stated as none {t.impact_none}, limitations stating one "
        f"{t.stated_limitations}/{t.limitations}, boilerplate tags {t.boilerplate_tags} "
        f"→ {'targets met' if t.met else 'BELOW TARGET'}"
    )


def main() -> int:
    corpus = evaluation.corpus_dir()
    if evaluation.ground_truth(corpus) is None:
        print(f"no corpus at {corpus} (set PAPERBRIEF_SHARED); nothing to evaluate")
        return 0
    print(f"backend model {ExtractiveBackend.model}")
    print(f"{'file':30} {'rep':>3} {'dang':>4} {'specific':>8} {'impact':>6} {'lim':>5} {'ms':>6}")
    scores = score_corpus(corpus)
    for s in scores:
        if s.error:
            print(f"{s.file:30} ERROR {s.error}")
            continue
        row = f"{s.file:30} {s.repeats:3} {s.dangling:4} {s.specific:4}/{s.takeaways:<3}"
        tags = f"  tags: {', '.join(s.boilerplate_tags)}" if s.boilerplate_tags else ""
        limits = f"{s.stated_limitations}/{s.limitations}"
        print(f"{row} {s.impact:>6} {limits:>5} {s.ms:6.0f}{tags}")
    print()
    print(summary_line(totals(scores)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
