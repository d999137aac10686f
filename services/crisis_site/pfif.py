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
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from xml.etree.ElementTree import Element, SubElement, TreeBuilder, register_namespace, tostring

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


def _add(parent: Element, name: str, value: str | None, ns: str = _P) -> None:
    if value is not None:
        SubElement(parent, ns + name).text = value


def export_pfif(
    records: Iterable[PortableRecord], domain: str, source_name: str, for_person_finder: bool = False
) -> bytes:
    """A PFIF 1.4 document of the records. `domain` (this island's domain name) begins the id of
    every record made here; a record that came from elsewhere keeps the id it came with."""
    if not _DOMAIN.match(domain):
        raise ValueError(f"not a domain name: {domain!r} (for example odsbyn.odrift.se)")
    register_namespace("pfif", PFIF_NS)
    register_namespace("odrift", ODRIFT_NS)
    words = _preset_texts()
    root = Element(_P + "pfif")
    for r in records:
        if for_person_finder and came_from_person_finder(r):
            continue  # it came from Person Finder; sending it back would only duplicate it there
        person_id = r.pfif_id or _derived_id(domain, "person", r.code_hash)
        person = SubElement(root, _P + "person")
        _add(person, "person_record_id", person_id)
        _add(person, "entry_date", pfif_time(r.created))
        _add(person, "expiry_date", pfif_time(r.expires))
        _add(person, "author_name", r.name)
        _add(person, "source_name", source_name)
        _add(person, "source_date", pfif_time(r.created))
        _add(person, "full_name", r.name)
        if not for_person_finder:
            _add(person, "lookup_key", r.key, _O)
            _add(person, "code_hash", r.code_hash, _O)
        for u in r.updates:
            note = SubElement(person, _P + "note")
            note_id = u.pfif_id or _derived_id(
                person_id.split("/", 1)[0], "note", person_id, repr(u.at), " ".join(u.presets), u.text
            )
            _add(note, "note_record_id", note_id)
            _add(note, "person_record_id", person_id)
            _add(note, "entry_date", pfif_time(u.at))
            _add(note, "author_name", r.name)
            _add(note, "source_date", pfif_time(u.at))
            # A message with presets was written by the person (or staff with them); one without
            # came from Person Finder, where someone reported the person alive.
            _add(note, "author_made_contact", "true")
            _add(note, "status", "is_note_author" if u.presets else "believed_alive")
            _add(note, "text", "\n".join([words[p] for p in u.presets] + ([u.text] if u.text else [])))
            if not for_person_finder:
                _add(note, "presets", " ".join(u.presets), _O)
                _add(note, "text", u.text, _O)
                _add(note, "at", repr(u.at), _O)  # to the fraction of a second, so a round trip is exact
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + tostring(
        root, encoding="utf-8", xml_declaration=False
    )


# Reading -------------------------------------------------------------------------------------


class _LineNumbers(TreeBuilder):
    """A tree builder that remembers the line each element starts on, for error messages."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[int, int] = {}
        self.expat = None

    def start(self, tag, attrs):  # type: ignore[override]
        element = super().start(tag, attrs)
        self.lines[id(element)] = self.expat.CurrentLineNumber if self.expat is not None else 0
        return element


@dataclass
class PfifImport:
    records: list[PortableRecord] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "record id: why", never a name
    shortened: int = 0  # notes whose text was cut to the registry's limit


class _Reader:
    def __init__(self, lines: dict[int, int], now: float, ttl: float) -> None:
        self.lines = lines
        self.now = now
        self.ttl = ttl
        self.result = PfifImport()

    def where(self, el: Element) -> str:
        name = el.tag.replace(_P, "pfif:").replace(_O, "odrift:")
        return f"<{name}> on line {self.lines.get(id(el), '?')}"

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

    def person(self, el: Element, loose_notes: list[Element]) -> None:
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
            self.ours(el, person_id, full_name, created, expires, notes)
        else:
            self.plain(el, person_id, full_name, created, expires, notes)

    def ours(
        self,
        el: Element,
        person_id: str,
        full_name: str,
        created: float,
        expires: float,
        notes: list[tuple[str, float, Element]],
    ) -> None:
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
        self.result.records.append(
            PortableRecord(key, full_name, code_hash, created, expires, updates, person_id)
        )

    def plain(
        self,
        el: Element,
        person_id: str,
        full_name: str,
        created: float,
        expires: float,
        notes: list[tuple[str, float, Element]],
    ) -> None:
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
            return
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
                    return
        else:
            self.result.skipped.append(
                f"{person_id}: no phone number or home address to look the person up by"
            )
            return
        self.result.records.append(
            PortableRecord(key, name, foreign_code_hash(person_id), created, expires, updates, person_id)
        )


def parse_pfif(body: bytes, now: float, ttl: float) -> PfifImport:
    """The records in a PFIF 1.4 document, checked as hostile input; PfifError refuses it whole."""
    if len(body) > MAX_DOCUMENT:
        raise PfifError(
            f"the document is {len(body)} bytes; at most {MAX_DOCUMENT} are read. Split it and import the parts."
        )
    builder = _LineNumbers()
    parser = SafeET.XMLParser(target=builder, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    builder.expat = parser.parser
    try:
        parser.feed(body)
        root = parser.close()
    except DefusedXmlException as exc:
        raise PfifError(
            f"refused hostile XML ({type(exc).__name__}: DTDs and entities are not allowed)"
        ) from None
    except SafeET.ParseError as exc:
        raise PfifError(f"not well-formed XML: {exc}") from None
    if root.tag != _P + "pfif":
        raise PfifError(
            f"the root element is <{root.tag}>, not <pfif:pfif> in the PFIF 1.4 namespace {PFIF_NS}; "
            "export the records as PFIF 1.4"
        )
    reader = _Reader(builder.lines, now, ttl)
    for count, el in enumerate(root.iter(), 1):
        if count > MAX_ELEMENTS:
            raise PfifError(f"more than {MAX_ELEMENTS} elements; split the document and import the parts")
        if len(el.text or "") > MAX_FIELD:
            raise PfifError(f"{reader.where(el)}: more than {MAX_FIELD} characters")
    loose: dict[str, list[Element]] = {}
    for note in root.findall(_P + "note"):
        loose.setdefault(reader.record_id(note, "person_record_id"), []).append(note)
    seen: set[str] = set()
    for person in root.findall(_P + "person"):
        person_id = reader.record_id(person, "person_record_id")
        if person_id in seen:
            raise PfifError(
                f"{reader.where(person)}: person {person_id[:60]!r} appears twice in the document"
            )
        seen.add(person_id)
        reader.person(person, loose.pop(person_id, []))
    for person_id in loose:
        reader.result.skipped.append(f"{person_id}: notes for a person not in this document")
    return reader.result


def import_pfif(registry: Registry, body: bytes) -> tuple[int, PfifImport]:
    """Add the records in a PFIF 1.4 document; (new messages, what was read). Twice changes nothing."""
    parsed = parse_pfif(body, registry.now(), registry.ttl)
    return registry.import_records(parsed.records), parsed
