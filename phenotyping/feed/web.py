"""The clinician feed's web shell (aiohttp): routes, access control, live streams.

Routes (all but the first four need a bearer token or a session)::

    GET  /healthz                        liveness and readiness (no data)
    GET  /static/feed.css, feed.js       the page's stylesheet and script (no data)
    GET  /login, POST /login             sign in with an access token -> session cookie
    POST /logout                         end the session (CSRF token)
    GET  /alerts?level=&domain=&...      the page: open alerts in triage order, resolved ones
    GET  /alerts/stream                  Server-Sent Events: re-rendered cards (the page's)
    POST /alerts/{alert_id}/ack          acknowledge from the page without JavaScript
    GET  /api/me                         who you are, which subject ids you may see
    GET  /api/alerts?since=S&limit=N     alert messages changed after S (JSON paging)
    GET  /api/stream?since=S             Server-Sent Events: the same entries, live
    POST /api/alerts/{alert_id}/ack      acknowledge (JSON)
    GET  /api/subjects/{subject_id}/features?days=N   the chart's data
    GET  /api/triage?level=&domain=&after_response=&acknowledged=   open alerts, triage order
    GET  /patients?sort=&reverse=        the caseload: every patient on the roster
    GET  /patients/stream                Server-Sent Events: re-rendered caseload rows
    GET  /patients/{subject_id}          one patient: charts, alert history, acks
    GET  /api/alerts/{alert_id}/fhir     the alert as FHIR R4 (RiskAssessment, PHQ-9 Observation)
    GET  /api/caseload?sort=&reverse=    the caseload (JSON)
    GET  /api/patients/{subject_id}      one patient (JSON)

A request for a subject that is not on the caller's roster is answered 403; an alert id of
such a subject is answered 404 exactly as an id that does not exist (no existence oracle).
Both are logged with the clinician id, the pseudonymous subject id and the route
template -- never alert contents, feature values or the query string; a request-supplied
value that is not a plain id is escaped (:func:`clean`), so it cannot forge a log line.

Sessions are signed cookies that every feed process sharing the session secret honours
(two replicas behind a load balancer need no sticky sessions); signing out publishes the
session's end, which every replica reads into its store and refuses from then on (the
replica signed out on at once, the others as soon as they read the record, within about a
second); a live stream of a signed-out session ends. Without a configured secret the key
is random per process and sessions are that process's only. Failed sign-ins (and unknown
bearer tokens) are throttled per source address and overall, and sessions opened per
clinician too (429 with ``Retry-After``), counted per feed process. No URL carries more
than a pseudonymous subject id or an alert id; tokens are accepted only in the
``Authorization`` header or the login form, never in a URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.typedefs import Handler

from phenotyping.errors import AckError, InputError, RosterError
from phenotyping.feed import assets, render
from phenotyping.feed.auth import (
    Clinician,
    Roster,
    Throttle,
    check_csrf,
    csrf_token,
    make_session,
    read_session,
    session_claims,
)
from phenotyping.feed.bus import FeedBus
from phenotyping.feed.caseload import SORTS, case_row, caseload
from phenotyping.feed.fhir import alert_bundle
from phenotyping.feed.models import MAX_NOTE, REASONS, Ack, SessionEnd, feedback_event
from phenotyping.feed.settings import FeedSettings
from phenotyping.feed.store import AlertEntry, Episode, FeedStore
from phenotyping.feed.triage import Filters, triage_order, triage_token

log = logging.getLogger("phenotyping.feed")

COOKIE = "phenotyping_feed_session"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
MAX_PAGE = 500
#: the latest "until" an acknowledgement may give, after the alert's date
MAX_UNTIL = dt.timedelta(days=90)
_TOO_MANY = "too many failed attempts"
_SAFE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def clean(value: object) -> str:
    r"""A request-supplied value as it may appear in a log line: an id as it is, anything
    else escaped and cut (``repr``), so no input can start a forged line.

    Examples
    --------
    >>> clean("s-1"), clean("s-1\n2026 INFO forged")
    ('s-1', "'s-1\\n2026 INFO forged'")
    """
    text = str(value)
    return text if _SAFE.match(text) else ascii(text[:80])


_PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/static/feed.css"),
    ("GET", "/static/feed.js"),
}


class RosterFile:
    """The roster, re-read when its file changes (size or modification time).

    A roster that no longer validates is not taken: the previous one stays in force and
    the error is logged (rosters hold ids and hashes only).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._error: str | None = None
        self._roster = self._load()

    def _load(self) -> Roster:
        st = os.stat(self.path)
        roster = Roster.load(self.path)
        self._stamp = (st.st_mtime_ns, st.st_size)
        return roster

    def __call__(self) -> Roster:
        try:
            st = os.stat(self.path)
            if (st.st_mtime_ns, st.st_size) != self._stamp:
                self._roster = self._load()
                self._error = None
                log.info("roster re-read: %d clinician(s)", len(self._roster.clinicians))
        except (OSError, RosterError) as exc:
            if str(exc) != self._error:  # once per distinct problem, not once per request
                log.error("roster not re-read, the previous one stays in force: %s", exc)
            self._error = str(exc)
            self._stamp = None
        return self._roster


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    clinician: Clinician
    via: Literal["bearer", "session"]
    cookie: str | None = None

    def may_see(self, subject_id: str) -> bool:
        return self.clinician.may_see(subject_id)


