"""Who may see what: access tokens, the roster, signed session cookies, CSRF tokens.

Pure functions and plain data (``hashlib``, ``hmac``, ``secrets``, ``tomllib``); the time is
always passed in. The web shell (:mod:`phenotyping.feed.web`) calls them.

Tokens
    A clinician's access token is 32 random bytes (``secrets.token_urlsafe(32)``, 43
    characters), made by ``phenotyping feed hash-token``. Only ``sha256:<hex>`` of it is
    stored in the roster. A fast hash is enough *because* the token is random: 256 bits
    cannot be guessed, and a slow password hash (scrypt) on every request would be a CPU
    lever for anyone able to send requests. Tokens shorter than :data:`MIN_TOKEN_CHARS` are
    refused. Every stored hash is compared with :func:`hmac.compare_digest`, all of them,
    without stopping at a match.

Roster
    A TOML file: one ``[[clinician]]`` table per clinician with ``id``, ``name``,
    ``tokens`` (a list of hashes, so a token can be rotated) and ``subjects`` (the
    pseudonymous subject ids they may see). Nothing else is in it: no names of patients.

Sessions
    After a token login the browser holds a cookie ``v1.<payload>.<signature>``: the payload
    (base64url JSON) names the clinician, the expiry and a fingerprint of the token hash used,
    signed with HMAC-SHA256 under the feed's session secret, so every feed process with the
    same secret honours it (no sticky sessions needed behind a load balancer). A session
    ends at its expiry, when the clinician leaves the roster, when that token is removed
    from the roster, or when the clinician signs out: the nonce is then published as a
    ``session_end`` record that every feed process reads into its store
    (:meth:`phenotyping.feed.store.FeedStore.session_ended`).

CSRF
    A cookie-authenticated request that changes something (acknowledge, logout) must carry
    ``HMAC(secret, "csrf|" + cookie)``; bearer-token requests need not (no ambient
    credential).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from phenotyping.errors import RosterError

#: Shortest token accepted by :func:`hash_token` (a generated token has 43 characters).
MIN_TOKEN_CHARS = 32
_HASH = re.compile(r"^sha256:[0-9a-f]{64}$")
_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")  # clinician ids and subject ids


def new_token() -> str:
    """A fresh random access token (32 bytes, base64url, 43 characters).

    Examples
    --------
    >>> len(new_token()), new_token() != new_token()
    (43, True)
    """
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The roster form of a token: ``sha256:<64 hex digits>``.

    Examples
    --------
    >>> hash_token("a" * 32) == "sha256:" + hashlib.sha256(b"a" * 32).hexdigest()
    True
    >>> hash_token("short")
    Traceback (most recent call last):
    ...
    phenotyping.errors.RosterError: token: 5 characters, at least 32 are required
    """
    if len(token) < MIN_TOKEN_CHARS:
        raise RosterError(
            f"token: {len(token)} characters, at least {MIN_TOKEN_CHARS} are required"
        )
    return "sha256:" + hashlib.sha256(token.encode("utf-8")).hexdigest()


def _fingerprint(token_hash: str) -> str:
    return hashlib.sha256(token_hash.encode("ascii")).hexdigest()[:16]


@dataclass(frozen=True)
class Clinician:
    """One roster entry."""

    id: str
    name: str
    tokens: tuple[str, ...]
    subjects: frozenset[str]

    def may_see(self, subject_id: str) -> bool:
        return subject_id in self.subjects


