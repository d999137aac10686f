"""The browser tier for the safe-and-well registry: real Chromium with JavaScript switched OFF, on an
island whose uplink is cut, at a phone's size. A person registers, a relative in another browser
finds them by name and phone number written differently, the person adds an update and deletes
the record with their code; axe-core checks the form, result and error pages.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_test_helpers import OUTPUT, PHONE, ROOT, axe_violations, cut_island, launch_chromium
from island_test_helpers import IslandCLI, island_net

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

NET = island_net(9)
# A phone of a few years ago: small screen, no JavaScript (switched off, or too old for the scripts).
NO_SCRIPT_PHONE = {
    "viewport": PHONE,
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "java_script_enabled": False,
    "locale": "sv-SE",
}


@pytest.fixture(scope="module")
def island(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IslandCLI]:
    with cut_island(tmp_path_factory.mktemp("registry-browser-island"), NET) as cli:
        yield cli


def main_text(page: Any) -> str:
    return page.locator("main").inner_text()


def look_up(page: Any, url: str, name: str, identifier: str) -> str:
    page.goto(url + "anhoriga/sok", wait_until="load")
    page.get_by_label("Fullständigt namn").fill(name)
    page.get_by_label("Telefonnummer eller hemadress (från före krisen)").fill(identifier)
    page.get_by_role("button", name="Sök").click()
    page.wait_for_load_state("load")
    return main_text(page)


def no_sideways_scrolling(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], page.url


def test_register_look_up_update_and_delete_with_javascript_off(island: IslandCLI, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    status = island.status()
    assert status["uplink"] == "cut"
    url = status["site"]["by_name"]
    OUTPUT.mkdir(exist_ok=True)

    with sync_playwright() as p:
        browser = launch_chromium(p, status, tmp_path, NET)
        try:
            person = browser.new_context(**NO_SCRIPT_PHONE).new_page()
            relative = browser.new_context(**NO_SCRIPT_PHONE).new_page()  # another phone: no shared cookies
            hosts: set[str] = set()
            for page in (person, relative):
                page.on("request", lambda r: hosts.add(r.url.split("/")[2]))

            # The crisis page leads to the registry; the registry's form is plain HTML.
            person.goto(url, wait_until="load")
            person.get_by_role("link", name="Meddela att du är OK, eller sök efter en anhörig").click()
            person.get_by_role("link", name="Meddela att du är OK").click()
            assert person.url.endswith("/anhoriga/registrera?lang=sv")
            assert person.locator("script").count() == 0
            no_sideways_scrolling(person)
            screenshot = OUTPUT / "registry-form-phone.png"
            person.screenshot(path=str(screenshot), full_page=True)
            if os.environ.get("ISLAND_UPDATE_DOCS") == "1":
                shutil.copyfile(screenshot, ROOT / "docs" / "registry-form-phone.png")

            # A field left empty: the page says what is wrong, and keeps everything else typed.
            person.get_by_label("Telefonnummer eller hemadress (från före krisen)").fill("+46 70-123 45 67")
            person.get_by_label("Jag är i säkerhet och mår bra.").check()
            person.get_by_label("Jag bor hos familj eller vänner.").check()
            person.get_by_label("Eget meddelande (frivilligt, högst 200 tecken)").fill("Hälsa mamma & pappa")
            person.get_by_role("button", name="Skicka").click()
            assert person.locator("#fel").inner_text() == "Det gick inte att spara. Rätta fälten nedan."
            name = person.get_by_label("Fullständigt namn")
            assert name.get_attribute("aria-invalid") == "true"
            assert person.locator("#e-name").inner_text() == "Fältet får inte vara tomt."
            assert (
                person.get_by_label("Telefonnummer eller hemadress (från före krisen)").input_value()
                == "+46 70-123 45 67"
            )
            assert person.get_by_label("Jag är i säkerhet och mår bra.").is_checked()
            assert person.get_by_label("Jag bor hos familj eller vänner.").is_checked()
            assert not person.get_by_label("Jag är på en trygghetspunkt.").is_checked()
            assert (
                person.get_by_label("Eget meddelande (frivilligt, högst 200 tecken)").input_value()
                == "Hälsa mamma & pappa"
            )
            no_sideways_scrolling(person)
            person.screenshot(path=str(OUTPUT / "registry-form-phone-error.png"), full_page=True)

            name.fill("Åsa Öberg-Lind")
            person.get_by_role("button", name="Skicka").click()
            assert person.locator("#registrerad").inner_text() == "Du är registrerad."
            code = person.locator("#kod").inner_text()
            assert len(code) == 19 and code.count("-") == 3
            no_sideways_scrolling(person)

            # The relative, on another phone, writes the name and the number their own way.
            found = look_up(relative, url, "ÅSA oberg lind", "0701234567")
            assert "Meddelanden från Åsa Öberg-Lind" in found
            assert "Jag är i säkerhet och mår bra." in found and "Jag bor hos familj eller vänner." in found
            assert "Hälsa mamma & pappa" in found
            # Only the name, times and messages: not the number in any form, no address, no place.
            for secret in ("070", "123 45 67", "+46", "1234567"):
                assert secret not in found, secret
            assert relative.locator("main form").count() == 0 and relative.locator("main input").count() == 0

            # A wrong number and an unknown name give the very same page.
            wrong = look_up(relative, url, "Åsa Öberg-Lind", "070-123 45 68")
            unknown = look_up(relative, url, "Ingen Alls", "070-123 45 67")
            assert wrong == unknown
            assert "Vi hittade ingen registrering med det namnet och den uppgiften." in wrong

            # The person adds an update with the code; the first message stays.
            person.goto(url + "anhoriga/andra", wait_until="load")
            person.locator("#f-code").fill(code.lower())
            person.get_by_label("Jag är på en trygghetspunkt.").check()
            person.get_by_role("button", name="Lägg till meddelandet").click()
            assert person.locator("#klart").inner_text() == "Ditt meddelande är sparat."
            again = look_up(relative, url, "asa oberg lind", "+46 (0)70 123 45 67")
            assert relative.locator("article.msg").count() == 2
            assert again.index("Hälsa mamma & pappa") < again.index("Jag är på en trygghetspunkt.")

            # And deletes the record with the code: the relative finds nothing any more.
            person.goto(url + "anhoriga/andra", wait_until="load")
            person.locator("#f-delete-code").fill(code)
            person.get_by_role("button", name="Ta bort mina uppgifter").click()
            assert person.locator("#klart").inner_text() == "Dina uppgifter är borttagna."
            assert look_up(relative, url, "Åsa Öberg-Lind", "0701234567") == unknown

            assert hosts == {url.split("/")[2]}, f"every request stays on the island: {hosts}"
        finally:
            browser.close()


def test_arabic_form_is_right_to_left_and_every_registry_page_passes_axe(
    island: IslandCLI, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    status = island.status()
    url = status["site"]["by_name"]
    with sync_playwright() as p:
        browser = launch_chromium(p, status, tmp_path, NET)
        try:
            arabic = browser.new_context(**NO_SCRIPT_PHONE).new_page()
            arabic.goto(url + "anhoriga/registrera?lang=ar", wait_until="load")
            assert arabic.evaluate("[document.documentElement.lang, document.documentElement.dir]") == [
                "ar",
                "rtl",
            ]
            assert arabic.evaluate("getComputedStyle(document.querySelector('form')).direction") == "rtl"
            # Right to left on screen: the name field's label starts at the right edge.
            box = arabic.locator("label[for=f-name]").bounding_box()
            field = arabic.locator("#f-name").bounding_box()
            assert box is not None and field is not None
            assert field["x"] + field["width"] > PHONE["width"] - 40, field
            no_sideways_scrolling(arabic)
            arabic.screenshot(path=str(OUTPUT / "registry-form-phone-ar.png"), full_page=True)

            # axe is a script: this context allows scripts (and bypasses the page's CSP) only to run it.
            checked = browser.new_context(viewport=PHONE, bypass_csp=True).new_page()

            def axe_clean(what: str) -> None:
                assert axe_violations(checked) == [], what
                no_sideways_scrolling(checked)

            for form in (
                "anhoriga",
                "anhoriga/registrera",
                "anhoriga/registrera?lang=ar",
                "anhoriga/sok?lang=so",
                "anhoriga/andra?lang=sv-x-ll",
            ):
                checked.goto(url + form, wait_until="load")
                axe_clean(form)
            # The error page: a form sent with every field wrong.
            checked.goto(url + "anhoriga/registrera?lang=fi", wait_until="load")
            checked.locator("#f-identifier").fill("12")
            checked.locator("button").click()
            checked.wait_for_load_state("load")
            assert checked.locator("#fel").count() == 1
            axe_clean("error page")
            # The code page, the result page with messages, and the miss page.
            checked.goto(url + "anhoriga/registrera?lang=ar", wait_until="load")
            checked.locator("#f-name").fill("Fatima Al-Sayed")
            checked.locator("#f-identifier").fill("0731234567")
            checked.locator("input[value=safe]").check()
            checked.locator("#f-text").fill("كلنا بخير")
            checked.locator("button").click()
            checked.wait_for_load_state("load")
            assert checked.locator("#kod").count() == 1
            axe_clean("code page")
            for lang, identifier in (("ar", "073-123 45 67"), ("sv", "0731234568")):
                checked.goto(url + f"anhoriga/sok?lang={lang}", wait_until="load")
                checked.locator("#f-name").fill("fatima al sayed")
                checked.locator("#f-identifier").fill(identifier)
                checked.locator("button").click()
                checked.wait_for_load_state("load")
                axe_clean(f"result page {lang}")
            assert checked.locator("#ingen").count() == 1
        finally:
            browser.close()