class FeedService:
    """The store, the bus, the roster and the clock; pumps the bus into the store and
    wakes the live streams when something changed."""

    def __init__(
        self,
        store: FeedStore,
        bus: FeedBus,
        roster: Callable[[], Roster],
        settings: FeedSettings,
        *,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        on_failure: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.store, self.bus, self.roster, self.settings = store, bus, roster, settings
        self.clock = clock
        self.on_failure = on_failure
        if settings.session_secret is not None:
            secret = settings.session_secret.get_secret_value()
            if len(secret) < 32:
                raise RosterError("feed session_secret: at least 32 characters are required")
            self.secret = secret.encode("utf-8")
        else:
            self.secret = secrets.token_bytes(32)
        self.instance = secrets.token_hex(8)
        window = float(settings.login_window_s)
        self.fail_source = Throttle(settings.login_failures_per_source, window)
        self.fail_overall = Throttle(settings.login_failures_overall, window)
        self.per_account = Throttle(settings.logins_per_account, window)
        self.closing = False
        self.failed: BaseException | None = None
        self._cond: asyncio.Condition | None = None
        self._pump: asyncio.Task[None] | None = None

    @property
    def cond(self) -> asyncio.Condition:
        if self._cond is None:
            self._cond = asyncio.Condition()
        return self._cond

    async def start(self) -> None:
        if self.settings.session_secret is None:
            log.warning(
                "no session secret set (PHENOTYPING_FEED__SESSION_SECRET): sessions end when "
                "the feed restarts and cannot be shared between replicas"
            )
        await self.bus.start()
        self._pump = asyncio.create_task(self._run_pump(), name="feed-pump")

    async def _run_pump(self) -> None:
        try:
            async for batch in self.bus.batches():
                if self.store.ingest(batch):
                    await self.notify()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the feed cannot go on without its topics
            self.failed = exc
            log.error("reading the topics failed: %s", exc.__class__.__name__)
            await self.notify()
            if self.on_failure is not None:
                self.on_failure(exc)

    async def notify(self) -> None:
        async with self.cond:
            self.cond.notify_all()

    async def wait_for_change(self, after: int, timeout: float) -> bool:
        """Wait until the store has changed after ``after``, or ``timeout`` seconds."""
        async with self.cond:
            try:
                await asyncio.wait_for(
                    self.cond.wait_for(lambda: self.store.seq > after or self.closing), timeout
                )
            except TimeoutError:
                return False
        return self.store.seq > after

    async def close(self) -> None:
        """Wake every live stream so that it ends (server shutdown)."""
        self.closing = True
        await self.notify()

    async def stop(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        await self.bus.stop()

    def session(self, cookie: str | None, now_s: int) -> Clinician | None:
        """The clinician of a session cookie that is signed, unexpired, allowed by the
        roster and not signed out (on any feed process)."""
        if not cookie:
            return None
        clinician = read_session(self.secret, cookie, self.roster(), now_s)
        claims = session_claims(cookie) if clinician is not None else None
        if claims is None or self.store.session_ended(claims[1], claims[0], claims[2]):
            return None
        return clinician

    async def end_session(self, cookie: str) -> None:
        """Sign a session out: refused here at once, and by the other feed processes once
        they read the published record."""
        claims = session_claims(cookie)
        if claims is None:
            return
        who, nonce, exp = claims
        end = SessionEnd(session=nonce, clinician_id=who, exp=exp, at=self.clock())
        self.store.end_session(end)
        try:
            await self.bus.publish_session_end(end)
        except AckError as exc:
            log.error(
                "sign-out NOT published (other feed processes still accept the session until "
                "it expires): clinician %s: %s",
                who,
                exc,
            )

    def names(self) -> dict[str, str]:
        return {c.id: c.name for c in self.roster().clinicians.values()}

    async def acknowledge(
        self, entry: AlertEntry, clinician: Clinician, via: str, form: AckForm | None = None
    ) -> Ack:
        """Record an acknowledgement (or return the caller's earlier one of this alert), then
        tell the risk engine its reason (a feedback clinical event, never the note)."""
        for ack in entry.acks:
            if ack.clinician_id == clinician.id:
                return ack
        form = form or AckForm()
        ack = Ack.of(
            entry.alert,
            clinician.id,
            self.clock(),
            "web" if via == "web" else "api",
            reason=form.reason,
            until=form.until,
            note=form.note,
        )
        await self.bus.publish_ack(ack)
        self.store.add_ack(ack)
        await self.notify()
        log.info(
            "acknowledgement recorded: clinician %s, alert %s, reason %s",
            clinician.id,
            clean(ack.alert_id),
            ack.reason or "-",
        )
        try:
            zone = self.store.context(ack.subject_id).get("tz_offset_min")
            event = feedback_event(ack, zone)
            if event is not None:
                await self.bus.publish_feedback(event)
        except Exception as exc:  # the ack stands; the engine did not hear the reason
            log.error(
                "feedback NOT published for alert %s: %s",
                clean(ack.alert_id),
                exc.__class__.__name__,
            )
        return ack


@dataclass(frozen=True)
class AckForm:
    """What a clinician says when acknowledging: a reason code, optionally until when it
    applies, and a free-text note (never logged)."""

    reason: str | None = None
    until: dt.date | None = None
    note: str | None = None

    @classmethod
    def parse(cls, data: Mapping[str, object]) -> AckForm:
        """From a form or a JSON body; raises :class:`InputError` naming the field."""
        reason, until, note = data.get("reason"), data.get("until"), data.get("note")
        if reason in (None, ""):
            reason = None
        elif not isinstance(reason, str) or reason not in REASONS:
            raise InputError(f"reason: one of {', '.join(REASONS)}")
        day: dt.date | None = None
        if until not in (None, ""):
            try:
                day = dt.date.fromisoformat(str(until))
            except ValueError:
                raise InputError("until: a date YYYY-MM-DD") from None
        if note in (None, ""):
            note = None
        elif not isinstance(note, str) or len(note) > MAX_NOTE:
            raise InputError(f"note: text of at most {MAX_NOTE} characters")
        return cls(reason, day, note)


SERVICE = web.AppKey("service", FeedService)
PRINCIPAL = web.RequestKey("principal", Principal)


def _service(request: web.Request) -> FeedService:
    return request.app[SERVICE]


def _principal(request: web.Request) -> Principal:
    try:
        return request[PRINCIPAL]
    except KeyError:  # pragma: no cover - the middleware guarantees it
        raise web.HTTPUnauthorized() from None


# --------------------------------------------------------------------------- access control
def _unauthorized(request: web.Request, reason: str) -> web.StreamResponse:
    if (
        request.method == "GET"
        and not request.path.startswith("/api/")
        and not (request.path.endswith("/stream"))
    ):
        raise web.HTTPSeeOther("/login")
    return web.json_response(
        {"error": "unauthorized", "detail": reason},
        status=401,
        headers={"WWW-Authenticate": 'Bearer realm="phenotyping-feed"'},
    )


def _authenticate(request: web.Request, service: FeedService) -> Principal | str:
    roster = service.roster()
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return "the Authorization header must be 'Bearer <token>'"
        source, now = _source(request), service.clock().timestamp()
        if service.fail_source.blocked(source, now):
            return f"{_TOO_MANY} from this address: try again later"
        found = roster.by_token(token.strip())
        if found is None:
            service.fail_source.fail(source, now)
            log.warning("refused: unknown bearer token (%s %s)", request.method, _route(request))
            return "unknown token"
        return Principal(found[0], "bearer")
    cookie = request.cookies.get(COOKIE)
    if cookie:
        clinician = service.session(cookie, int(service.clock().timestamp()))
        if clinician is not None:
            return Principal(clinician, "session", cookie)
        return "session expired or no longer valid: sign in again"
    return "sign in, or send 'Authorization: Bearer <token>'"


def _source(request: web.Request) -> str:
    """The throttle key of the caller's address (the proxy's, behind a reverse proxy)."""
    return f"source:{request.remote or '-'}"


def _route(request: web.Request) -> str:
    """The route template (``/api/subjects/{subject_id}/features``), never the real URL."""
    info = request.match_info
    resource = info.route.resource if info is not None else None
    return resource.canonical if resource is not None else "(no route)"


@web.middleware
async def _auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    if (request.method, request.path) in _PUBLIC:
        return await handler(request)
    result = _authenticate(request, _service(request))
    if isinstance(result, str):
        if result.startswith(_TOO_MANY):
            return web.json_response(
                {"error": "too many requests", "detail": result},
                status=429,
                headers={"Retry-After": str(_service(request).settings.login_window_s)},
            )
        return _unauthorized(request, result)
    request[PRINCIPAL] = result
    if request.method == "POST" and result.via == "session":
        presented = request.headers.get("X-CSRF-Token")
        if presented is None and request.content_type == "application/x-www-form-urlencoded":
            form = await _form(request)
            value = form.get("csrf")
            presented = value if isinstance(value, str) else None
        assert result.cookie is not None
        if not check_csrf(_service(request).secret, result.cookie, presented):
            log.warning(
                "refused: clinician %s, missing or wrong CSRF token (%s %s)",
                result.clinician.id,
                request.method,
                _route(request),
            )
            return web.json_response({"error": "forbidden", "detail": "CSRF token"}, status=403)
    return await handler(request)


async def _form(request: web.Request) -> Mapping[str, Any]:
    """The request's form fields; a body that is no valid form (a broken multipart body, a
    bad encoding) is a 400, never an unhandled error."""
    try:
        return await request.post()
    except ValueError:  # aiohttp's multipart and urlencoded parsers (UnicodeDecodeError too)
        raise _bad("body: not a valid form") from None


def _refuse(request: web.Request, subject_id: str) -> web.HTTPForbidden:
    p = _principal(request)
    log.warning(
        "refused: clinician %s asked for subject %s, not on their roster (%s %s)",
        p.clinician.id,
        clean(subject_id),
        request.method,
        _route(request),
    )
    return web.HTTPForbidden(
        text=orjson.dumps(
            {"error": "forbidden", "detail": "this subject is not on your roster"}
        ).decode(),
        content_type="application/json",
    )


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    h = response.headers
    h.setdefault("Content-Security-Policy", CSP)
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "no-referrer")
    h.setdefault("X-Frame-Options", "DENY")
    if request.path.startswith("/static/"):
        h.setdefault("Cache-Control", "public, max-age=300")
    else:
        h["Cache-Control"] = "no-store"


class AccessLogger(AbstractAccessLogger):
    """One line per request: method, route template, status, clinician id, duration.

    No query strings, no real paths (they could carry a subject id into a log that is kept
    longer than the audit trail), no user agents.
    """

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        principal = request.get(PRINCIPAL)
        who = principal.clinician.id if principal is not None else "-"
        route = _route(request) if isinstance(request, web.Request) else "(no route)"
        self.logger.info(
            "%s %s %s %s %.1fms", request.method, route, response.status, who, time * 1000
        )


# --------------------------------------------------------------------------- views
def _card_message(
    service: FeedService, ep: Episode, csrf: str, names: dict[str, str]
) -> dict[str, Any]:
    store, st = service.store, service.settings
    series = []
    if ep.resolved is None:
        series = store.series(ep.subject_id, render.chart_columns(ep.current.alert), st.chart_days)
    html = render.card(
        ep,
        series,
        names=names,
        csrf=csrf,
        latest_data=store.latest_day(ep.subject_id),
        context=store.context(ep.subject_id),
    )
    return {
        "id": f"ep-{ep.key}",
        "section": "open" if ep.resolved is None else "resolved",
        "html": html,
    }


def _csrf(request: web.Request) -> str:
    p = _principal(request)
    return csrf_token(_service(request).secret, p.cookie) if p.cookie else ""


def _filters(request: web.Request) -> Filters:
    try:
        return Filters.parse(request.query)
    except InputError as exc:
        raise _bad(str(exc)) from None


async def alerts_page(request: web.Request) -> web.StreamResponse:
    service, p = _service(request), _principal(request)
    store, names, csrf = service.store, service.names(), _csrf(request)
    filters = _filters(request)
    episodes = store.episodes(p.may_see)
    open_eps = [ep for ep in triage_order(episodes) if filters.match(ep)]
    closed = [ep for ep in episodes if ep.resolved is not None][: service.settings.resolved_shown]
    html = render.page(
        clinician=p.clinician.name,
        n_subjects=len(p.clinician.subjects),
        open_cards=[_card_message(service, ep, csrf, names)["html"] for ep in open_eps],
        resolved_cards=[_card_message(service, ep, csrf, names)["html"] for ep in closed],
        csrf=csrf,
        seq=store.seq,
        resolved_shown=service.settings.resolved_shown,
        filters=filters,
    )
    return web.Response(text=html, content_type="text/html")


def _triage_item(ep: Episode) -> dict[str, Any]:
    """One open episode in the JSON triage list (and its position key)."""
    cur = ep.current
    return {
        "episode": ep.key,
        "subject_id": ep.subject_id,
        "triage": triage_token(ep),
        "level": cur.alert.level,
        "score": cur.alert.score,
        "date": cur.alert.date.isoformat(),
        "acknowledged": bool(cur.acks),
        "current": cur.to_json(),
    }


def _sort(request: web.Request) -> tuple[str, bool]:
    sort = request.query.get("sort", "attention")
    if sort not in SORTS:
        raise _bad(f"sort: one of {', '.join(SORTS)}")
    return sort, request.query.get("reverse", "") in ("1", "yes", "true")


def _roster_subjects(p: Principal) -> list[str]:
    return sorted(p.clinician.subjects)


async def caseload_view(request: web.Request) -> web.StreamResponse:
    service, p = _service(request), _principal(request)
    sort, reverse = _sort(request)
    rows = caseload(service.store, _roster_subjects(p), sort, reverse)
    html = render.caseload_page(
        clinician=p.clinician.name,
        rows=rows,
        csrf=_csrf(request),
        seq=service.store.seq,
        sort=sort,
        reverse=reverse,
    )
    return web.Response(text=html, content_type="text/html")


async def api_caseload(request: web.Request) -> web.StreamResponse:
    """Every patient on the caller's roster (the caseload page's rows, its sort)."""
    service, p = _service(request), _principal(request)
    sort, reverse = _sort(request)
    rows = caseload(service.store, _roster_subjects(p), sort, reverse)
    return web.json_response(
        {
            "items": [r.to_json() for r in rows],
            "as_of": rows[0].to_json()["as_of"] if rows else None,
            "sort": sort,
            "reverse": reverse,
            "seq": service.store.seq,
        },
        dumps=lambda d: orjson.dumps(d).decode(),
    )


async def caseload_stream(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events of the caseload: re-rendered rows of the patients that changed
    (every row when "today", the newest data day, moved: days without data and worn days
    are counted up to it), then the page's whole order (``order``: row ids in the page's
    sort, and the summary line), so rows move to where the page would put them."""
    service, p = _service(request), _principal(request)
    sort, reverse = _sort(request)
    shown: dict[str, dt.date | None] = {}

    def produce(since: int) -> tuple[list[bytes], int]:
        store = service.store
        seq = store.seq
        changed = store.changed_since(since, p.may_see)
        if changed is None:
            return [_event("reload", {}, seq)], seq
        if not changed:
            return [], seq
        rows = caseload(store, _roster_subjects(p), sort, reverse)
        as_of = rows[0].as_of if rows else None
        if "as_of" not in shown or shown["as_of"] != as_of:
            changed = {r.subject_id for r in rows}
        shown["as_of"] = as_of
        events = [
            _event("row", {"id": f"pt-{r.subject_id}", "html": render.case_row_html(r)}, seq)
            for r in rows
            if r.subject_id in changed
        ]
        order = {
            "ids": [f"pt-{r.subject_id}" for r in rows],
            "summary": render.caseload_summary(rows),
        }
        return [*events, _event("order", order, seq)], seq

    return await _sse(request, _since(request, service.store.seq), produce)


def _patient_charts(service: FeedService, subject: str, days: int) -> list[str]:
    """The clinician's "fewer panels": the latest alert's contributing features, then daily
    activity and sleep, then wear."""
    store = service.store
    eps = store.subject_episodes(subject)
    columns: list[str] = []
    start = alert_date = None
    if eps:
        cur = eps[0].current.alert
        columns += render.chart_columns(cur, limit=3)
        start, alert_date = eps[0].start, cur.date
    for c in ("activity_mean_worn", "sleep_tst_min"):
        if c not in columns:
            columns.append(c)
    end = store.latest_day(subject)
    if end is None:
        return []
    out = [
        render.chart(s, episode_start=start, alert_date=alert_date)
        for s in store.series(subject, columns, days, end)
    ]
    dates = [end - dt.timedelta(days=days - 1 - i) for i in range(days)]
    out.append(render.coverage_chart(dates, store.coverage(subject, end, days)))
    return [c for c in out if c]


async def patient_view(request: web.Request) -> web.StreamResponse:
    service, p = _service(request), _principal(request)
    subject = request.match_info["subject_id"]
    if not p.may_see(subject):
        raise _refuse(request, subject)
    store = service.store
    days = service.settings.history_days
    html = render.patient_page(
        clinician=p.clinician.name,
        n_subjects=len(p.clinician.subjects),
        row=case_row(store, subject, store.data_clock()),
        charts=_patient_charts(service, subject, days),
        episodes=list(reversed(store.subject_episodes(subject))),
        names=service.names(),
        csrf=_csrf(request),
        seq=store.seq,
        days=days,
        feedback=store.engine_feedback(subject),
    )
    return web.Response(text=html, content_type="text/html")


async def api_patient(request: web.Request) -> web.StreamResponse:
    """One patient: the caseload row and every alert message with its acknowledgements."""
    service, p = _service(request), _principal(request)
    subject = request.match_info["subject_id"]
    if not p.may_see(subject):
        raise _refuse(request, subject)
    store = service.store
    entries = [e for ep in store.subject_episodes(subject) for e in ep.entries]
    entries.sort(key=lambda x: (x.alert.date, x.seq))
    return web.json_response(
        {
            "patient": case_row(store, subject, store.data_clock()).to_json(),
            "alerts": [_entry_json(service, x) for x in entries],
            "engine_feedback": [n.to_json() for n in store.engine_feedback(subject)],
        },
        dumps=lambda d: orjson.dumps(d).decode(),
    )


async def api_fhir(request: web.Request) -> web.StreamResponse:
    """The alert as FHIR R4: a Bundle with a RiskAssessment (and its PHQ-9 Observation).
    An alert of a patient not on the roster is answered like a missing one."""
    service, p = _service(request), _principal(request)
    entry = service.store.alert(request.match_info["alert_id"])
    if entry is not None and not p.may_see(entry.alert.subject_id):
        log.warning(
            "refused: clinician %s asked for an alert of subject %s, not on their roster (%s %s)",
            p.clinician.id,
            clean(entry.alert.subject_id),
            request.method,
            _route(request),
        )
        entry = None
    if entry is None:
        raise _no_such_alert()
    return web.Response(
        body=orjson.dumps(alert_bundle(entry.alert, entry.acks)),
        content_type="application/fhir+json",
    )


async def api_triage(request: web.Request) -> web.StreamResponse:
    """Open alerts in triage order (the page's order), filtered like the page."""
    service, p = _service(request), _principal(request)
    filters = _filters(request)
    items = [
        _triage_item(ep)
        for ep in triage_order(service.store.episodes(p.may_see))
        if filters.match(ep)
    ]
    return web.json_response(
        {"items": items, "filters": filters.query(), "seq": service.store.seq},
        dumps=lambda d: orjson.dumps(d).decode(),
    )


def _since(request: web.Request, default: int) -> int:
    raw = request.headers.get("Last-Event-ID") or request.query.get("since")
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise web.HTTPBadRequest(text="since: a whole number") from None
    if value < 0:
        raise web.HTTPBadRequest(text="since: >= 0")
    return value


def _event(name: str, data: Any, ident: int | None = None) -> bytes:
    head = f"id: {ident}\n" if ident is not None else ""
    return f"{head}event: {name}\ndata: ".encode() + orjson.dumps(data) + b"\n\n"


def _still_allowed(request: web.Request, service: FeedService) -> bool:
    """Whether a live stream's caller may still see it: a session not signed out (on any
    feed process) and not expired, or a clinician still on the roster."""
    p = _principal(request)
    if p.via == "session":
        return service.session(p.cookie, int(service.clock().timestamp())) is not None
    return p.clinician.id in service.roster().clinicians


async def _sse(
    request: web.Request, since: int, produce: Callable[[int], tuple[list[bytes], int]]
) -> web.StreamResponse:
    """A Server-Sent Events response: ``produce(since)`` gives the events after ``since``
    and the new position, whenever the store changed; a comment line keeps it alive."""
    service = _service(request)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    if request.method == "HEAD":  # headers only: a body here would desync the connection
        return response
    with contextlib.suppress(ConnectionResetError):
        await response.write(b"retry: 3000\n\n")
        while not service.closing:
            if not _still_allowed(request, service):  # signed out (anywhere) or off the roster
                await response.write(_event("signed_out", {}))
                break
            events, since = produce(since)
            for ev in events:
                await response.write(ev)
            if not await service.wait_for_change(since, service.settings.heartbeat_s):
                await response.write(b": keep-alive\n\n")
    return response


async def cards_stream(request: web.Request) -> web.StreamResponse:
    service, p = _service(request), _principal(request)
    csrf = _csrf(request)
    filters = _filters(request)

    def produce(since: int) -> tuple[list[bytes], int]:
        store = service.store
        seq = store.seq
        changed = store.changed_since(since, p.may_see)
        if changed is None:
            return [_event("reload", {}, seq)], seq
        names = service.names() if changed else {}
        events = []
        for subject in sorted(changed):
            for ep in store.subject_episodes(subject):
                msg = _card_message(service, ep, csrf, names)
                if ep.resolved is None and not filters.match(ep):
                    msg["html"] = ""  # no longer matches the page's filters: remove it
                events.append(_event("card", msg, seq))
        return events, seq

    return await _sse(request, _since(request, service.store.seq), produce)


def _limit(request: web.Request) -> int:
    try:
        limit = int(request.query.get("limit", "100"))
    except ValueError:
        raise web.HTTPBadRequest(text="limit: a whole number") from None
    if not 1 <= limit <= MAX_PAGE:
        raise web.HTTPBadRequest(text=f"limit: 1 to {MAX_PAGE}")
    return limit


async def api_alerts(request: web.Request) -> web.StreamResponse:
    """``{"items": [...], "next": S, "more": bool, "seq": current}``; pass ``next`` as
    ``since`` to get the following page (or, later, what changed since)."""
    service, p = _service(request), _principal(request)
    since = _since(request, 0)
    if since > service.store.seq:  # from an earlier run of the feed: start again
        since = 0
    entries, more = service.store.entries_since(since, p.may_see, _limit(request))
    nxt = entries[-1].seq if entries else max(since, service.store.seq)
    return web.json_response(
        {
            "items": [_entry_json(service, entry) for entry in entries],
            "next": nxt,
            "more": more,
            "seq": service.store.seq,
            "instance": service.instance,
            "ready": service.bus.ready,
        },
        dumps=lambda d: orjson.dumps(d).decode(),
    )


def _entry_json(service: FeedService, entry: AlertEntry) -> dict[str, Any]:
    """An alert message with its episode's triage key (``null`` once resolved): a client of
    the paging API or the stream orders open episodes by it, descending, as the page does."""
    body = entry.to_json()
    a = entry.alert
    ep = service.store.episode(a.subject_id, a.episode_start)
    body["episode"] = {
        "key": f"{a.subject_id}_{a.episode_start.isoformat()}",
        "open": ep is not None and ep.resolved is None,
        "triage": triage_token(ep) if ep is not None and ep.resolved is None else None,
    }
    return body


async def api_stream(request: web.Request) -> web.StreamResponse:
    service, p = _service(request), _principal(request)

    def produce(since: int) -> tuple[list[bytes], int]:
        entries, more = service.store.entries_since(since, p.may_see, MAX_PAGE)
        events = [_event("alert", _entry_json(service, entry), entry.seq) for entry in entries]
        if entries:
            return events, entries[-1].seq
        return events, service.store.seq

    since = _since(request, service.store.seq)
    if since > service.store.seq:  # from an earlier run of the feed: start again
        since = 0
    return await _sse(request, since, produce)


async def _acknowledge(request: web.Request, via: str) -> tuple[Ack, AlertEntry]:
    service, p = _service(request), _principal(request)
    entry = service.store.alert(request.match_info["alert_id"])
    if entry is not None and not p.may_see(entry.alert.subject_id):
        # logged as a refusal, answered exactly like an alert that does not exist: the
        # answer must not tell whether another clinician's patient has this alert
        log.warning(
            "refused: clinician %s acknowledged an alert of subject %s, not on their roster "
            "(%s %s)",
            p.clinician.id,
            clean(entry.alert.subject_id),
            request.method,
            _route(request),
        )
        entry = None
    if entry is None:
        raise _no_such_alert()
    if request.content_type == "application/json" and request.can_read_body:
        try:
            body = await request.json()
        except ValueError:
            raise _bad("body: not valid JSON") from None
        data = body if isinstance(body, dict) else {}
    else:
        data = dict(await _form(request))
    try:
        form = AckForm.parse(data)
    except InputError as exc:
        raise _bad(str(exc)) from None
    if form.until is not None and form.until < entry.alert.episode_start:
        raise _bad("until: not before the change began (the alert's episode start)")
    if form.until is not None and form.until > entry.alert.date + MAX_UNTIL:
        raise _bad(
            f"until: at most {MAX_UNTIL.days} days after the alert (a typing slip "
            "would otherwise keep years out of the patient's usual range)"
        )
    try:
        ack = await service.acknowledge(entry, p.clinician, via, form)
    except AckError as exc:
        log.error("acknowledgement NOT recorded: clinician %s: %s", p.clinician.id, exc)
        raise web.HTTPServiceUnavailable(
            text=orjson.dumps(
                {"error": "unavailable", "detail": "not recorded: the message bus refused it"}
            ).decode(),
            content_type="application/json",
        ) from None
    return ack, entry


def _bad(detail: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(
        text=orjson.dumps({"error": "bad request", "detail": detail}).decode(),
        content_type="application/json",
    )


def _no_such_alert() -> web.HTTPNotFound:
    return web.HTTPNotFound(
        text=orjson.dumps({"error": "not found", "detail": "no such alert"}).decode(),
        content_type="application/json",
    )


async def api_ack(request: web.Request) -> web.StreamResponse:
    ack, entry = await _acknowledge(request, "web" if _principal(request).cookie else "api")
    body: dict[str, Any] = {"ack": ack.model_dump(mode="json")}
    p, service = _principal(request), _service(request)
    if p.via == "session":
        for ep in service.store.subject_episodes(entry.alert.subject_id):
            if any(x.alert.alert_id == entry.alert.alert_id for x in ep.entries):
                body["card"] = _card_message(service, ep, _csrf(request), service.names())
    return web.json_response(body, dumps=lambda d: orjson.dumps(d).decode())


async def form_ack(request: web.Request) -> web.StreamResponse:
    await _acknowledge(request, "web")
    raise web.HTTPSeeOther("/alerts")


async def api_features(request: web.Request) -> web.StreamResponse:
    service, p = _service(request), _principal(request)
    subject = request.match_info["subject_id"]
    if not p.may_see(subject):
        raise _refuse(request, subject)
    try:
        days = int(request.query.get("days", str(service.settings.chart_days)))
    except ValueError:
        raise web.HTTPBadRequest(text="days: a whole number") from None
    days = max(1, min(days, service.settings.history_days))
    from phenotyping.risk.monitor import MONITORED

    series = service.store.series(subject, [s.column for s in MONITORED], days)

    def num(v: float) -> float | None:
        return None if v != v else v

    body = {
        "subject_id": subject,
        "dates": [d.isoformat() for d in series[0].dates] if series else [],
        "features": {
            s.spec.column: {
                "label": s.spec.label,
                "unit": s.spec.unit,
                "value": [num(float(v)) for v in s.value],
                "base": [num(float(v)) for v in s.base],
                "scale": [num(float(v)) for v in s.scale],
            }
            for s in series
        },
    }
    return web.json_response(body, dumps=lambda d: orjson.dumps(d).decode())


async def me(request: web.Request) -> web.StreamResponse:
    p = _principal(request)
    body = {
        "clinician": p.clinician.id,
        "name": p.clinician.name,
        "subjects": sorted(p.clinician.subjects),
    }
    return web.json_response(body)


async def login_form(request: web.Request) -> web.StreamResponse:
    service = _service(request)
    cookie = request.cookies.get(COOKIE)
    if service.session(cookie, int(service.clock().timestamp())) is not None:
        raise web.HTTPSeeOther("/alerts")
    return web.Response(text=render.login_page(), content_type="text/html")


async def login(request: web.Request) -> web.StreamResponse:
    service = _service(request)
    now = service.clock().timestamp()
    source = _source(request)
    for throttle, key in ((service.fail_source, source), (service.fail_overall, "overall")):
        if throttle.blocked(key, now):
            log.warning("refused: sign-in throttled (%s)", key.split(":")[0])
            return _throttled(throttle.retry_after(key, now))
    form = await _form(request)
    token = form.get("token")
    found = service.roster().by_token(token.strip()) if isinstance(token, str) else None
    if found is None:
        service.fail_source.fail(source, now)
        service.fail_overall.fail("overall", now)
        log.warning("refused: sign-in with an unknown token")
        return web.Response(
            text=render.login_page("That access token is not recognised."),
            content_type="text/html",
            status=401,
        )
    clinician, token_hash = found
    account = f"account:{clinician.id}"
    if service.per_account.blocked(account, now):
        log.warning("refused: sign-in throttled (clinician %s)", clinician.id)
        return _throttled(service.per_account.retry_after(account, now))
    service.per_account.fail(account, now)  # counts sessions opened, not failures
    now_s = int(now)
    ttl = service.settings.session_ttl_s
    value = make_session(service.secret, clinician, token_hash, now_s, ttl)
    response = web.HTTPSeeOther("/alerts")
    secure = service.settings.cookie_secure or service.settings.tls_cert is not None
    response.set_cookie(
        COOKIE, value, max_age=ttl, httponly=True, samesite="Strict", secure=secure, path="/"
    )
    log.info("signed in: clinician %s", clinician.id)
    raise response


def _throttled(retry_after: int) -> web.Response:
    return web.Response(
        text=render.login_page("Too many sign-in attempts. Wait a few minutes and try again."),
        content_type="text/html",
        status=429,
        headers={"Retry-After": str(retry_after)},
    )


async def logout(request: web.Request) -> web.StreamResponse:
    p = _principal(request)
    if p.cookie is not None:
        await _service(request).end_session(p.cookie)
    response = web.HTTPSeeOther("/login")
    response.del_cookie(COOKIE, path="/")
    raise response


async def healthz(request: web.Request) -> web.StreamResponse:
    service = _service(request)
    if service.failed is not None:
        return web.json_response({"status": "failed", "ready": False}, status=503)
    return web.json_response({"status": "ok", "ready": service.bus.ready})


def _static(body: str, content_type: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=body, content_type=content_type)

    return handler


async def index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther("/alerts")


# --------------------------------------------------------------------------- the app
def build_app(service: FeedService) -> web.Application:
    """The aiohttp application around ``service`` (starts and stops it with the server)."""
    app = web.Application(middlewares=[_auth], client_max_size=64 * 1024)
    app[SERVICE] = service
    r = app.router
    r.add_get("/", index)
    r.add_get("/healthz", healthz)
    r.add_get("/static/feed.css", _static(assets.CSS, "text/css"))
    r.add_get("/static/feed.js", _static(assets.JS, "text/javascript"))
    r.add_get("/login", login_form)
    r.add_post("/login", login)
    r.add_post("/logout", logout)
    r.add_get("/alerts", alerts_page)
    r.add_get("/alerts/stream", cards_stream)
    r.add_post("/alerts/{alert_id}/ack", form_ack)
    r.add_get("/api/me", me)
    r.add_get("/api/alerts", api_alerts)
    r.add_get("/api/triage", api_triage)
    r.add_get("/api/alerts/{alert_id}/fhir", api_fhir)
    r.add_get("/patients", caseload_view)
    r.add_get("/patients/stream", caseload_stream)
    r.add_get("/patients/{subject_id}", patient_view)
    r.add_get("/api/caseload", api_caseload)
    r.add_get("/api/patients/{subject_id}", api_patient)
    r.add_get("/api/stream", api_stream)
    r.add_post("/api/alerts/{alert_id}/ack", api_ack)
    r.add_get("/api/subjects/{subject_id}/features", api_features)
    app.on_response_prepare.append(_security_headers)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await service.start()
        yield
        await service.stop()

    async def wake_streams(app: web.Application) -> None:
        await service.close()

    app.cleanup_ctx.append(lifecycle)
    app.on_shutdown.append(wake_streams)
    return app
