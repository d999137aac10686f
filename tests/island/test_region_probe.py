"""The region probe's verdict on the places' /api/region.json answers: converged only when every
place holds the same records and every island the same crisis messages, the hub's among them."""

from __future__ import annotations

import pytest

from island.probes import _Failed, region_converged


def answer(records: int, messages: int, crisis: list[str]) -> dict:
    return {"records": records, "messages": messages, "crisis_messages": crisis}


def test_the_same_everywhere_is_converged() -> None:
    places = {p: answer(3, 4, ["m1", "m2"]) for p in ("a", "b", "c")}
    places["hub"] = answer(3, 4, ["m2"])  # a message the hub no longer shows may stay on the islands
    assert region_converged(places, min_records=1) == "converged: 3 records, 2 crisis messages, 4 places"


@pytest.mark.parametrize(
    ("places", "says"),
    [
        (
            {"hub": answer(3, 3, []), "a": answer(2, 2, [])},
            "registry counts (records, messages) differ: hub (3, 3), a (2, 2)",
        ),
        ({"hub": answer(3, 3, []), "a": answer(3, 4, [])}, "registry counts"),
        ({"a": answer(1, 1, ["m1"]), "c": answer(1, 1, [])}, "crisis messages differ: a 1, c 0"),
        (
            {"hub": answer(1, 1, ["m9"]), "a": answer(1, 1, ["m1"])},
            "1 of the hub's crisis messages are not on the islands",
        ),
        ({"hub": answer(0, 0, []), "a": answer(0, 0, [])}, "0 records everywhere, fewer than 1"),
    ],
)
def test_anything_apart_is_not(places: dict, says: str) -> None:
    with pytest.raises(_Failed, match=r"^" + says.replace("(", r"\(").replace(")", r"\)")) as failed:
        region_converged(places, min_records=1)
    assert failed.value.status == "fail"
