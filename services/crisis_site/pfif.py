"""Safe-and-well records as PFIF 1.4 (People Finder Interchange Format, http://zesty.ca/pfif/1.4).

The registry never keeps the phone number or address in the clear, and a PFIF export never
carries it: each record is a <pfif:person> with the name, dates and source, each message a
<pfif:note> with its time and words. Never a place, never the identifier.

Between Ödrift islands the hashed lookup key and code hash travel in elements of our own
namespace (PFIF consumers ignore foreign elements), so lookups and the person's code keep
working on the other island. For Person Finder (`for_person_finder`) they are left out: Person
Finder cannot use them, and a hash of a phone number next to the name is no secret (every
Swedish mobile number can be tried in seconds).

Import reads our own PFIF (with the hashed key) and plain PFIF from Person Finder. From plain
PFIF the lookup key is made from the full name and a clear identifier found in the record
(a note's phone_of_found_person, else home_street and home_city), which is then dropped.
A malformed or hostile document is refused whole; records it describes correctly but that
the registry cannot hold (no identifier, no note saying the person is alive) are skipped
and reported by record id. Parsed with defusedxml: no DTDs, no entities, bounded size.

Both ways stream. The export writes one person at a time. The import parses one person at a
time (an expat target that drops each person once read) and reads the file twice: first to
check the whole document (so a bad one stores nothing) and gather the notes written outside
their person, then to store the records in batches. A document with such loose notes is
checked once more with them. Memory follows the largest person, not the document.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pyexpat import XMLParserType
from typing import BinaryIO
from xml.etree.ElementTree import Element, TreeBuilder
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from services.crisis_site.registry import (
    MAX_TEXT,
    PRESETS,
    PortableRecord,
    PortableUpdate,
    Registry,
    RegistryError,
    check_portable_message,
    check_portable_name,
    clean_text,
    key_for,
)
from services.crisis_site.registry_texts import texts

PFIF_NS = "http://zesty.ca/pfif/1.4"
ODRIFT_NS = "urn:odrift:registry:pfif:1"
_P = "{" + PFIF_NS + "}"
_O = "{" + ODRIFT_NS + "}"

# Field order of PFIF 1.4 (the spec's sequence); we write a subset, in this order.
PERSON_FIELDS = (
    "person_record_id",
    "entry_date",
    "expiry_date",
    "author_name",
    "author_email",
    "author_phone",
    "source_name",
    "source_date",
    "source_url",
    "full_name",
    "given_name",
    "family_name",
    "alternate_names",
    "description",
    "sex",
    "date_of_birth",
    "age",
    "home_street",
    "home_neighborhood",
    "home_city",
    "home_state",
    "home_postal_code",
    "home_country",
    "photo_url",
    "profile_urls",
)
NOTE_FIELDS = (
    "note_record_id",
    "person_record_id",
    "linked_person_record_id",
    "entry_date",
    "author_name",
    "author_email",
    "author_phone",
    "source_date",
    "author_made_contact",
    "status",
    "email_of_found_person",
    "phone_of_found_person",
    "last_known_location",
    "text",
    "photo_url",
)
NOTE_STATUSES = (
    "information_sought",
    "is_note_author",
    "believed_alive",
    "believed_missing",
    "believed_dead",
)
# Only these say the person is alive; the registry holds nothing else.
ALIVE_STATUSES = ("is_note_author", "believed_alive")
ALIVE_TEXT = "Troligen vid liv (uppgift från Person Finder). / Believed alive (reported in Person Finder)."

MAX_DOCUMENT = 32 * 1024 * 1024  # bytes; a whole municipality's records fit many times over
MAX_ELEMENTS = 1_000_000
MAX_FIELD = 10_000  # characters in any one element

_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_RECORD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}/[^\s/][^\s]{0,199}$")
_DOMAIN = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class PfifError(ValueError):
    """A document refused whole; the message names the element and line, and what to do."""


def pfif_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def foreign_code_hash(person_record_id: str) -> str:
    """The code hash of a record that came from plain PFIF: fixed by its id, so importing it
    twice is one record, and no code anyone can type hashes to it (codes are A-Z and 0-9)."""
    return hashlib.sha256(f"pfif\x00{person_record_id}".encode()).hexdigest()


def came_from_person_finder(record: PortableRecord) -> bool:
    return record.pfif_id is not None and record.code_hash == foreign_code_hash(record.pfif_id)


def _derived_id(domain: str, kind: str, *parts: str) -> str:
    digest = hashlib.sha256("\x00".join((kind, *parts)).encode("utf-8")).hexdigest()[:32]
    return f"{domain}/{kind}.{digest}"


# Writing -------------------------------------------------------------------------------------


def _preset_texts() -> dict[str, str]:
    """Each preset as 'Swedish / English', the words the person saw when choosing it."""
    sv, en = texts("sv"), texts("en")
    return {p: f"{sv[p]} / {en[p]}" for p in PRESETS}


def _field(name: str, value: str | None, prefix: str = "pfif") -> str:
    return "" if value is None else f"<{prefix}:{name}>{escape(value)}</{prefix}:{name}>"


def export_pfif(
    records: Iterable[PortableRecord], domain: str, source_name: str, for_person_finder: bool = False
) -> Iterator[bytes]:
    """A PFIF 1.4 document of the records, one person at a time. `domain` (this island's domain
    name) begins the id of every record made here; a record that came from elsewhere keeps the
    id it came with. ValueError, before the first byte, for a bad domain."""
    if not _DOMAIN.match(domain):
        raise ValueError(f"not a domain name: {domain!r} (for example odsbyn.odrift.se)")
    return _pfif_chunks(records, domain, source_name, for_person_finder)


def _pfif_chunks(
    records: Iterable[PortableRecord], domain: str, source_name: str, for_person_finder: bool
) -> Iterator[bytes]:
    words = _preset_texts()
    ours = "" if for_person_finder else f' xmlns:odrift="{ODRIFT_NS}"'  # Person Finder gets plain PFIF
    yield f'<?xml version="1.0" encoding="utf-8"?>\n<pfif:pfif{ours} xmlns:pfif="{PFIF_NS}">'.encode()
    for r in records:
        if for_person_finder and came_from_person_finder(r):
            continue  # it came from Person Finder; sending it back would only duplicate it there
        yield _person_xml(r, domain, source_name, for_person_finder, words).encode("utf-8")
    yield b"</pfif:pfif>"


def _person_xml(
    r: PortableRecord, domain: str, source_name: str, for_person_finder: bool, words: dict[str, str]
) -> str:
    person_id = r.pfif_id or _derived_id(domain, "person", r.code_hash)
    parts = [
        "<pfif:person>",
        _field("person_record_id", person_id),
        _field("entry_date", pfif_time(r.created)),
        _field("expiry_date", pfif_time(r.expires)),
        _field("author_name", r.name),
        _field("source_name", source_name),
        _field("source_date", pfif_time(r.created)),
        _field("full_name", r.name),
    ]
    if not for_person_finder:
        parts += [_field("lookup_key", r.key, "odrift"), _field("code_hash", r.code_hash, "odrift")]
    for u in r.updates:
        note_id = u.pfif_id or _derived_id(
            person_id.split("/", 1)[0], "note", person_id, repr(u.at), " ".join(u.presets), u.text
        )
        parts += [
            "<pfif:note>",
            _field("note_record_id", note_id),
            _field("person_record_id", person_id),
            _field("entry_date", pfif_time(u.at)),
            _field("author_name", r.name),
            _field("source_date", pfif_time(u.at)),
            # A message with presets was written by the person (or staff with them); one without
            # came from Person Finder, where someone reported the person alive.
            _field("author_made_contact", "true"),
            _field("status", "is_note_author" if u.presets else "believed_alive"),
            _field("text", "\n".join([words[p] for p in u.presets] + ([u.text] if u.text else []))),
        ]
        if not for_person_finder:
            parts += [
                _field("presets", " ".join(u.presets), "odrift"),
                _field("text", u.text, "odrift"),
                _field("at", repr(u.at), "odrift"),  # to the fraction of a second, so a round trip is exact
            ]
        parts.append("</pfif:note>")
    parts.append("</pfif:person>")
    return "".join(parts)


# Reading -------------------------------------------------------------------------------------


class _OnePersonAtATime(TreeBuilder):
    """Builds the document's top-level elements (persons, loose notes) one at a time: each is
    handed to `on_element` when it ends, then dropped. Enforces the element count and field
    size limits, and remembers the line each element starts on, for error messages."""

    def __init__(self, on_element: Callable[[Element], None]) -> None:
        super().__init__()
        self.on_element = on_element
        self.lines: dict[int, int] = {}  # id(element) -> line, for the elements being read
        self.expat: XMLParserType | None = None
        self.depth = 0
        self.count = 0
        self.root: Element | None = None

    def start(self, tag: str, attrs: dict[str, str]) -> Element:
        element = super().start(tag, attrs)
        self.count += 1
        if self.count > MAX_ELEMENTS:
            raise PfifError(f"more than {MAX_ELEMENTS} elements; split the document and import the parts")
        self.lines[id(element)] = self.expat.CurrentLineNumber if self.expat is not None else 0
        if self.depth == 0:
            self.root = element
            if tag != _P + "pfif":
                raise PfifError(
                    f"the root element is <{tag}>, not <pfif:pfif> in the PFIF 1.4 namespace {PFIF_NS}; "
                    "export the records as PFIF 1.4"
                )
        self.depth += 1
        return element

    def end(self, tag: str) -> Element:
        element = super().end(tag)
        self.depth -= 1
        if len(element.text or "") > MAX_FIELD:
            name = element.tag.replace(_P, "pfif:").replace(_O, "odrift:")
            line = self.lines.get(id(element), "?")
            raise PfifError(f"<{name}> on line {line}: more than {MAX_FIELD} characters")
        if self.depth == 1 and self.root is not None:
            self.on_element(element)
            self.root.remove(element)
            root_line = self.lines.get(id(self.root), 1)
            self.lines.clear()
            self.lines[id(self.root)] = root_line
        return element


def _parse(source: BinaryIO, on_element: Callable[[Element], None], reader: _Reader) -> Iterator[None]:
    """Stream `source` (from where it is) through a defused expat parser, yielding after each
    chunk; PfifError for anything hostile or malformed, or over MAX_DOCUMENT bytes."""
    builder = _OnePersonAtATime(on_element)
    parser = SafeET.XMLParser(target=builder, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    builder.expat = parser.parser
    reader.lines = builder.lines  # error messages name the line of the element being read
    read = 0
    try:
        while chunk := source.read(1 << 16):
            read += len(chunk)
            if read > MAX_DOCUMENT:
                raise PfifError(
                    f"the document is over {MAX_DOCUMENT} bytes; at most {MAX_DOCUMENT} are read. "
                    "Split it and import the parts."
                )
            parser.feed(chunk)
            yield
        parser.close()
    except DefusedXmlException as exc:
        raise PfifError(
            f"refused hostile XML ({type(exc).__name__}: DTDs and entities are not allowed)"
        ) from None
    except SafeET.ParseError as exc:
        raise PfifError(f"not well-formed XML: {exc}") from None
    yield


def _parse_all(source: BinaryIO, on_element: Callable[[Element], None], reader: _Reader) -> None:
    for _ in _parse(source, on_element, reader):
        pass


@dataclass
class PfifImport:
    records: int = 0  # records read that the registry can hold
    skipped: list[str] = field(default_factory=list)  # "record id: why", never a name
    shortened: int = 0  # notes whose text was cut to the registry's limit


class _Reader:
    def __init__(self, now: float, ttl: float) -> None:
        self.lines: dict[int, int] = {}  # id(element) -> line, of the elements being read
        self.loose_lines: dict[int, int] = {}  # the same for the loose notes, kept between passes
        self.now = now
        self.ttl = ttl
        self.result = PfifImport()

    def where(self, el: Element) -> str:
        name = el.tag.replace(_P, "pfif:").replace(_O, "odrift:")
        return f"<{name}> on line {self.lines.get(id(el)) or self.loose_lines.get(id(el), '?')}"

    def text(self, el: Element, name: str, ns: str = _P, required: bool = False) -> str | None:
        found = el.findall(ns + name)
        prefix = "pfif" if ns == _P else "odrift"
        if len(found) > 1:
            raise PfifError(f"{self.where(found[1])}: <{prefix}:{name}> appears twice in one record")
        value = (found[0].text or "").strip() if found else ""
        if required and not value:
            raise PfifError(f"{self.where(el)}: <{prefix}:{name}> is missing or empty (PFIF 1.4 requires it)")
        return value or None

    def time(self, el: Element, name: str, required: bool = False, ns: str = _P) -> float | None:
        value = self.text(el, name, ns, required)
        if value is None:
            return None
        if not _TIME.match(value):
            raise PfifError(
                f"{self.where(el)}: <pfif:{name}> {value[:40]!r} is not a UTC time like 2026-03-01T12:00:00Z"
            )
        try:
            return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
        except ValueError:
            raise PfifError(f"{self.where(el)}: <pfif:{name}> {value!r} is not a real date") from None

    def record_id(self, el: Element, name: str) -> str:
        value = self.text(el, name, required=True)
        assert value is not None
        if not _RECORD_ID.match(value):
            raise PfifError(f"{self.where(el)}: <pfif:{name}> {value[:60]!r} is not of the form domain/id")
        return value

    def note(self, el: Element, person_id: str) -> tuple[str, float, Element]:
        """The checks PFIF 1.4 asks of every note, whatever we do with it."""
        note_id = self.record_id(el, "note_record_id")
        given = self.text(el, "person_record_id")
        if given is not None and given != person_id:
            raise PfifError(f"{self.where(el)}: note inside person {person_id!r} names person {given[:60]!r}")
        self.text(el, "author_name", required=True)
        at = self.time(el, "source_date", required=True)
        self.time(el, "entry_date")
        status = self.text(el, "status")
        if status is not None and status not in NOTE_STATUSES:
            raise PfifError(
                f"{self.where(el)}: <pfif:status> {status[:40]!r} is not one of {', '.join(NOTE_STATUSES)}"
            )
        contact = self.text(el, "author_made_contact")
        if contact is not None and contact not in ("true", "false"):
            raise PfifError(f"{self.where(el)}: <pfif:author_made_contact> must be true or false")
        assert at is not None
        return note_id, at, el

    def person(self, el: Element, loose_notes: list[Element]) -> PortableRecord | None:
        person_id = self.record_id(el, "person_record_id")
        full_name = self.text(el, "full_name", required=True)
        source_date = self.time(el, "source_date", required=True)
        entry_date = self.time(el, "entry_date")
        expiry_date = self.time(el, "expiry_date")
        assert full_name is not None and source_date is not None
        notes = [self.note(n, person_id) for n in [*el.findall(_P + "note"), *loose_notes]]
        created = entry_date or source_date
        # Never kept longer than this island keeps its own records.
        expires = min(expiry_date if expiry_date is not None else math.inf, self.now + self.ttl)
        if el.find(_O + "lookup_key") is not None:
            return self.ours(el, person_id, full_name, created, expires, notes)
        return self.plain(el, person_id, full_name, created, expires, notes)

    def ours(
        self,
        el: Element,
        person_id: str,
        full_name: str,
        created: float,
        expires: float,
        notes: list[tuple[str, float, Element]],
    ) -> PortableRecord:
        """A record from another Ödrift island: hashed key and code, presets by key; checked as strictly as JSON lines."""
        key = self.text(el, "lookup_key", _O, required=True)
        code_hash = self.text(el, "code_hash", _O, required=True)
        for name, value in (("lookup_key", key), ("code_hash", code_hash)):
            if not _HEX64.match(value or ""):
                raise PfifError(f"{self.where(el)}: <odrift:{name}> must be 64 hex digits")
        updates = []
        for note_id, at, n in notes:
            presets = (self.text(n, "presets", _O) or "").split()
            exact = self.text(n, "at", _O)
            text = n.findtext(_O + "text") or ""
            try:
                if exact is not None:
                    at_exact = float(exact)
                    if not math.isfinite(at_exact) or abs(at_exact - at) >= 1:
                        raise ValueError("odrift:at does not match pfif:source_date")
                    at = at_exact
                check_portable_message(presets, text)
            except ValueError as exc:
                raise PfifError(f"{self.where(n)}: {exc}") from None
            updates.append(PortableUpdate(at, presets, text, note_id))
        try:
            check_portable_name(full_name)
        except ValueError as exc:
            raise PfifError(f"{self.where(el)}: {exc}") from None
        if not updates:
            raise PfifError(f"{self.where(el)}: an Ödrift record has at least one note")
        assert key is not None and code_hash is not None
        return PortableRecord(key, full_name, code_hash, created, expires, updates, person_id)

    def plain(
        self,
        el: Element,
        person_id: str,
        full_name: str,
        created: float,
        expires: float,
        notes: list[tuple[str, float, Element]],
    ) -> PortableRecord | None:
        """A record from Person Finder: make the key from a clear identifier, then forget it."""
        updates = []
        for note_id, at, n in notes:
            if self.text(n, "status") not in ALIVE_STATUSES:
                continue  # missing, sought, dead or unknown: not a safe-and-well message
            text = clean_text(n.findtext(_P + "text") or "") or ALIVE_TEXT
            if len(text) > MAX_TEXT:
                text = text[: MAX_TEXT - 1] + "…"
                self.result.shortened += 1
            updates.append(PortableUpdate(at, [], text, note_id))
        if not updates:
            self.result.skipped.append(f"{person_id}: no note says the person is alive")
            return None
        # The newest note's phone first: it is the likeliest to be the one relatives know.
        phones = [self.text(n, "phone_of_found_person") for _, _, n in sorted(notes, key=lambda t: -t[1])]
        street, city = self.text(el, "home_street"), self.text(el, "home_city")
        candidates = [p for p in phones if p] + ([", ".join(filter(None, (street, city)))] if street else [])
        for identifier in candidates:
            try:
                name, key = key_for(full_name, identifier)
                break
            except RegistryError as exc:
                if "name" in exc.errors:
                    self.result.skipped.append(
                        f"{person_id}: the full name cannot be used ({exc.errors['name']})"
                    )
                    return None
        else:
            self.result.skipped.append(
                f"{person_id}: no phone number or home address to look the person up by"
            )
            return None
        return PortableRecord(key, name, foreign_code_hash(person_id), created, expires, updates, person_id)


def _check(source: BinaryIO, reader: _Reader) -> dict[str, list[Element]]:
    """Check the whole document from where `source` is (PfifError refuses it) and return the
    notes written outside their person, by person id: the only thing kept between passes."""
    start = source.tell()
    loose: dict[str, list[Element]] = {}
    seen: set[str] = set()  # bounded by MAX_DOCUMENT like the document itself
    first_problem: list[PfifError] = []

    def gather(el: Element) -> None:
        if el.tag == _P + "note":
            loose.setdefault(reader.record_id(el, "person_record_id"), []).append(el)
            reader.loose_lines.update((id(e), reader.lines.get(id(e), 0)) for e in el.iter())
        elif el.tag == _P + "person":
            person_id = reader.record_id(el, "person_record_id")
            if person_id in seen:
                raise PfifError(
                    f"{reader.where(el)}: person {person_id[:60]!r} appears twice in the document"
                )
            seen.add(person_id)
            if not first_problem:
                try:
                    reader.person(el, [])
                except PfifError as exc:  # perhaps only for want of its loose notes, seen below
                    first_problem.append(exc)

    def check_with_loose_notes(el: Element) -> None:
        if el.tag == _P + "person":
            reader.person(el, loose.get(reader.record_id(el, "person_record_id"), []))

    _parse_all(source, gather, reader)
    if loose:
        source.seek(start)
        _parse_all(source, check_with_loose_notes, reader)
    elif first_problem:
        raise first_problem[0]
    return loose


def read_pfif(source: BinaryIO, now: float, ttl: float, report: PfifImport) -> Iterator[PortableRecord]:
    """The records of a PFIF 1.4 document, checked as hostile input: PfifError, before the first
    record, refuses it whole. `source` is read more than once from where it is; `report` fills
    in as the records are read."""
    start = source.tell()
    loose = _check(source, _Reader(now, ttl))
    source.seek(start)
    reader = _Reader(now, ttl)
    reader.result = report
    ready: list[PortableRecord] = []

    def take(el: Element) -> None:
        if el.tag == _P + "person":
            record = reader.person(el, loose.pop(reader.record_id(el, "person_record_id"), []))
            if record is not None:
                ready.append(record)

    for _ in _parse(source, take, reader):
        report.records += len(ready)
        yield from ready
        ready.clear()
    for person_id in loose:
        report.skipped.append(f"{person_id}: notes for a person not in this document")


def import_pfif(registry: Registry, source: bytes | BinaryIO) -> tuple[int, PfifImport]:
    """Add the records in a PFIF 1.4 document (bytes, or a binary file that can seek); (new
    messages, what was read). Checked whole before anything is stored, then stored in batches.
    Twice changes nothing."""
    if isinstance(source, bytes):
        if len(source) > MAX_DOCUMENT:
            raise PfifError(
                f"the document is {len(source)} bytes; at most {MAX_DOCUMENT} are read. "
                "Split it and import the parts."
            )
        source = io.BytesIO(source)
    report = PfifImport()
    records = read_pfif(source, registry.now(), registry.ttl, report)
    first = next(records, None)  # the checking passes run here: a bad document stores nothing
    if first is None:
        return 0, report
    return registry.import_records(_then(first, records)), report


def _then(first: PortableRecord, rest: Iterator[PortableRecord]) -> Iterator[PortableRecord]:
    yield first
    yield from rest
