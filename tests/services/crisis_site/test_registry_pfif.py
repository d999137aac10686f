"""PFIF 1.4 export and import of safe-and-well records: round trips, Person Finder documents, hostile input."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from site_helpers import Clock

from services.crisis_site import pfif
from services.crisis_site.pfif import PfifError, export_pfif, import_pfif
from services.crisis_site.registry import Registry

NS = "http://zesty.ca/pfif/1.4"
P = "{" + NS + "}"
# The PFIF 1.4 spec's order of fields, written out here independently of the module.
SPEC_PERSON = [
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
]
SPEC_NOTE = [
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
]
UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


@pytest.fixture
def island(tmp_path: Path, clock: Clock) -> Registry:
    r = Registry(tmp_path / "a" / "site.sqlite3", ttl=3600.0, clock=clock)
    yield r
    r.close()


@pytest.fixture
def other(tmp_path: Path, clock: Clock) -> Registry:
    r = Registry(tmp_path / "b" / "site.sqlite3", ttl=3600.0, clock=clock)
    yield r
    r.close()


def _fill(reg: Registry, clock: Clock) -> str:
    code = reg.register("Åsa Öberg", "070-123 45 67", ["safe", "at_point"], "Hej <b> & välkomna")
    clock.now += 61.25
    reg.add_update(code, ["with_family"])
    reg.register("Karl Berg", "Storgatan 3, Ödsbyn", ["will_contact"])
    return code


def test_round_trip_to_another_island_keeps_lookups_and_the_code(
    island: Registry, other: Registry, clock: Clock
) -> None:
    code = _fill(island, clock)
    document = b"".join(export_pfif(island.export_records(), "odsbyn.odrift.se", "Ödrift Ödsbyn"))
    added, report = import_pfif(other, document)
    assert added == 3 and report.skipped == [] and other.count() == 2
    assert import_pfif(other, document)[0] == 0 and other.count() == 2  # twice changes nothing
    assert island.lookup("asa oberg", "+46701234567") == other.lookup("ÅSA ÖBERG", "0701234567")
    assert [f.name for f in other.lookup("karl berg", "storgatan 3 odsbyn")] == ["Karl Berg"]
    assert other.lookup("Åsa Öberg", "070-123 45 68") == []
    assert other.add_update(code, ["need_nothing"])  # the person's own code works there too
    # The other island passes the records on under their first ids.
    again = b"".join(export_pfif(other.export_records(), "annat.odrift.se", "Ödrift Ödsbyn"))

    def person_ids(doc: bytes) -> list[str]:
        return [p.findtext(P + "person_record_id") for p in ET.fromstring(doc).iter(P + "person")]

    assert person_ids(again) == person_ids(document)
    assert all(i.startswith("odsbyn.odrift.se/person.") for i in person_ids(document))


def test_exported_xml_is_pfif_1_4_and_holds_no_identifier(island: Registry, clock: Clock) -> None:
    _fill(island, clock)
    for person_finder in (False, True):
        document = b"".join(
            export_pfif(
                island.export_records(), "odsbyn.odrift.se", "Ödrift", for_person_finder=person_finder
            )
        )
        root = ET.fromstring(document)
        assert root.tag == P + "pfif"
        persons = root.findall(P + "person")
        assert len(persons) == 2
        for person in persons:
            fields = [c.tag[len(P) :] for c in person if c.tag.startswith(P) and c.tag != P + "note"]
            assert fields == sorted(fields, key=SPEC_PERSON.index)  # spec order (raises on unknown names)
            assert {"person_record_id", "source_date", "full_name"} <= set(fields)
            assert re.match(r"^[a-z0-9.-]+/\S+$", person.findtext(P + "person_record_id"))
            for tag in ("entry_date", "expiry_date", "source_date"):
                assert UTC.match(person.findtext(P + tag))
            notes = person.findall(P + "note")
            assert notes
            for note in notes:
                fields = [c.tag[len(P) :] for c in note if c.tag.startswith(P)]
                assert fields == sorted(fields, key=SPEC_NOTE.index)
                assert {"note_record_id", "author_name", "source_date", "text"} <= set(fields)
                assert note.findtext(P + "status") == "is_note_author" and UTC.match(
                    note.findtext(P + "source_date")
                )
                assert note.findtext(P + "person_record_id") == person.findtext(P + "person_record_id")
        texts = [n.findtext(P + "text") for n in root.iter(P + "note")]
        assert (
            "Jag är i säkerhet och mår bra. / I am safe and well." in texts[0]
            and "Hej <b> & välkomna" in texts[0]
        )
        raw = document.decode("utf-8")
        for secret in ("0701234567", "701234567", "070-123", "Storgatan", "storgatan", "Ödsbyn,"):
            assert secret not in raw
        for place in ("home_", "last_known_location", "phone_of_found_person"):
            assert place not in raw
        keys = [r.key for r in island.export_records()] + [r.code_hash for r in island.export_records()]
        if person_finder:
            assert pfif.ODRIFT_NS not in raw and "lookup_key" not in raw and not any(k in raw for k in keys)
        else:
            assert all(k in raw for k in keys)


PERSON_FINDER = """<?xml version="1.0" encoding="UTF-8"?>
<pfif:pfif xmlns:pfif="http://zesty.ca/pfif/1.4" xmlns:x="urn:example:other">
  <pfif:person>
    <pfif:person_record_id>google.org/person.1</pfif:person_record_id>
    <pfif:entry_date>2027-01-15T08:00:00Z</pfif:entry_date>
    <pfif:expiry_date>2028-01-15T08:00:00Z</pfif:expiry_date>
    <pfif:source_date>2027-01-15T08:00:00Z</pfif:source_date>
    <pfif:full_name>Märta Lind</pfif:full_name>
    <pfif:home_street>Sjövägen 12</pfif:home_street>
    <pfif:home_city>Ödsbyn</pfif:home_city>
    <x:whatever>ignored</x:whatever>
    <pfif:note>
      <pfif:note_record_id>google.org/note.1</pfif:note_record_id>
      <pfif:author_name>Per Lind</pfif:author_name>
      <pfif:source_date>2027-01-15T09:00:00Z</pfif:source_date>
      <pfif:status>believed_alive</pfif:status>
      <pfif:phone_of_found_person>+46 70-765 43 21</pfif:phone_of_found_person>
      <pfif:last_known_location>Ödsbyns skola</pfif:last_known_location>
      <pfif:text>Hon mår bra.</pfif:text>
    </pfif:note>
    <pfif:note>
      <pfif:note_record_id>google.org/note.2</pfif:note_record_id>
      <pfif:author_name>Per Lind</pfif:author_name>
      <pfif:source_date>2027-01-15T07:00:00Z</pfif:source_date>
      <pfif:status>information_sought</pfif:status>
      <pfif:text>Var är mamma?</pfif:text>
    </pfif:note>
  </pfif:person>
  <pfif:person>
    <pfif:person_record_id>google.org/person.2</pfif:person_record_id>
    <pfif:source_date>2027-01-15T08:00:00Z</pfif:source_date>
    <pfif:full_name>Olle Ek</pfif:full_name>
    <pfif:home_street>Kyrkbacken 4</pfif:home_street>
    <pfif:home_city>Ödsbyn</pfif:home_city>
  </pfif:person>
  <pfif:note>
    <pfif:note_record_id>google.org/note.3</pfif:note_record_id>
    <pfif:person_record_id>google.org/person.2</pfif:person_record_id>
    <pfif:author_name>Olle Ek</pfif:author_name>
    <pfif:source_date>2027-01-15T10:00:00Z</pfif:source_date>
    <pfif:status>is_note_author</pfif:status>
  </pfif:note>
  <pfif:person>
    <pfif:person_record_id>google.org/person.3</pfif:person_record_id>
    <pfif:source_date>2027-01-15T08:00:00Z</pfif:source_date>
    <pfif:full_name>Utan Uppgift</pfif:full_name>
    <pfif:note>
      <pfif:note_record_id>google.org/note.4</pfif:note_record_id>
      <pfif:author_name>Någon</pfif:author_name>
      <pfif:source_date>2027-01-15T08:00:00Z</pfif:source_date>
      <pfif:status>believed_alive</pfif:status>
    </pfif:note>
  </pfif:person>
  <pfif:person>
    <pfif:person_record_id>google.org/person.4</pfif:person_record_id>
    <pfif:source_date>2027-01-15T08:00:00Z</pfif:source_date>
    <pfif:full_name>Saknad Person</pfif:full_name>
    <pfif:home_street>Byvägen 1</pfif:home_street>
    <pfif:note>
      <pfif:note_record_id>google.org/note.5</pfif:note_record_id>
      <pfif:author_name>Någon</pfif:author_name>
      <pfif:source_date>2027-01-15T08:00:00Z</pfif:source_date>
      <pfif:status>believed_missing</pfif:status>
    </pfif:note>
  </pfif:person>
