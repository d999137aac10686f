"""Laying the active messages out on pages that each fit the first round trip.

A phone on a bad network gets about 14,600 bytes (ten TCP segments) in its first round trip.
Each page is measured, not guessed: a candidate layout is rendered and gzipped exactly as the
page cache will serve it, and a page takes as many messages (in the page's order: most severe,
then newest) as keep its gzip body within PAGE_BUDGET. The rest go on the next page, behind a
plain link. One message is always shown even if it alone is over the budget: a resident must
see the most severe message, and the editors' page shows the overrun.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass

# Bytes of gzip body; the response headers (about 550 bytes with the CSP) fill the rest of 14,600.
PAGE_BUDGET = 14_000


def gzipped(body: bytes) -> bytes:
    """The one gzip form of a cached body: what the budget measures is what residents receive."""
    return gzip.compress(body, compresslevel=6, mtime=0)


@dataclass(frozen=True)
class Shown:
    """Which messages a page shows: [start, stop) of `total`, in the page's order."""

    start: int
    stop: int
    total: int


# (page number from 1, which messages) -> the page's HTML
Layout = Callable[[int, Shown], bytes]


def paginate(total: int, render: Layout, budget: int = PAGE_BUDGET) -> list[bytes]:
    """Every page's HTML; together they show all `total` messages, each page within `budget`."""
    pages: list[bytes] = []
    start = 0
    while True:
        body, stop = _fill(len(pages) + 1, start, total, render, budget)
        pages.append(body)
        if stop >= total:
            return pages
        start = stop


def _fill(part: int, start: int, total: int, render: Layout, budget: int) -> tuple[bytes, int]:
    """The page starting at message `start` with as many messages as fit: (HTML, stop)."""

    def measured(stop: int) -> tuple[bytes, bool]:
        body = render(part, Shown(start, stop, total))
        return body, len(gzipped(body)) <= budget

    body, fits = measured(total)  # the common case: everything left fits
    if fits or total - start <= 1:
        return body, total
    best, best_stop = measured(start + 1)[0], start + 1  # at least one message, even over budget
    low, high = start + 2, total - 1  # the largest stop that fits lies in [low, high]
    while low <= high:
        middle = (low + high) // 2
        body, fits = measured(middle)
        if fits:
            best, best_stop, low = body, middle, middle + 1
        else:
            high = middle - 1
    return best, best_stop
