"""Rendered pages kept as bytes (plain and gzip) and served without touching the framework.

The crisis page comes in parts (`/?sida=2`, paging.py): each within the first round trip.

A rendering is valid while the store's version is unchanged and no message has started
or expired since; a publish or a sync bumps the version, so the next request re-renders.
The fast path answers GET/HEAD for the cached resources straight from ASGI: conditional
GET (ETag, 304), gzip when asked for, and the security headers.
"""

from __future__ import annotations

import functools
import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import parse_qs

from starlette.types import Scope, Send

from services.crisis_site import i18n
from services.crisis_site.paging import gzipped
from services.crisis_site.portal import Portal
from services.crisis_site.store import Store, utcnow


@dataclass(frozen=True)
class Rendered:
    body: bytes
    gzipped: bytes
    etag: str  # of the plain body, quoted; the gzip form adds -gz
    media_type: str
    language: str | None
    parts: int  # how many pages this resource has in this language (the crisis page: 1 or more)
    # Response header lists, built once per (gzip, 304) and extra headers: the hot path only looks up.
    headers: dict[tuple[bool, bool, int], list[tuple[bytes, bytes]]] = field(
        default_factory=dict, compare=False
    )


# Path -> (resource kind, whether ?lang= / Accept-Language choose its language)
RESOURCES: dict[str, tuple[str, bool]] = {
    "/": ("page", True),
    "/utskrift": ("print", True),
    "/api/crisis.json": ("json", False),
    "/feeds/atom.xml": ("atom", False),
    "/feeds/cap.xml": ("cap", False),
}

RESOURCES_BY_KIND = {kind: localized for kind, localized in RESOURCES.values()}

# (kind, language) -> (the body of each part, media type); only the crisis page has more than one part
Builder = Callable[[str, str], tuple[list[bytes], str]]


class PageCache:
    def __init__(self, store: Store, build: Builder) -> None:
        self._store = store
        self._build = build
        self._entries: dict[tuple[str, str, int], Rendered] = {}
        self._version = -1
        self._valid_until = math.inf  # POSIX time when time alone changes what is active

    def get(self, kind: str, language: str, part: int = 1) -> Rendered:
        """Part `part` of a resource (clamped to the parts there are: an old link still lands)."""
        version = self._store.recent_version
        if self._version != version or time.time() >= self._valid_until:  # a float: asked every request
            self._entries.clear()
            self._version = version
            change = self._store.next_change(utcnow())
            self._valid_until = change.timestamp() if change is not None else math.inf
        first = self._entries.get((kind, language, 1))
        if first is None:
            bodies, media_type = self._build(kind, language)
            for number, body in enumerate(bodies, 1):
                self._entries[(kind, language, number)] = Rendered(
                    body=body,
                    gzipped=gzipped(body),
                    etag=f'"{hashlib.sha256(body).hexdigest()[:20]}"',
                    media_type=media_type,
                    language=language if RESOURCES_BY_KIND[kind] else None,
                    parts=len(bodies),
                )
            first = self._entries[(kind, language, 1)]
        return self._entries[(kind, language, min(max(part, 1), first.parts))]


# (status, headers, body): a response ready to send.
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