</pfif:pfif>
"""


def test_person_finder_document_is_looked_up_without_keeping_the_identifier(
    tmp_path: Path, island: Registry, clock: Clock
) -> None:
    added, report = import_pfif(island, PERSON_FINDER.encode())
    assert added == 2 and island.count() == 2
    assert report.skipped == [
        "google.org/person.3: no phone number or home address to look the person up by",
        "google.org/person.4: no note says the person is alive",
    ]
    assert import_pfif(island, PERSON_FINDER.encode())[0] == 0 and island.count() == 2
    # The phone on the newest "alive" note is the key; any Swedish format finds her.
    found = island.lookup("marta lind", "070-765 43 21")
    assert [(f.name, [(u.presets, u.text) for u in f.updates]) for f in found] == [
        ("Märta Lind", [([], "Hon mår bra.")])
    ]
    assert island.lookup("Märta Lind", "Sjövägen 12, Ödsbyn") == []  # one key per record: the phone won
    olle = island.lookup("Olle Ek", "kyrkbacken 4 odsbyn")
    assert [u.text for u in olle[0].updates] == [pfif.ALIVE_TEXT]
    island.close()
    raw = b"".join(p.read_bytes() for p in (tmp_path / "a").iterdir())
    for clear in (
        "0707654321",
        "707654321",
        "765 43 21",
        "Sjövägen",
        "sjovagen",
        "Kyrkbacken",
        "kyrkbacken",
        "skola",
        "Var är mamma",
    ):
        assert clear.encode() not in raw, clear
    assert "Märta Lind".encode() in raw  # the file is read for real: the name is there
    # Never kept longer than the island's own records, whatever Person Finder's expiry says.
    reopened = Registry(tmp_path / "a" / "site.sqlite3", ttl=3600.0, clock=clock)
    clock.now += 3600
    assert reopened.lookup("marta lind", "070-765 43 21") == []
    reopened.close()


def test_person_finder_records_are_not_sent_back_there(island: Registry, clock: Clock) -> None:
    import_pfif(island, PERSON_FINDER.encode())
    island.register("Karl Berg", "Storgatan 3", ["safe"])
    to_pf = b"".join(
        export_pfif(island.export_records(), "odsbyn.odrift.se", "Ödrift", for_person_finder=True)
    )
    assert b"google.org" not in to_pf and to_pf.count(b"<pfif:person>") == 1
    between = b"".join(export_pfif(island.export_records(), "odsbyn.odrift.se", "Ödrift"))
    assert between.count(b"<pfif:person>") == 3 and b"google.org/person.1" in between


def _doc(person: str) -> bytes:
    good = (
        "<pfif:person><pfif:person_record_id>google.org/p.ok</pfif:person_record_id>"
        "<pfif:source_date>2027-01-15T08:00:00Z</pfif:source_date><pfif:full_name>Karl Berg</pfif:full_name>"
        "<pfif:home_street>Byvägen 1</pfif:home_street><pfif:note><pfif:note_record_id>google.org/n.ok"
        "</pfif:note_record_id><pfif:author_name>K</pfif:author_name><pfif:source_date>2027-01-15T08:00:00Z"
        "</pfif:source_date><pfif:status>is_note_author</pfif:status></pfif:note></pfif:person>"
    )
    return (
        f'<pfif:pfif xmlns:pfif="{NS}" xmlns:odrift="{pfif.ODRIFT_NS}">{good}\n{person}</pfif:pfif>'.encode()
    )


def _person(*fields: str, note: str = "", pid: str = "google.org/p.2") -> str:
    base = {"person_record_id": pid, "source_date": "2027-01-15T08:00:00Z", "full_name": "Anna Ek"}
    for f in fields:
        key, _, value = f.partition("=")
        base[key] = value
    inner = "".join(
        f"<pfif:{k}>{v}</pfif:{k}>" if not k.startswith("odrift:") else f"<{k}>{v}</{k}>"
        for k, v in base.items()
        if v != "DROP"
    )
    return f"<pfif:person>{inner}<pfif:home_street>Byvägen 2</pfif:home_street>{note}</pfif:person>"


NOTE = (
    "<pfif:note><pfif:note_record_id>google.org/n.2</pfif:note_record_id><pfif:author_name>A</pfif:author_name>"
    "<pfif:source_date>{date}</pfif:source_date><pfif:status>{status}</pfif:status>{extra}</pfif:note>"
)


def _note(date: str = "2027-01-15T08:00:00Z", status: str = "believed_alive", extra: str = "") -> str:
    return NOTE.format(date=date, status=status, extra=extra)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"this is not xml", "not well-formed XML"),
        (
            b'<?xml version="1.0"?><!DOCTYPE b [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
            b'<pfif:pfif xmlns:pfif="http://zesty.ca/pfif/1.4">&b;</pfif:pfif>',
            "hostile XML",
        ),
        (b'<!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]><p>&x;</p>', "hostile XML"),
        (
            _doc(_person()).replace(NS.encode(), b"http://zesty.ca/pfif/1.3"),
            "not <pfif:pfif> in the PFIF 1.4 namespace",
        ),
        (_doc(_person("full_name=DROP", note=_note())), "<pfif:full_name> is missing"),
        (_doc(_person("source_date=2027-13-01T00:00:00Z", note=_note())), "not a real date"),
        (_doc(_person(note=_note(date="2027-01-15 08:00:00"))), "not a UTC time"),
        (_doc(_person(note=_note(status="fine"))), "<pfif:status> 'fine' is not one of"),
        (_doc(_person("person_record_id=no-slash", note=_note())), "not of the form domain/id"),
        (
            _doc(_person(note=_note(extra="<pfif:text>" + "x" * 10_001 + "</pfif:text>"))),
            "more than 10000 characters",
        ),
        (_doc(_person(pid="google.org/p.ok", note=_note())), "appears twice in the document"),
        (
            _doc(_person(note=_note().replace("<pfif:author_name>A</pfif:author_name>", ""))),
            "<pfif:author_name> is missing",
        ),
        (
            _doc(
                _person(note=_note(extra="<pfif:person_record_id>google.org/other</pfif:person_record_id>"))
            ),
            "names person",
        ),
        (
            _doc(_person("odrift:lookup_key=" + "z" * 64, "odrift:code_hash=" + "a" * 64, note=_note())),
            "<odrift:lookup_key> must be 64 hex digits",
        ),
        (
            _doc(
                _person(
                    "odrift:lookup_key=" + "a" * 64,
                    "odrift:code_hash=" + "b" * 64,
                    note=_note(extra="<odrift:presets>safe evil</odrift:presets>"),
                )
            ),
            "unknown preset message",
        ),
    ],
)
def test_malformed_or_hostile_documents_are_refused_whole(
    island: Registry, document: bytes, message: str
) -> None:
    with pytest.raises(PfifError, match=re.escape(message)):
        import_pfif(island, document)
    assert island.count() == 0


def test_errors_name_the_line(island: Registry) -> None:
    with pytest.raises(PfifError, match=r"<pfif:person> on line 2: <pfif:full_name> is missing"):
        import_pfif(island, _doc(_person("full_name=DROP", note=_note())))


def test_a_valid_document_of_the_same_shape_is_taken(island: Registry) -> None:
    # The hostile cases above differ from this one in one element each: so each refusal is about that element.
    added, report = import_pfif(island, _doc(_person(note=_note())))
    assert added == 2 and report.skipped == [] and island.count() == 2


def test_oversized_documents_are_refused_before_parsing(
    island: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pfif, "MAX_DOCUMENT", 100)
    with pytest.raises(PfifError, match="at most 100 are read"):
        import_pfif(island, _doc(_person(note=_note())))
    assert island.count() == 0


def test_long_person_finder_texts_are_cut_and_counted(island: Registry) -> None:
    _, report = import_pfif(
        island, _doc(_person(note=_note(extra="<pfif:text>" + "å" * 500 + "</pfif:text>")))
    )
    assert report.shortened == 1
    text = island.lookup("anna ek", "byvägen 2")[0].updates[0].text
    assert len(text) == 200 and text.endswith("…")


def test_files_from_before_pfif_are_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE registry_records (id INTEGER PRIMARY KEY AUTOINCREMENT, lookup_key TEXT NOT NULL,
            name TEXT NOT NULL, code_hash TEXT NOT NULL UNIQUE, created REAL NOT NULL, expires REAL NOT NULL);
        CREATE TABLE registry_updates (id INTEGER PRIMARY KEY AUTOINCREMENT, record_id INTEGER NOT NULL
            REFERENCES registry_records(id) ON DELETE CASCADE, at REAL NOT NULL, presets TEXT NOT NULL, text TEXT NOT NULL);
    """)
    db.close()
    reg = Registry(path)
    reg.register("Karl Berg", "Byvägen 1", ["safe"])
    assert import_pfif(reg, PERSON_FINDER.encode())[0] == 2
    assert reg.lookup("Karl Berg", "Byvägen 1") and reg.lookup("Olle Ek", "Kyrkbacken 4, Ödsbyn")
    reg.close()
