"""Whom to look at first: the ONE ordering of open alerts, and the filters of the triage list.

The page, the JSON API and the live streams all use :func:`triage_key`: open episodes are
ordered by level (high, elevated, watch), then by score, then by recency (the date of the
current alert; exact ties by episode key). The key is also a plain string
(:func:`triage_token`) that sorts the same way, so a browser or an SSE client that inserts
cards as they arrive keeps the same order by comparing strings (descending).

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from phenotyping.errors import InputError
from phenotyping.feed.store import Episode

LEVEL_RANK = {"watch": 1, "elevated": 2, "high": 3}
DOMAINS = ("activity", "sleep", "hrv", "circadian")


def triage_key(ep: Episode) -> tuple[int, float, str, str]:
    """``(level rank, score, date of the current alert, episode key)``: larger = look
    first. The episode key only breaks exact ties, so that the order is total and stable
    (acknowledging an alert never moves it)."""
    cur = ep.current
    # the score at the token's precision (four decimals), so that key and token agree
    score = float(f"{cur.alert.score:.4f}")
    return (LEVEL_RANK[cur.alert.level], score, cur.alert.date.isoformat(), ep.key)


def triage_token(ep: Episode) -> str:
    """:func:`triage_key` as a string that sorts the same way (fixed widths: the score is
    0-1 with four decimals), e.g. ``3|0.4500|2024-03-01|s-1_2024-02-20``.
    """
    rank, score, date, key = triage_key(ep)
    return f"{rank}|{score:.4f}|{date}|{key}"


def recency_token(ep: Episode) -> str:
    """The order of resolved episodes: newest change first."""
    date, seq = ep.sort_key()
    return f"{date}|{seq:012d}"


def triage_order(episodes: Iterable[Episode]) -> list[Episode]:
    """Open episodes, the one to look at first first (the order of every view)."""
    return sorted((ep for ep in episodes if ep.resolved is None), key=triage_token, reverse=True)


def _flag(query: Mapping[str, str], name: str) -> bool | None:
    raw = query.get(name, "").strip().lower()
    if raw in ("", "any"):
        return None
    if raw in ("yes", "true", "1"):
        return True
    if raw in ("no", "false", "0"):
        return False
    raise InputError(f"{name}: yes, no or any (got {raw[:20]!r})")


@dataclass(frozen=True)
class Filters:
    """Which open alerts to list: levels and domains (any of them), whether the alert came
    after a treatment response, whether it is acknowledged. ``None``: no restriction."""

    levels: frozenset[str] | None = None
    domains: frozenset[str] | None = None
    after_response: bool | None = None
    acknowledged: bool | None = None

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> Filters:
        """From query parameters ``level=high,elevated&domain=sleep&after_response=no&
        acknowledged=no`` (empty or ``any``: no restriction).

        Examples
        --------
        >>> Filters.parse({"level": "high,elevated", "acknowledged": "no"}).levels == {
        ...     "high", "elevated"}
        True
        >>> Filters.parse({"level": "severe"})
        Traceback (most recent call last):
        ...
        phenotyping.errors.InputError: level: 'severe' is not one of watch, elevated, high
        """

        def choice(name: str, allowed: tuple[str, ...]) -> frozenset[str] | None:
            raw = query.get(name, "").strip().lower()
            if raw in ("", "any"):
                return None
            got = frozenset(x.strip() for x in raw.split(",") if x.strip())
            for x in sorted(got):
                if x not in allowed:
                    raise InputError(f"{name}: {x[:20]!r} is not one of {', '.join(allowed)}")
            return got or None

        return cls(
            levels=choice("level", tuple(LEVEL_RANK)),
            domains=choice("domain", DOMAINS),
            after_response=_flag(query, "after_response"),
            acknowledged=_flag(query, "acknowledged"),
        )

    def match(self, ep: Episode) -> bool:
        a = ep.current.alert
        if self.levels is not None and a.level not in self.levels:
            return False
        if self.domains is not None and not self.domains.intersection(a.domains):
            return False
        if self.after_response is not None and a.after_response != self.after_response:
            return False
        return self.acknowledged is None or bool(ep.current.acks) == self.acknowledged

    @property
    def active(self) -> bool:
        return self != Filters()

    def query(self) -> dict[str, str]:
        """Back to query parameters (only the restricting ones)."""
        out: dict[str, str] = {}
        if self.levels is not None:
            out["level"] = ",".join(x for x in LEVEL_RANK if x in self.levels)
        if self.domains is not None:
            out["domain"] = ",".join(x for x in DOMAINS if x in self.domains)
        for name in ("after_response", "acknowledged"):
            v = getattr(self, name)
            if v is not None:
                out[name] = "yes" if v else "no"
        return out
