"""Property-based tests of the feed's HTTP surface (issue 11, item 6).

Every route of the app (enumerated from its router, so a new route is fuzzed without touching
this file) gets generated requests: path parameters (ids of the caller's patients, another
clinician's patients, ids nobody has, arbitrary percent-encoded text), query strings, headers,
cookies, form, JSON and raw bodies, signed in as clinician A or B (bearer token or session with
or without its CSRF token), with a wrong token, a forged cookie or nothing. The app runs in
process (``aiohttp.test_utils``) with the production access logger. Pass:

* never a 5xx;
* never a response that reveals another clinician's patient: a request whose path names a
  patient (or alert) of someone else gets exactly the answer (status, content type, body with
  the id swapped) of the same request naming an id that does not exist; and no response to
  anyone but B ever holds text of B's alerts (and the other way round);
* never a log line (ours, or the access log) with a raw newline or carriage return.

Why hypothesis and not schemathesis: schemathesis generates requests from an OpenAPI schema;
the feed has none (its routes are plain aiohttp handlers), and writing one only for the fuzzer
would test the schema we wrote rather than the routes. Fixed budget: ``max_examples`` per
route, ``deadline=None``, derandomized.
"""

from __future__ import annotations

import asyncio
import logging
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from feed_helpers import alert_record, feature_record, make_alert
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_feed_web import NOW, ROSTER, TOK_A, TOK_B
from yarl import URL

from phenotyping.feed.auth import new_token
from phenotyping.feed.bus import MemoryBus
from phenotyping.feed.settings import FeedSettings
from phenotyping.feed.store import FeedStore, Incoming
from phenotyping.feed.web import COOKIE, AccessLogger, FeedService, build_app
from phenotyping.risk.monitor import MONITORED

EXAMPLES_PER_ROUTE = 20
BUDGET = settings(
    max_examples=EXAMPLES_PER_ROUTE,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# dr-a sees s-1 and s-2, dr-b sees s-3 (test_feed_web.ROSTER); s-9 exists nowhere
SECRET_A = "Alpha-secret: activity fell on the ward"
SECRET_B = "Bravo-secret: sleep moved after the funeral"
ALERT_A = make_alert("s-1", "opened", "2024-03-04", explanation=SECRET_A)
ALERT_B = make_alert("s-3", "opened", "2024-03-04", explanation=SECRET_B)
ALERT_B2 = make_alert("s-3", "escalated", "2024-03-06", "2024-02-28", "high", explanation=SECRET_B)
#: per subject and alert: an id of the same shape that nobody has
MISSING = {"s-1": "s-9", "s-3": "s-9"}
#: markers a generated request uses where the "other clinician's id" goes
SUBJ, ALRT = "\ue000S\ue000", "\ue000A\ue000"


def _records() -> list[Incoming]:
    rows = []
    for subject in ("s-1", "s-2", "s-3"):
        for day in range(1, 8):
            row: dict[str, Any] = {"subject_id": subject, "date": f"2024-03-0{day}", "valid": True}
            for i, spec in enumerate(MONITORED):
                row[spec.column] = 100.0 + i + day
                row[f"base_{spec.column}"] = 100.0 + i
                row[f"scale_{spec.column}"] = 10.0
            rows.append(feature_record(row))
    return rows + [alert_record(a) for a in (ALERT_A, ALERT_B, ALERT_B2)]


def _settings() -> FeedSettings:
    # throttles out of the way: a fuzzed wrong token must not change the answer to the next
    # request (the throttles have their own tests in test_feed_hardening.py)
    return FeedSettings(
        session_secret="s" * 32,
        heartbeat_s=0.2,
        login_failures_per_source=10**9,
        login_failures_overall=10**9,
        logins_per_account=10**9,
    )


def _routes() -> list[tuple[str, str]]:
    service = FeedService(FeedStore(), MemoryBus(), lambda: ROSTER, _settings(), clock=lambda: NOW)
    out = set()
    for route in build_app(service).router.routes():
        info = route.resource.canonical if route.resource is not None else None
        if info is not None:
            out.add((route.method, info))
    return sorted(out)


ROUTES = _routes()


# --------------------------------------------------------------------------- requests
text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
#: form field names: the client itself refuses control characters there
name_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20)
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
QUERY_KEYS = [
    "since",
    "limit",
    "days",
    "sort",
    "reverse",
    "level",
    "domain",
    "after_response",
    "acknowledged",
    "end",
    "columns",
    "format",
    "csrf",
    "token",
]
FORM_KEYS = ["csrf", "token", "reason", "until", "note", "alert_kind", "via"]
junk = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats() | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
small_values = (
    st.sampled_from(
        [
            "",
            "0",
            "1",
            "-1",
            "yes",
            "no",
            "any",
            "high,elevated",
            "sleep",
            "99999999999999999999",
            "2024-03-04",
            "9999-12-31",
            "nan",
            "1e308",
            "\n",
            "s-1",
            "s-3",
            "contacted_fine",
        ]
    )
    | text
)


