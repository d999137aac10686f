"""The page's own texts in the languages residents read, and choosing one for a request.

Messages themselves are shown in the languages they were written in; these are only the
texts around them. Swedish is the default and the fallback for a missing text.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    tag: str  # the BCP 47 tag used in lang="" and ?lang=
    name: str  # the language's own name, shown in the language menu
    rtl: bool = False


# Easy Swedish (lättläst) has no registered tag; a private-use subtag keeps `lang` valid.
LANGUAGES: dict[str, Language] = {
    lang.tag: lang
    for lang in (
        Language("sv", "Svenska"),
        Language("sv-x-ll", "Lättläst svenska"),
        Language("en", "English"),
        Language("fi", "Suomi"),
        Language("ar", "العربية", rtl=True),
        Language("so", "Soomaali"),
    )
}
DEFAULT = "sv"

TEXTS: dict[str, dict[str, str]] = {
    "sv": {
        "skip": "Hoppa till innehållet",
        "languages": "Språk",
        "updated": "Senast uppdaterad {time} av {sender}.",
        "cut": "Ingen kontakt med kommunens centrala webbplats just nu.",
        "cut_since": "Senast vi hörde från kommunen var {time}. Det kan finnas nyare information som inte har kommit hit.",
        "cut_never": "Informationen här kan vara gammal.",
        "vma": "Viktigt meddelande till allmänheten",
        "sent": "Skickat {time} av {sender}. Gäller: {area}.",
        "only_sv": "Det här meddelandet finns bara på svenska.",
        "island": "Från krisledningen här på plats.",
        "Exercise": "Övning",
        "Test": "Test",
        "todo": "Det här ska du göra",
        "none": "Just nu finns inga meddelanden.",
        "actions": "Det här görs",
        "points": "Trygghetspunkter",
        "points_intro": "På en trygghetspunkt finns personal från kommunen. Där kan du få hjälp och information.",
        "address": "Adress",
        "hours": "Öppettider",
        "now": "Läget just nu",
        "water": "Dricksvatten",
        "heat": "Värme",
        "toilets": "Toaletter",
        "charging": "Laddning av mobiltelefon",
        "phone_112": "Telefon för att ringa 112",
        "yes": "finns",
        "no": "finns inte här",
        "no_points": "Inga trygghetspunkter är öppna just nu.",
        "numbers": "Viktiga nummer och radio",
        "emergency": "Ring 112 vid nödsituation, när det är fara för liv, hälsa, egendom eller miljö.",
        "information": "Ring 113 13 för information om allvarliga olyckor och kriser. Ring inte 112 för frågor.",
        "radio": "Lyssna på Sveriges Radio P4. Vid strömavbrott fungerar en batteriradio eller bilradion.",
        "print": "Utskrift för anslagstavlan",
        "footer": "Den här sidan visas från kommunens lokala nät och fungerar även när internet ligger nere.",
        "registry": "Jag är OK – anhöriga",
        "registry_link": "Meddela att du är OK, eller sök efter en anhörig",
        "pages": "Fler meddelanden",
        "page_shows": "Meddelande {first}–{last} av {total}.",
        "page_next": "Nästa sida: {count} meddelanden till",
        "page_previous": "Föregående sida",
        "page_first": "Till första sidan",
    },
    "sv-x-ll": {
        "skip": "Gå till texten",
        "updated": "Sidan ändrades {time}. {sender} skrev texten.",
        "cut": "Internet fungerar inte nu.",
        "cut_since": "Vi har inte fått ny information från kommunen sedan {time}.",
        "cut_never": "Informationen kan vara gammal.",
        "sent": "{sender} skrev det här {time}. Det gäller {area}.",
        "only_sv": "Det här meddelandet finns bara på vanlig svenska.",
        "island": "Kommunens personal här har skrivit det här.",
        "todo": "Gör så här",
        "none": "Det finns inga meddelanden nu.",
        "actions": "Det här gör kommunen",
        "points_intro": "En trygghetspunkt är en plats där du kan få hjälp. Där finns personal från kommunen.",
        "hours": "Öppet",
        "now": "Just nu",
        "water": "Vatten att dricka",
        "charging": "Ladda mobilen",
        "phone_112": "Telefon till 112",
        "no_points": "Inga trygghetspunkter är öppna nu.",
        "numbers": "Telefon och radio",
        "emergency": "Ring 112 om någon är i fara.",
        "information": "Ring 113 13 om du har frågor.",
        "radio": "Lyssna på radio P4. En radio med batterier fungerar utan ström.",
        "footer": "Sidan fungerar även när internet inte fungerar.",
        "registry": "Jag är OK – familj och vänner",
        "registry_link": "Berätta att du är OK, eller sök efter någon du känner",
        "pages": "Fler meddelanden",
        "page_shows": "Här är meddelande {first} till {last}. Det finns {total} meddelanden.",
        "page_next": "Läs {count} meddelanden till",
        "page_previous": "Gå tillbaka en sida",
        "page_first": "Gå till första sidan",
    },
    "en": {
        "skip": "Skip to content",
        "languages": "Language",
        "updated": "Last updated {time} by {sender}.",
        "cut": "No contact with the municipality's central website right now.",
        "cut_since": "We last heard from the municipality {time}. Newer information may not have reached us.",
        "cut_never": "The information here may be old.",
        "vma": "Important public announcement (VMA)",
        "sent": "Sent {time} by {sender}. Area: {area}.",
        "only_sv": "This message is only available in Swedish.",
        "island": "From the crisis staff here on site.",
        "Exercise": "Exercise",
        "todo": "What you should do",
        "none": "There are no messages right now.",
        "actions": "What is being done",
        "points": "Safety points (trygghetspunkter)",
        "points_intro": "Municipal staff are at every safety point. You can get help and information there.",
        "address": "Address",
        "hours": "Opening hours",
        "now": "Right now",
        "water": "Drinking water",
        "heat": "Heat",
        "toilets": "Toilets",
        "charging": "Phone charging",
        "phone_112": "Phone to call 112",
        "yes": "available",
        "no": "not available here",
        "no_points": "No safety points are open right now.",
        "numbers": "Important numbers and radio",
        "emergency": "Call 112 in an emergency, when life, health, property or the environment is in danger.",
        "information": "Call 113 13 for information about serious accidents and crises. Do not call 112 with questions.",
        "radio": "Listen to Sveriges Radio P4. In a power cut a battery radio or a car radio works.",
        "print": "Print version for the notice board",
        "footer": "This page is served from the municipality's local network and works even when the internet is down.",
        "registry": "I am OK – loved ones",
        "registry_link": "Let others know you are OK, or search for a loved one",
        "pages": "More messages",
        "page_shows": "Messages {first}–{last} of {total}.",
        "page_next": "Next page: {count} more messages",
        "page_previous": "Previous page",
        "page_first": "Back to the first page",
    },
    "fi": {
        "skip": "Siirry sisältöön",
        "languages": "Kieli",
        "updated": "Päivitetty viimeksi {time}, {sender}.",
        "cut": "Kunnan keskussivustoon ei juuri nyt saada yhteyttä.",
        "cut_since": "Kunnalta saatiin viimeksi tietoa {time}. Uudempaa tietoa voi olla olemassa.",
        "cut_never": "Tiedot voivat olla vanhoja.",
        "vma": "Tärkeä tiedote yleisölle (VMA)",
        "sent": "Lähetetty {time}, {sender}. Alue: {area}.",
        "only_sv": "Tämä tiedote on saatavilla vain ruotsiksi.",
        "island": "Paikan päällä olevalta kriisihenkilöstöltä.",
        "Exercise": "Harjoitus",
        "todo": "Toimi näin",
        "none": "Tiedotteita ei ole juuri nyt.",
        "actions": "Mitä tehdään",
        "points": "Turvapisteet (trygghetspunkter)",
        "points_intro": "Turvapisteessä on kunnan henkilökuntaa. Sieltä saat apua ja tietoa.",
        "address": "Osoite",
        "hours": "Aukioloajat",
        "now": "Tilanne nyt",
        "water": "Juomavesi",
        "heat": "Lämpö",
        "toilets": "WC",
        "charging": "Puhelimen lataus",
        "phone_112": "Puhelin hätänumeroon 112",
        "yes": "on",
        "no": "ei ole täällä",
        "no_points": "Yhtään turvapistettä ei ole juuri nyt auki.",
        "numbers": "Tärkeät numerot ja radio",
        "emergency": "Soita 112 hätätilanteessa, kun henki, terveys, omaisuus tai ympäristö on vaarassa.",
        "information": "Soita 113 13 saadaksesi tietoa vakavista onnettomuuksista ja kriiseistä. Älä soita kysymyksillä numeroon 112.",
        "radio": "Kuuntele Sveriges Radion P4-kanavaa. Sähkökatkon aikana paristoradio tai autoradio toimii.",
        "print": "Tulostettava versio ilmoitustaululle",
        "footer": "Tämä sivu näytetään kunnan paikallisesta verkosta ja toimii myös, kun internet ei toimi.",
        "registry": "Olen kunnossa – läheiset",
        "registry_link": "Kerro, että olet kunnossa, tai etsi läheistäsi",
        "pages": "Lisää tiedotteita",
        "page_shows": "Tiedotteet {first}–{last}/{total}.",
        "page_next": "Seuraava sivu: vielä {count} tiedotetta",
        "page_previous": "Edellinen sivu",
        "page_first": "Ensimmäiselle sivulle",
    },
    # Numbers with spaces (113 13) are wrapped in LRI/PDI isolates, or right-to-left text shows them as "13 113".
    "ar": {
        "skip": "انتقل إلى المحتوى",
        "languages": "اللغة",
        "updated": "آخر تحديث {time} من {sender}.",
        "cut": "لا يوجد اتصال بموقع البلدية المركزي الآن.",
        "cut_since": "آخر معلومات وصلت من البلدية كانت {time}. قد توجد معلومات أحدث لم تصل إلى هنا.",
        "cut_never": "قد تكون المعلومات هنا قديمة.",
        "vma": "رسالة هامة للعموم (VMA)",
        "sent": "أُرسلت {time} من {sender}. المنطقة: {area}.",
        "only_sv": "هذه الرسالة متوفرة باللغة السويدية فقط.",
        "island": "من فريق إدارة الأزمة هنا في المكان.",
        "Exercise": "تمرين",
        "todo": "ماذا يجب أن تفعل",
        "none": "لا توجد رسائل الآن.",
        "actions": "ما يتم القيام به",
        "points": "نقاط الأمان (trygghetspunkter)",
        "points_intro": "في نقطة الأمان يوجد موظفون من البلدية. هناك يمكنك الحصول على المساعدة والمعلومات.",
        "address": "العنوان",
        "hours": "ساعات العمل",
        "now": "الوضع الآن",
        "water": "مياه الشرب",
        "heat": "تدفئة",
        "toilets": "مراحيض",
        "charging": "شحن الهاتف المحمول",
        "phone_112": "هاتف للاتصال بالرقم 112",
        "yes": "متوفر",
        "no": "غير متوفر هنا",
        "no_points": "لا توجد نقاط أمان مفتوحة الآن.",
        "numbers": "أرقام مهمة والراديو",
        "emergency": "اتصل بالرقم 112 في حالات الطوارئ، عندما تكون الحياة أو الصحة أو الممتلكات أو البيئة في خطر.",
        "information": "اتصل بالرقم \u2066113 13\u2069 للحصول على معلومات عن الحوادث والأزمات الخطيرة. لا تتصل بالرقم 112 لطرح الأسئلة.",
        "radio": "استمع إلى إذاعة السويد P4. عند انقطاع الكهرباء يعمل راديو بالبطاريات أو راديو السيارة.",
        "print": "نسخة للطباعة للوحة الإعلانات",
        "footer": "تُعرض هذه الصفحة من الشبكة المحلية للبلدية وتعمل حتى عندما يكون الإنترنت معطلاً.",
        "registry": "أنا بخير – الأقارب",
        "registry_link": "أخبر الآخرين أنك بخير، أو ابحث عن أحد أقاربك",
        "pages": "المزيد من الرسائل",
        "page_shows": "الرسائل {first}–{last} من {total}.",
        "page_next": "الصفحة التالية: {count} رسائل أخرى",
        "page_previous": "الصفحة السابقة",
        "page_first": "العودة إلى الصفحة الأولى",
    },
    "so": {
        "skip": "U gudub nuxurka",
        "languages": "Luqadda",
        "updated": "Waxaa la cusboonaysiiyay {time}, {sender}.",
        "cut": "Hadda xiriir lama laha bogga dhexe ee degmada.",
        "cut_since": "Markii ugu dambaysay ee aan wax ka maqalnay degmada waxay ahayd {time}. Macluumaad cusub ayaa jiri kara.",
        "cut_never": "Macluumaadka halkan waxay noqon karaan kuwo duug ah.",
        "vma": "Fariin muhiim ah oo loogu talagalay dadweynaha (VMA)",
        "sent": "Waxaa diray {sender}, {time}. Aagga: {area}.",
        "only_sv": "Fariintan waxay ku qoran tahay oo keliya luqadda iswiidhishka.",
        "island": "Waxaa qoray shaqaalaha xaaladda degdegga ah ee halkan jooga.",
        "Exercise": "Tababar",
        "todo": "Waxa aad samaynayso",
        "none": "Hadda ma jiraan fariimo.",
        "actions": "Waxa la qabanayo",
        "points": "Goobaha badbaadada (trygghetspunkter)",
        "points_intro": "Goob kasta oo badbaado waxaa jooga shaqaale degmada ah. Halkaas waxaad ka heli kartaa caawimaad iyo macluumaad.",
        "address": "Cinwaanka",
        "hours": "Saacadaha furitaanka",
        "now": "Xaaladda hadda",
        "water": "Biyo la cabbo",
        "heat": "Kulayl",
        "toilets": "Musqulo",
        "charging": "Dallacaadda taleefanka",
        "phone_112": "Taleefan lagu wacayo 112",
        "yes": "waa jiraa",
        "no": "halkan ma jiro",
        "no_points": "Hadda ma jiraan goobo badbaado oo furan.",
        "numbers": "Lambarro muhiim ah iyo raadiyaha",
        "emergency": "Wac 112 xaalad degdeg ah, marka nolol, caafimaad, hanti ama deegaan ay khatar ku jiraan.",
        "information": "Wac 113 13 si aad u hesho macluumaad ku saabsan shilalka iyo xaaladaha culus. Ha u wicin 112 su'aalo.",
        "radio": "Dhageyso Sveriges Radio P4. Marka korontadu go'do, raadiye baytari ama raadiyaha baabuurka ayaa shaqeeya.",
        "print": "Nuqul daabacan oo loogu talagalay looxa ogeysiiska",
        "footer": "Boggan waxaa laga soo bandhigayaa shabakadda maxalliga ah ee degmada wuxuuna shaqeeyaa xitaa marka internetku go'an yahay.",
        "registry": "Waan fiicanahay – qaraabada",
        "registry_link": "U sheeg dadka inaad fiican tahay, ama raadi qof qaraabadaada ah",
        "pages": "Fariimo kale",
        "page_shows": "Fariimaha {first}–{last} oo ka mid ah {total}.",
        "page_next": "Bogga xiga: {count} fariimo kale",
        "page_previous": "Boggii hore",
        "page_first": "Ku noqo bogga koowaad",
    },
}


def texts(tag: str) -> dict[str, str]:
    """The page texts in `tag`; a text missing there comes from Swedish."""
    merged = dict(TEXTS[DEFAULT])
    merged.update(TEXTS.get(tag, {}))
    return merged


def _parse_accept_language(header: str) -> list[tuple[str, float]]:
    ranges = []
    for index, part in enumerate(header.split(",")[:20]):  # a hostile header cannot make us loop long
        piece = part.strip()
        if not piece:
            continue
        tag, _, params = piece.partition(";")
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        if q > 0:
            ranges.append((tag.strip().lower(), q - index * 1e-6))  # stable order for equal q
    return sorted(ranges, key=lambda r: r[1], reverse=True)


def choose(query: str | None, accept_language: str | None) -> str:
    """A plain ?lang= link wins; then the browser's Accept-Language; then Swedish."""
    if query in LANGUAGES:
        return query
    for tag, _ in _parse_accept_language(accept_language or ""):
        if tag in LANGUAGES:
            return tag
        base = tag.split("-")[0]
        if base in LANGUAGES:
            return base
    return DEFAULT
