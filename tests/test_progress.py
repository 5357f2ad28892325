"""The live display on a terminal: ETA per stage, LLM calls in flight, tokens and dollars."""

from __future__ import annotations

import io

from rich.console import Console

from pipeline.progress import RichObserver, plural


def terminal() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=120, color_system=None), out


def test_the_bars_show_an_eta_and_a_line_with_calls_in_flight_and_spend():
    console, out = terminal()
    with RichObserver(console) as observer:
        assert observer.live
        observer.stage_started("summarize", 4)
        observer.advanced("summarize")
        observer.calls_in_flight(+1)
        observer.calls_in_flight(+1)
        observer.calls_in_flight(-1)
        observer.spent(12345, 0.0123)
        observer.note("LLM gpt-test: retry 1/3 (HTTP 429)")
        console.print(observer.progress.get_renderable())
    shown = out.getvalue()
    assert "LLM: 1 in flight; 12,345 tokens, $0.0123 so far" in shown
    assert "eta" in shown and "1/4" in shown
    assert "note: LLM gpt-test: retry 1/3 (HTTP 429)" in shown


def test_no_status_line_before_any_llm_work():
    console, _ = terminal()
    observer = RichObserver(console)
    assert observer.status_line() == ""


def test_plurals():
    assert [plural(n, "LLM call") for n in (0, 1, 2)] == [
        "0 LLM calls",
        "1 LLM call",
        "2 LLM calls",
    ]