@dataclass(frozen=True)
class Req:
    """A generated request; ``SUBJ``/``ALRT`` in the path stand for an id rendered later."""

    method: str
    path: str
    auth: str  # anon, bearer-a|b|bad, session-a, session-a|b-csrf, cookie-bad
    query: tuple[tuple[str, str], ...]
    headers: tuple[tuple[str, str], ...]
    body: tuple[str, Any]

    @property
    def twin(self) -> bool:
        return SUBJ in self.path or ALRT in self.path


def _quote(value: str) -> str:
    return urllib.parse.quote(value, safe="")


@st.composite
def path_for(draw: st.DrawFn, template: str) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "subject_id":
            pool = ["s-1", "s-2", SUBJ, SUBJ, "s-9"]
        else:
            pool = [ALERT_A["alert_id"], ALRT, ALRT, "s-9-2024-02-28-opened-2024-03-04"]
        choice = draw(st.sampled_from([*pool, "random"]))
        return _quote(draw(text)) or "x" if choice == "random" else choice

    return re.sub(r"\{(\w+)\}", fill, template)


@st.composite
def requests(draw: st.DrawFn, method: str, template: str) -> Req:
    query = draw(st.lists(st.tuples(st.sampled_from(QUERY_KEYS) | text, small_values), max_size=4))
    headers = draw(
        st.lists(
            st.tuples(
                st.sampled_from(
                    [
                        "Accept",
                        "Last-Event-ID",
                        "X-CSRF-Token",
                        "Origin",
                        "X-Forwarded-For",
                        "If-None-Match",
                        "Range",
                        "Accept-Language",
                        "Cookie",
                    ]
                ),
                header_text,
            ),
            max_size=3,
            unique_by=lambda t: t[0],
        )
    )
    body_kind = draw(st.sampled_from(["none", "form", "json", "raw"]))
    body: Any = None
    if body_kind == "form":
        body = draw(
            st.dictionaries(st.sampled_from(FORM_KEYS) | name_text, small_values, max_size=4)
        )
    elif body_kind == "json":
        body = draw(
            junk
            | st.fixed_dictionaries(
                {},
                optional={
                    "reason": small_values,
                    "until": small_values,
                    "note": small_values,
                },
            )
        )
    elif body_kind == "raw":
        body = (
            draw(
                st.sampled_from(
                    [
                        "application/json",
                        "text/plain",
                        "application/x-www-form-urlencoded",
                        "multipart/form-data; boundary=x",
                    ]
                )
            ),
            draw(st.binary(max_size=200)),
        )
    return Req(
        method=method,
        path=draw(path_for(template)),
        auth=draw(
            st.sampled_from(
                [
                    "anon",
                    "bearer-a",
                    "bearer-b",
                    "bearer-bad",
                    "session-a",
                    "session-a-csrf",
                    "session-b-csrf",
                    "cookie-bad",
                ]
            )
        ),
        query=tuple(query),
        headers=tuple(headers),
        body=(body_kind, body),
    )


# --------------------------------------------------------------------------- the app
@dataclass
class Harness:
    loop: asyncio.AbstractEventLoop
    client: TestClient
    service: FeedService
    sessions: dict[str, tuple[str, str]] = field(default_factory=dict)  # who -> cookie, csrf

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    async def session(self, who: str) -> tuple[str, str]:
        """A live session of ``who`` (signing in again if a fuzzed /logout ended it)."""
        now = int(NOW.timestamp())
        have = self.sessions.get(who)
        if have is not None and self.service.session(have[0], now) is not None:
            return have
        self.client.session.cookie_jar.clear()
        token = TOK_A if who == "a" else TOK_B
        r = await self.client.post("/login", data={"token": token}, allow_redirects=False)
        assert r.status == 303, r.status
        cookie = r.cookies[COOKIE].value
        self.client.session.cookie_jar.clear()
        page = await (
            await self.client.get("/alerts", headers={"Cookie": f"{COOKIE}={cookie}"})
        ).text()
        match = re.search(r'data-csrf="([^"]+)"', page)
        assert match is not None
        self.sessions[who] = (cookie, match.group(1))
        return self.sessions[who]

    async def send(self, req: Req, subject: str, alert_id: str) -> tuple[int, str, bytes]:
        path = req.path.replace(SUBJ, subject).replace(ALRT, alert_id)
        headers = dict(req.headers)
        cookies = [headers.pop("Cookie")] if "Cookie" in headers else []
        if req.auth.startswith("bearer"):
            tok = {"bearer-a": TOK_A, "bearer-b": TOK_B}.get(req.auth, new_token())
            headers["Authorization"] = f"Bearer {tok}"
        elif req.auth.startswith("session"):
            cookie, csrf = await self.session(req.auth.split("-")[1])
            cookies.append(f"{COOKIE}={cookie}")
            if req.auth.endswith("csrf"):
                headers["X-CSRF-Token"] = csrf
        elif req.auth == "cookie-bad":
            cookies.append(f"{COOKIE}=v1.e30.AAAA")
        if cookies:
            headers["Cookie"] = "; ".join(cookies)
        kind, body = req.body
        kwargs: dict[str, Any] = {}
        if kind == "form":
            kwargs["data"] = body
        elif kind == "json":
            kwargs["json"] = body
        elif kind == "raw":
            headers["Content-Type"], kwargs["data"] = body
        self.client.session.cookie_jar.clear()
        url = URL(path, encoded=True)
        if req.query:
            url = url.with_query(list(req.query))
        resp = await self.client.request(
            req.method, url, headers=headers, allow_redirects=False, **kwargs
        )
        ctype = resp.headers.get("Content-Type", "")
        try:
            if ctype.startswith("text/event-stream"):
                # a live stream never ends: its first chunk (the snapshot or a heartbeat)
                try:
                    data = await asyncio.wait_for(resp.content.read(65536), 2.0)
                except TimeoutError:
                    data = b""
            else:
                data = await resp.read()
        finally:
            resp.close()
        return resp.status, ctype, data


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    loop = asyncio.new_event_loop()
    service = FeedService(
        FeedStore(), MemoryBus(_records()), lambda: ROSTER, _settings(), clock=lambda: NOW
    )

    async def start() -> TestClient:
        server = TestServer(build_app(service))
        await server.start_server(access_log_class=AccessLogger)  # the production access log
        client = TestClient(server)
        await client.start_server()
        while service.store.seq == 0:  # the pump has taken the first batch
            await asyncio.sleep(0.01)
        return client

    client = loop.run_until_complete(asyncio.wait_for(start(), 10))
    try:
        yield Harness(loop, client, service)
    finally:
        loop.run_until_complete(client.close())
        loop.close()