class LimitedAnswer(NamedTuple):
    """An answer refusing a client past its limit (a login's tries per address): the HTTP protocol holds
    it a while on a connection that reads nothing meanwhile (serve.HttpLimits.limited_answer_delay)."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


# (method, client address) -> a refused login's answer, or None to let the request through
LoginAnswer = Callable[[str, str], Answer | None]


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


@functools.lru_cache(maxsize=256)  # phones send few distinct headers; parsed once each
def _accepts_gzip(accept_encoding: str | None) -> bool:
    if not accept_encoding:
        return False
    for part in accept_encoding.lower().split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip() in ("gzip", "*"):
            return params.strip().replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def _etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    base = etag.strip('"')
    for candidate in if_none_match.split(","):
        tag = candidate.strip().removeprefix("W/").strip('"')
        if tag in (base, base + "-gz"):
            return True
    return False


def _response_headers(
    entry: Rendered, use_gzip: bool, not_modified: bool, fixed: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    key = (use_gzip, not_modified, id(fixed))
    headers = entry.headers.get(key)
    if headers is None:
        etag = entry.etag[:-1] + '-gz"' if use_gzip else entry.etag
        headers = [
            (b"etag", etag.encode("latin-1")),
            (b"cache-control", b"no-cache"),
            (b"vary", b"Accept-Encoding, Accept-Language" if entry.language else b"Accept-Encoding"),
        ]
        if entry.language:
            headers.append((b"content-language", entry.language.encode("latin-1")))
        headers += fixed
        if not not_modified:
            body = entry.gzipped if use_gzip else entry.body
            headers += [
                (b"content-type", entry.media_type.encode("latin-1")),
                (b"content-length", str(len(body)).encode()),
            ]
            if use_gzip:
                headers.append((b"content-encoding", b"gzip"))
        entry.headers[key] = headers
    return headers


def respond(
    entry: Rendered, request_headers: list[tuple[bytes, bytes]], fixed: list[tuple[bytes, bytes]]
) -> Answer:
    """(status, headers, body) for a cached resource, honouring If-None-Match and Accept-Encoding."""
    use_gzip = _accepts_gzip(_header(request_headers, b"accept-encoding"))
    if _etag_matches(_header(request_headers, b"if-none-match"), entry.etag):
        return 304, _response_headers(entry, use_gzip, True, fixed), b""
    body = entry.gzipped if use_gzip else entry.body
    return 200, _response_headers(entry, use_gzip, False, fixed), body


def part_for(query_string: bytes) -> int:
    """The page number in ?sida=N; 1 when absent or not a number."""
    if not query_string:
        return 1
    value = parse_qs(query_string.decode("latin-1")).get("sida", ["1"])[0]
    return int(value) if value.isdigit() and len(value) < 6 else 1


def language_for(query_string: bytes, accept_language: str | None) -> str:
    lang = parse_qs(query_string.decode("latin-1")).get("lang", [None])[0] if query_string else None
    return i18n.choose(lang, accept_language)


class FastPath:
    """Answers GET/HEAD for the cached resources straight from ASGI, before any framework code."""

    def __init__(
        self,
        cache: Callable[[], PageCache],
        security: dict[str, str],
        portal: Portal | None = None,
        login: tuple[str, LoginAnswer] | None = None,
    ) -> None:
        self._cache = cache
        self._portal = portal
        # The login path, and its early answer (a refused login, before the form is read), if any.
        self._login = login
        self._fixed = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in security.items()]
        self._languages: dict[tuple[bytes, str | None], str] = {}  # phones send few distinct headers

    def _language(self, query_string: bytes, accept_language: str | None) -> str:
        key = (query_string, accept_language)
        language = self._languages.get(key)
        if language is None:
            language = language_for(query_string, accept_language)
            if len(self._languages) > 1024:  # bounded: a client cannot grow it without limit
                self._languages.clear()
            self._languages[key] = language
        return language

    def answer(
        self,
        path: str,
        method: str,
        query_string: bytes,
        headers: list[tuple[bytes, bytes]],
        client: str | None = None,
    ) -> Answer | None:
        """(status, headers, body) for a cached resource or a refused login (GET, HEAD or POST), or
        None when the request is not ours."""
        if self._portal is not None:
            sent_away = self._portal.answer(method, headers)
            if sent_away is not None:
                return sent_away  # a phone's check, or any request for a foreign host, in island mode
        if self._login is not None and client is not None and path == self._login[0]:
            refused = self._login[1](method, client)
            if refused is not None:
                status, out, body = refused
                if isinstance(refused, LimitedAnswer):
                    return LimitedAnswer(status, [*out, *self._fixed], body)
                return status, [*out, *self._fixed], body
        resource = RESOURCES.get(path)
        if resource is None or method not in ("GET", "HEAD"):
            return None
        kind, localized = resource
        language = self._language(query_string, _header(headers, b"accept-language")) if localized else "sv"
        part = part_for(query_string) if kind == "page" else 1
        status, out, body = respond(self._cache().get(kind, language, part), headers, self._fixed)
        return status, out, b"" if method == "HEAD" else body

    async def serve(self, scope: Scope, send: Send) -> bool:
        """Send the response and return True, or return False when the request is not ours."""
        client = scope.get("client")
        return await send_answer(
            self.answer(
                scope["path"],
                scope["method"],
                scope["query_string"],
                scope["headers"],
                client[0] if client else None,
            ),
            send,
        )


async def send_answer(found: Answer | None, send: Send) -> bool:
    """Send a ready (status, headers, body) over ASGI and return True; False when there is none."""
    if found is None:
        return False
    status, headers, body = found
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    return True