@dataclass(frozen=True)
class Roster:
    """Clinicians by id, and the lookup of a presented token."""

    clinicians: Mapping[str, Clinician]

    def by_token(self, token: str) -> tuple[Clinician, str] | None:
        """The clinician holding ``token`` and the matching stored hash, else ``None``.

        Every stored hash is compared in constant time (no early exit).

        Examples
        --------
        >>> tok = "t" * 40
        >>> r = Roster.parse({"clinician": [{"id": "dr-a", "name": "Dr A",
        ...     "tokens": [hash_token(tok)], "subjects": ["s1"]}]})
        >>> r.by_token(tok)[0].id, r.by_token("x" * 40)
        ('dr-a', None)
        """
        presented = ("sha256:" + hashlib.sha256(token.encode("utf-8")).hexdigest()).encode()
        found: tuple[Clinician, str] | None = None
        for clinician in self.clinicians.values():
            for stored in clinician.tokens:
                if hmac.compare_digest(presented, stored.encode("ascii")) and found is None:
                    found = (clinician, stored)
        return found

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Roster:
        """Validate a parsed roster TOML document."""
        entries = data.get("clinician")
        if not isinstance(entries, list) or not entries:
            raise RosterError("roster: no [[clinician]] entries")
        unknown = set(data) - {"clinician"}
        if unknown:
            raise RosterError(f"roster: unknown top-level key(s) {sorted(unknown)}")
        clinicians: dict[str, Clinician] = {}
        seen_tokens: set[str] = set()
        for n, entry in enumerate(entries):
            where = f"clinician[{n}]"
            if not isinstance(entry, dict):
                raise RosterError(f"{where}: not a table")
            extra = set(entry) - {"id", "name", "tokens", "subjects"}
            if extra:
                raise RosterError(f"{where}: unknown key(s) {sorted(extra)}")
            cid = entry.get("id")
            if not isinstance(cid, str) or not _ID.match(cid):
                raise RosterError(f"{where}.id: letters, digits and ._- (1-64 characters)")
            where = f"clinician {cid!r}"
            if cid in clinicians:
                raise RosterError(f"{where}: listed twice")
            name = entry.get("name", cid)
            if not isinstance(name, str) or not name.strip():
                raise RosterError(f"{where}.name: a non-empty string")
            tokens = entry.get("tokens")
            if not isinstance(tokens, list) or not tokens:
                raise RosterError(f"{where}.tokens: a list of token hashes is required")
            for t in tokens:
                if not isinstance(t, str) or not _HASH.match(t):
                    raise RosterError(
                        f"{where}.tokens: {str(t)[:24]!r}... is not a token hash; make one "
                        "with `phenotyping feed hash-token` and paste its 'sha256:...' line"
                    )
                if t in seen_tokens:
                    raise RosterError(f"{where}.tokens: a token hash is used twice in the roster")
                seen_tokens.add(t)
            subjects = entry.get("subjects", [])
            if not isinstance(subjects, list):
                raise RosterError(f"{where}.subjects: a list of pseudonymous subject ids")
            for s in subjects:
                if not isinstance(s, str) or not _ID.match(s):
                    raise RosterError(
                        f"{where}.subjects: {str(s)[:24]!r} is not a pseudonymous subject id "
                        "(letters, digits and ._-)"
                    )
            clinicians[cid] = Clinician(cid, name.strip(), tuple(tokens), frozenset(subjects))
        return cls(clinicians)

    @classmethod
    def load(cls, path: Path) -> Roster:
        """Read and validate a roster TOML file."""
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise RosterError(f"{path}: not valid TOML ({exc})") from None
        try:
            return cls.parse(data)
        except RosterError as exc:
            raise RosterError(f"{path}: {exc}") from None


# --------------------------------------------------------------------------- sessions
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, message: str) -> str:
    return _b64(hmac.new(secret, message.encode("ascii"), hashlib.sha256).digest())


def make_session(
    secret: bytes, clinician: Clinician, token_hash: str, now_s: int, ttl_s: int
) -> str:
    """A signed session cookie value for ``clinician``, valid until ``now_s + ttl_s``.

    Examples
    --------
    >>> c = Clinician("dr-a", "Dr A", ("sha256:" + "0" * 64,), frozenset({"s1"}))
    >>> r = Roster({"dr-a": c})
    >>> cookie = make_session(b"k" * 32, c, c.tokens[0], now_s=1000, ttl_s=60)
    >>> read_session(b"k" * 32, cookie, r, now_s=1059).id
    'dr-a'
    >>> read_session(b"k" * 32, cookie, r, now_s=1060) is None  # expired
    True
    >>> read_session(b"other-key" * 4, cookie, r, now_s=1000) is None  # not ours
    True
    """
    payload = _b64(
        orjson.dumps(
            {
                "c": clinician.id,
                "exp": now_s + ttl_s,
                "t": _fingerprint(token_hash),
                "n": secrets.token_hex(8),
            }
        )
    )
    body = f"v1.{payload}"
    return f"{body}.{_sign(secret, body)}"


