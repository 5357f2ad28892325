"""Self-contained HTML report pages: `page` and its escaped building blocks, inline SVG charts,
and the daily briefing. The weekly report builds its page from the same pieces."""

from pipeline.html.charts import bar_chart, histogram, histogram_chart
from pipeline.html.page import (
    CSP,
    arxiv_links,
    arxiv_url,
    bullets,
    collapsed,
    facts,
    flag,
    labelled,
    page,
    para,
    table,
)

__all__ = [
    "CSP",
    "arxiv_links",
    "arxiv_url",
    "bar_chart",
    "bullets",
    "collapsed",
    "facts",
    "flag",
    "histogram",
    "histogram_chart",
    "labelled",
    "page",
    "para",
    "table",
]
