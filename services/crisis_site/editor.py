"""The editor's message form: its fields, their Swedish labels, and the message built from it.

The pages and forms around it are routes/editor.py. Messages written here are stored with
origin "island", apart from synced ones.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import ValidationError

from services.crisis_site.content import Message, field_path

FIELDS = (
    "headline",
    "description",
    "instruction",
    "headline_en",
    "description_en",
    "instruction_en",
    "area",
    "severity",
    "urgency",
    "certainty",
    "status",
    "expires",
)
CHOICES = {
    "severity": ("Extreme", "Severe", "Moderate", "Minor", "Unknown"),
    "urgency": ("Immediate", "Expected", "Future", "Past", "Unknown"),
    "certainty": ("Observed", "Likely", "Possible", "Unlikely", "Unknown"),
    "status": ("Actual", "Exercise", "Test"),
}
LABELS = {
    "headline": "Rubrik (svenska)",
    "description": "Vad har hänt (svenska)",
    "instruction": "Det här ska du göra (svenska, en punkt per rad)",
    "headline_en": "Rubrik (engelska, frivilligt)",
    "description_en": "Vad har hänt (engelska)",
    "instruction_en": "Det här ska du göra (engelska)",
    "area": "Område",
    "severity": "Allvarlighet",
    "urgency": "Brådska",
    "certainty": "Säkerhet",
    "status": "Typ",
    "expires": "Gäller till (frivilligt)",
}


def now() -> datetime:
    return datetime.now(UTC).astimezone()  # the island's local offset, as residents read it


def form_values(message: Message) -> dict[str, str]:
    sv, _ = message.text("sv")
    en = next((i for i in message.info if i.language == "en"), None)
    return {
        "headline": sv.headline,
        "description": sv.description,
        "instruction": sv.instruction or "",
        "headline_en": en.headline if en else "",
        "description_en": en.description if en else "",
        "instruction_en": (en.instruction or "") if en else "",
        "area": message.area,
        "severity": message.severity,
        "urgency": message.urgency,
        "certainty": message.certainty,
        "status": message.status,
        "expires": message.expires.strftime("%Y-%m-%dT%H:%M") if message.expires else "",
    }


def build_message(
    values: dict[str, str], identifier: str, msg_type: str, municipality: str
) -> tuple[Message | None, dict[str, str]]:
    """A message from the form, or the problems per field, in Swedish, for the person to fix."""
    errors: dict[str, str] = {}
    for name, allowed in CHOICES.items():
        if values[name] not in allowed:
            errors[name] = "Välj ett av alternativen."
    expires = None
    if values["expires"]:
        try:
            expires = datetime.fromisoformat(values["expires"])
            if expires.tzinfo is None:
                expires = expires.replace(tzinfo=now().tzinfo)
            if expires <= now():
                errors["expires"] = "Tiden har redan passerat."
        except ValueError:
            errors["expires"] = "Skriv tiden som ÅÅÅÅ-MM-DD TT:MM."
    english = any(values[f] for f in ("headline_en", "description_en", "instruction_en"))
    if english:
        for name in ("headline_en", "description_en"):
            if not values[name]:
                errors[name] = (
                    "Fyll i både rubrik och text på engelska, eller lämna alla engelska fält tomma."
                )
    info = [
        {
            "language": "sv",
            "headline": values["headline"],
            "description": values["description"],
            "instruction": values["instruction"] or None,
        }
    ]
    if english and not errors.get("headline_en") and not errors.get("description_en"):
        info.append(
            {
                "language": "en",
                "headline": values["headline_en"],
                "description": values["description_en"],
                "instruction": values["instruction_en"] or None,
            }
        )
    try:
        message = Message.model_validate(
            {
                "identifier": identifier,
                "sender": f"{municipality}, krisledningen på plats",
                "sent": now(),
                "status": values["status"] if "status" not in errors else "Actual",
                "msgType": msg_type,
                "severity": values["severity"] if "severity" not in errors else "Unknown",
                "urgency": values["urgency"] if "urgency" not in errors else "Unknown",
                "certainty": values["certainty"] if "certainty" not in errors else "Unknown",
                "expires": expires if "expires" not in errors else None,
                "area": values["area"],
                "info": info,
                "origin": "island",
            }
        )
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            name = field_path(loc)
            if loc[:1] == ("info",) and len(loc) >= 3:
                name = str(loc[2]) + ("_en" if loc[1] == 1 else "")
            if error["type"] == "string_too_short":
                text = "Fältet får inte vara tomt."
            elif error["type"] == "string_too_long":
                text = "Texten är för lång."
            else:
                text = str(error["msg"])
            errors.setdefault(name, text)
        return None, errors
    return (None, errors) if errors else (message, {})