def read_session(secret: bytes, cookie: str, roster: Roster, now_s: int) -> Clinician | None:
    """The clinician of a valid, unexpired session cookie that the roster still allows."""
    parts = cookie.split(".")
    if len(parts) != 3 or parts[0] != "v1" or len(cookie) > 1024:
        return None
    body = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(_sign(secret, body).encode(), parts[2].encode("ascii", "replace")):
        return None
    try:
        payload = orjson.loads(_unb64(parts[1]))
    except (ValueError, orjson.JSONDecodeError):
        return None
    if not isinstance(payload, dict):
        return None
    exp, cid, fp = payload.get("exp"), payload.get("c"), payload.get("t")
    if not isinstance(exp, int) or now_s >= exp or not isinstance(cid, str):
        return None
    clinician = roster.clinicians.get(cid)
    if clinician is None or fp not in {_fingerprint(t) for t in clinician.tokens}:
        return None
    return clinician


def csrf_token(secret: bytes, cookie: str) -> str:
    """The CSRF token bound to one session cookie.

    Examples
    --------
    >>> a = csrf_token(b"k" * 32, "v1.x.y")
    >>> check_csrf(b"k" * 32, "v1.x.y", a), check_csrf(b"k" * 32, "v1.x.z", a)
    (True, False)
    """
    return _sign(secret, f"csrf|{cookie}")


def check_csrf(secret: bytes, cookie: str, presented: str | None) -> bool:
    """Whether ``presented`` is the CSRF token of ``cookie`` (constant time)."""
    if not presented:
        return False
    return hmac.compare_digest(csrf_token(secret, cookie).encode(), presented.encode("utf-8"))


def session_claims(cookie: str) -> tuple[str, str, int] | None:
    """``(clinician id, nonce, expiry)`` inside a session cookie (unverified: call after
    :func:`read_session` accepted the cookie).

    Examples
    --------
    >>> c = Clinician("dr-a", "Dr A", ("sha256:" + "0" * 64,), frozenset())
    >>> who, nonce, exp = session_claims(make_session(b"k" * 32, c, c.tokens[0], 10, 60))
    >>> who, len(nonce), exp
    ('dr-a', 16, 70)
    >>> session_claims("v1.e30.x") is None
    True
    """
    parts = cookie.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = orjson.loads(_unb64(parts[1]))
    except (ValueError, orjson.JSONDecodeError):
        return None
    if not isinstance(payload, dict):
        return None
    who, nonce, exp = payload.get("c"), payload.get("n"), payload.get("exp")
    if not (isinstance(who, str) and isinstance(nonce, str) and isinstance(exp, int)):
        return None
    return who, nonce, exp


class Throttle:
    """Failed attempts per key in a sliding window (sign-in by source address, by account,
    and overall), bounded in memory.

    ``blocked(key, now)`` says whether ``key`` has used up its ``limit`` failures within the
    last ``window_s`` seconds. Each key keeps at most ``limit`` timestamps and at most
    ``max_keys`` keys are kept (least recently failed dropped first), so a flood of distinct
    sources cannot grow the memory; the overall key still counts them.

    Examples
    --------
    >>> t = Throttle(limit=3, window_s=60)
    >>> for i in range(3): t.fail("ip:1", now=float(i))
    >>> t.blocked("ip:1", now=10.0), t.blocked("ip:2", now=10.0), t.blocked("ip:1", now=61.0)
    (True, False, False)
    """

    def __init__(self, limit: int, window_s: float, max_keys: int = 10_000) -> None:
        self.limit, self.window_s, self.max_keys = limit, window_s, max_keys
        self._fails: dict[str, list[float]] = {}

    def _recent(self, key: str, now: float) -> list[float]:
        times = self._fails.get(key)
        if not times:
            return []
        kept = [t for t in times if now - t < self.window_s]
        if kept:
            self._fails[key] = kept
        else:
            del self._fails[key]
        return kept

    def blocked(self, key: str, now: float) -> bool:
        return len(self._recent(key, now)) >= self.limit

    def retry_after(self, key: str, now: float) -> int:
        """Seconds until ``key`` may try again (0: now)."""
        times = self._recent(key, now)
        if len(times) < self.limit:
            return 0
        return max(1, int(times[-self.limit] + self.window_s - now + 0.999))

    def fail(self, key: str, now: float) -> None:
        times = self._recent(key, now)
        times.append(now)
        self._fails.pop(key, None)
        self._fails[key] = times[-self.limit :]  # most recently failed last
        while len(self._fails) > self.max_keys:
            del self._fails[next(iter(self._fails))]