_NONCE = re.compile(rb"[A-Za-z0-9_\-+/=]{22,}")


def _normal(body: bytes, ids: tuple[str, str]) -> bytes:
    """The body with the rendered ids (also percent-encoded or escaped) replaced by markers,
    and long random tokens (CSP nonces, CSRF tokens) masked."""
    for value, mark in zip(ids, (b"<SUBJECT>", b"<ALERT>"), strict=True):
        for form in {value, _quote(value), value.replace("-", "\\u002d")}:
            body = body.replace(form.encode(), mark)
    return _NONCE.sub(b"<TOKEN>", body)


def _check_logs(records: list[logging.LogRecord]) -> None:
    for rec in records:
        msg = rec.getMessage()
        assert "\n" not in msg and "\r" not in msg, f"{rec.name}: {msg!r}"
        assert SECRET_A not in msg and SECRET_B not in msg, "health data in a log line"
        if rec.name.startswith("aiohttp") and rec.levelno >= logging.ERROR:
            raise AssertionError(f"{rec.name}: {msg}")  # an unhandled exception in a handler


@pytest.mark.parametrize(("method", "template"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_every_route_survives_generated_requests_and_reveals_nothing(
    harness: Harness, method: str, template: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    @BUDGET
    @given(req=requests(method, template))
    def one(req: Req) -> None:
        caplog.clear()
        # whose patients the caller must not learn about
        other = "s-1" if req.auth in ("bearer-b", "session-b-csrf") else "s-3"
        other_alert = ALERT_A["alert_id"] if other == "s-1" else ALERT_B["alert_id"]
        missing_alert = other_alert.replace(other, MISSING[other], 1)
        status, ctype, body = harness.run(harness.send(req, other, other_alert))
        assert status < 500, (status, body[:300])
        forbidden = SECRET_B if other == "s-3" else SECRET_A
        assert forbidden.encode() not in body, "another clinician's alert in the response"
        if req.twin:
            st2, ct2, body2 = harness.run(harness.send(req, MISSING[other], missing_alert))
            assert st2 < 500, (st2, body2[:300])
            assert (status, ctype) == (st2, ct2), "existence of someone else's id shows"
            if not ctype.startswith("text/event-stream"):
                assert _normal(body, (other, other_alert)) == _normal(
                    body2, (MISSING[other], missing_alert)
                ), "existence of someone else's id shows in the body"
        _check_logs(caplog.records)

    one()


@BUDGET
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]),
    path=st.lists(text, min_size=1, max_size=4),
    auth=st.sampled_from(["anon", "bearer-a"]),
)
def test_any_path_and_method_is_answered_without_a_server_error(
    harness: Harness, method: str, path: list[str], auth: str
) -> None:
    req = Req(method, "/" + "/".join(_quote(p) for p in path), auth, (), (), ("none", None))
    status, _ctype, body = harness.run(harness.send(req, "s-3", ALERT_B["alert_id"]))
    assert status < 500
    assert SECRET_B.encode() not in body


def test_the_fuzzer_reaches_every_route() -> None:
    """The enumeration is not empty and covers the routes the tests name elsewhere (a guard
    against a router refactor that would leave the fuzzer with nothing to do)."""
    paths = {p for _, p in ROUTES}
    assert {
        "/api/alerts",
        "/api/alerts/{alert_id}/ack",
        "/api/subjects/{subject_id}/features",
        "/patients/{subject_id}",
        "/login",
        "/logout",
    } <= paths
