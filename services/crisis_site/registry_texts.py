"""The safe-and-well registry's own texts, in every language the site has.

Every language carries every text (a test holds it so): a resident never meets a Swedish
fallback in the middle of a form. Preset messages are stored by key (registry.PRESETS) and
shown in the reader's language, so a person registering in Arabic is read in Swedish by a
relative searching in Swedish.

The Finnish, Arabic and Somali texts were written by the developer and need a native
speaker's review before real use, as the rest of the site's texts (docs/crisis-site.md).
In Arabic, numbers and Latin-script examples are wrapped in Unicode isolates (_ltr) so a
phone number such as 070-123 45 67 is not shown with its groups reversed in right-to-left text.
"""

from __future__ import annotations

from services.crisis_site import i18n
from services.crisis_site.forms import REFUSALS

# The form refusals a resident can meet on the registry's pages (the CSRF and login ones are staff-only).
PUBLIC_REFUSALS = ("form_type", "form_big", "form_fields", "cross_site")


# The examples never break across lines on a narrow phone (no-break spaces).
PHONE_EXAMPLE = "070-123\u00a045\u00a067"
ADDRESS_EXAMPLE = "Storgatan\u00a03, Ödsbyn"


def _ltr(text: str) -> str:
    """Left-to-right text kept whole inside right-to-left text (U+2066 LRI ... U+2069 PDI)."""
    return f"\u2066{text}\u2069"


TEXTS: dict[str, dict[str, str]] = {
    "sv": {
        "title": "Jag är OK – anhöriga",
        "intro": "Här kan du meddela att du är OK, och anhöriga kan se det från alla trygghetspunkter på ön. "
        "Den som söker måste redan veta ditt fullständiga namn och ditt telefonnummer eller din hemadress. "
        "Ingen kan se var du är, och ingen kan se en lista över alla som är registrerade.",
        "register": "Meddela att du är OK",
        "lookup": "Sök efter en anhörig",
        "change": "Lägg till ett nytt meddelande eller ta bort dina uppgifter",
        "name": "Fullständigt namn",
        "identifier": "Telefonnummer eller hemadress (från före krisen)",
        "identifier_hint": f"Samma uppgift som dina anhöriga känner till, till exempel {PHONE_EXAMPLE} eller {ADDRESS_EXAMPLE}.",
        "presets": "Välj ett eller flera meddelanden",
        "safe": "Jag är i säkerhet och mår bra.",
        "at_point": "Jag är på en trygghetspunkt.",
        "with_family": "Jag bor hos familj eller vänner.",
        "will_contact": "Jag hör av mig när jag kan.",
        "need_nothing": "Jag behöver ingen hjälp just nu.",
        "text": "Eget meddelande (frivilligt, högst {max} tecken)",
        "text_hint": "Skriv inte var du är.",
        "send": "Skicka",
        "search": "Sök",
        "code": "Din personliga kod",
        "registered": "Du är registrerad.",
        "code_keep": "Spara koden. Med den kan du lägga till ett meddelande eller ta bort dina uppgifter. "
        "Koden visas bara en gång och kan inte tas fram igen.",
        "expires": "Uppgifterna tas bort automatiskt efter {days} dagar.",
        "found": "Meddelanden från {name}",
        "not_found": "Vi hittade ingen registrering med det namnet och den uppgiften. "
        "Kontrollera stavningen och försök igen, eller fråga personalen.",
        "lookup_intro": "Skriv det fullständiga namnet och telefonnumret eller hemadressen. Båda måste stämma.",
        "updated": "Ditt meddelande är sparat.",
        "deleted": "Dina uppgifter är borttagna.",
        "bad_code": "Koden stämmer inte med någon registrering.",
        "delete": "Ta bort mina uppgifter",
        "add": "Lägg till meddelandet",
        "fix": "Det gick inte att spara. Rätta fälten nedan.",
        "err_empty": "Fältet får inte vara tomt.",
        "err_long": "Texten är för lång.",
        "err_name": "Skriv ett namn med bokstäver.",
        "err_identifier": f"Skriv ett telefonnummer (till exempel {PHONE_EXAMPLE}) eller en adress med gatunamn.",
        "err_no_preset": "Välj minst ett meddelande.",
        "err_preset": "Välj bland meddelandena i listan.",
        "back": "Tillbaka",
        "home": "Till krisinformationen",
        "refused": "Det gick inte",
        "limited": "För många försök på kort tid. Vänta {minutes} minuter och försök igen, eller fråga personalen.",
        **{key: REFUSALS[key] for key in PUBLIC_REFUSALS},
    },
    "sv-x-ll": {
        "title": "Jag är OK – familj och vänner",
        "intro": "Här kan du skriva att du är OK. Din familj och dina vänner kan läsa det på alla trygghetspunkter. "
        "För att hitta dig måste de veta hela ditt namn. "
        "De måste också veta ditt telefonnummer eller adressen där du bor. "
        "Ingen kan se var du är. Ingen kan se en lista med namn.",
        "register": "Skriv att du är OK",
        "lookup": "Sök efter någon du känner",
        "change": "Skriv ett nytt meddelande eller ta bort dina uppgifter",
        "name": "Hela namnet (förnamn och efternamn)",
        "identifier": "Telefonnummer eller adress hemma (som före krisen)",
        "identifier_hint": f"Skriv något som din familj vet. Till exempel {PHONE_EXAMPLE} eller {ADDRESS_EXAMPLE}.",
        "presets": "Välj ett eller flera meddelanden",
        "safe": "Jag är OK. Jag mår bra.",
        "at_point": "Jag är på en trygghetspunkt.",
        "with_family": "Jag bor hos familj eller vänner nu.",
        "will_contact": "Jag ringer eller skriver när jag kan.",
        "need_nothing": "Jag behöver ingen hjälp nu.",
        "text": "Egen text, om du vill (högst {max} tecken)",
        "text_hint": "Skriv inte var du är.",
        "send": "Skicka",
        "search": "Sök",
        "code": "Din kod",
        "registered": "Klart. Nu kan din familj se att du är OK.",
        "code_keep": "Spara koden. Skriv av den eller ta ett foto av den. "
        "Du behöver koden om du vill skriva ett nytt meddelande eller ta bort dina uppgifter. "
        "Du kan bara se koden nu.",
        "expires": "Efter {days} dagar tar vi bort dina uppgifter.",
        "found": "Meddelanden från {name}",
        "not_found": "Vi hittade ingen. Kontrollera att namnet och numret eller adressen är rätt. "
        "Försök igen, eller fråga personalen.",
        "lookup_intro": "Skriv hela namnet. Skriv också telefonnumret eller adressen. Båda måste vara rätt.",
        "updated": "Ditt meddelande är sparat.",
        "deleted": "Dina uppgifter är borta nu.",
        "bad_code": "Koden är fel. Kontrollera koden och försök igen.",
        "delete": "Ta bort mina uppgifter",
        "add": "Spara meddelandet",
        "fix": "Något blev fel. Ändra det som står under och skicka igen.",
        "err_empty": "Du måste skriva något här.",
        "err_long": "Texten är för lång. Skriv kortare.",
        "err_name": "Skriv ett namn med bokstäver.",
        "err_identifier": f"Skriv ett telefonnummer, till exempel {PHONE_EXAMPLE}. Eller skriv en adress med gatans namn.",
        "err_no_preset": "Välj minst ett meddelande.",
        "err_preset": "Välj ett meddelande i listan.",
        "back": "Tillbaka",
        "home": "Till krisinformationen",
        "refused": "Det gick inte",
        "limited": "Du har försökt för många gånger. Vänta {minutes} minuter. Försök sedan igen, eller fråga personalen.",
        "form_type": "Formuläret kom i fel format.",
        "form_big": "Formuläret är för stort.",
        "form_fields": "Formuläret har för många fält.",
        "cross_site": "Formuläret kom från en annan webbplats. Därför tog vi inte emot det.",
    },
    "en": {
        "title": "I am OK – loved ones",
        "intro": "Here you can let others know you are OK, and your loved ones can see it from every safety point on "
        "the island. Whoever searches must already know your full name and your phone number or home address. "
        "Nobody can see where you are, and nobody can see a list of everyone registered.",
        "register": "Let others know you are OK",
        "lookup": "Search for a loved one",
        "change": "Add a new message or remove your details",
        "name": "Full name",
        "identifier": "Phone number or home address (from before the crisis)",
        "identifier_hint": f"Something your loved ones know, for example {PHONE_EXAMPLE} or {ADDRESS_EXAMPLE}.",
        "presets": "Choose one or more messages",
        "safe": "I am safe and well.",
        "at_point": "I am at a safety point (trygghetspunkt).",
        "with_family": "I am staying with family or friends.",
        "will_contact": "I will contact you when I can.",
        "need_nothing": "I do not need any help right now.",
        "text": "Your own message (optional, at most {max} characters)",
        "text_hint": "Do not write where you are.",
        "send": "Send",
        "search": "Search",
        "code": "Your private code",
        "registered": "You are registered.",
        "code_keep": "Keep this code. With it you can add a message or remove your details. "
        "It is shown only once and cannot be recovered.",
        "expires": "Your details are removed automatically after {days} days.",
        "found": "Messages from {name}",
        "not_found": "We found no registration with that name and that phone number or address. "
        "Check the spelling and try again, or ask the staff.",
        "lookup_intro": "Enter the full name and the phone number or home address. Both must match.",
        "updated": "Your message has been saved.",
        "deleted": "Your details have been removed.",
        "bad_code": "The code does not match any registration.",
        "delete": "Remove my details",
        "add": "Add the message",
        "fix": "Nothing was saved. Please correct the fields below.",
        "err_empty": "This field cannot be empty.",
        "err_long": "The text is too long.",
        "err_name": "Write a name with letters.",
        "err_identifier": f"Write a phone number (for example {PHONE_EXAMPLE}) or an address with a street name.",
        "err_no_preset": "Choose at least one message.",
        "err_preset": "Choose from the messages in the list.",
        "back": "Back",
        "home": "To the crisis information",
        "refused": "That did not work",
        "limited": "Too many attempts in a short time. Wait {minutes} minutes and try again, or ask the staff.",
        "form_type": "The form must be sent as application/x-www-form-urlencoded.",
        "form_big": "The form is too large.",
        "form_fields": "The form has too many fields.",
        "cross_site": "The request came from another website and was refused.",
    },
    "fi": {
        "title": "Olen kunnossa – läheiset",
        "intro": "Täällä voit kertoa, että olet kunnossa, ja läheisesi näkevät sen kaikista saaren turvapisteistä. "
        "Hakijan täytyy jo tietää koko nimesi ja puhelinnumerosi tai kotiosoitteesi. "
        "Kukaan ei näe, missä olet, eikä kukaan näe luetteloa kaikista rekisteröityneistä.",
        "register": "Kerro, että olet kunnossa",
        "lookup": "Etsi läheistäsi",
        "change": "Lisää uusi viesti tai poista tietosi",
        "name": "Koko nimi",
        "identifier": "Puhelinnumero tai kotiosoite (ennen kriisiä)",
        "identifier_hint": f"Tieto, jonka läheisesi tuntevat, esimerkiksi {PHONE_EXAMPLE} tai {ADDRESS_EXAMPLE}.",
        "presets": "Valitse yksi tai useampi viesti",
        "safe": "Olen turvassa ja voin hyvin.",
        "at_point": "Olen turvapisteessä (trygghetspunkt).",
        "with_family": "Asun perheen tai ystävien luona.",
        "will_contact": "Otan yhteyttä, kun voin.",
        "need_nothing": "En tarvitse apua juuri nyt.",
        "text": "Oma viesti (vapaaehtoinen, enintään {max} merkkiä)",
        "text_hint": "Älä kirjoita, missä olet.",
        "send": "Lähetä",
        "search": "Hae",
        "code": "Henkilökohtainen koodisi",
        "registered": "Olet rekisteröitynyt.",
        "code_keep": "Säilytä koodi. Sen avulla voit lisätä viestin tai poistaa tietosi. "
        "Koodi näytetään vain kerran, eikä sitä voi saada uudelleen.",
        "expires": "Tiedot poistetaan automaattisesti {days} päivän kuluttua.",
        "found": "Viestit henkilöltä {name}",
        "not_found": "Emme löytäneet rekisteröintiä tällä nimellä ja tällä puhelinnumerolla tai osoitteella. "
        "Tarkista kirjoitusasu ja yritä uudelleen, tai kysy henkilökunnalta.",
        "lookup_intro": "Kirjoita koko nimi ja puhelinnumero tai kotiosoite. Molempien täytyy täsmätä.",
        "updated": "Viestisi on tallennettu.",
        "deleted": "Tietosi on poistettu.",
        "bad_code": "Koodi ei vastaa mitään rekisteröintiä.",
        "delete": "Poista tietoni",
        "add": "Lisää viesti",
        "fix": "Mitään ei tallennettu. Korjaa alla olevat kentät.",
        "err_empty": "Kenttä ei voi olla tyhjä.",
        "err_long": "Teksti on liian pitkä.",
        "err_name": "Kirjoita nimi kirjaimin.",
        "err_identifier": f"Kirjoita puhelinnumero (esimerkiksi {PHONE_EXAMPLE}) tai osoite, jossa on kadun nimi.",
        "err_no_preset": "Valitse vähintään yksi viesti.",
        "err_preset": "Valitse viesti luettelosta.",
        "back": "Takaisin",
        "home": "Kriisitietoihin",
        "refused": "Se ei onnistunut",
        # "min" reads right after any number; "minuuttia" would be wrong after 1.
        "limited": "Liian monta yritystä lyhyessä ajassa. Odota {minutes} min ja yritä uudelleen, tai kysy henkilökunnalta.",
        "form_type": "Lomake on lähetettävä muodossa application/x-www-form-urlencoded.",
        "form_big": "Lomake on liian suuri.",
        "form_fields": "Lomakkeessa on liian monta kenttää.",
        "cross_site": "Pyyntö tuli toiselta sivustolta, ja se hylättiin.",
    },
    "ar": {
        "title": "أنا بخير – الأقارب",
        "intro": "هنا يمكنك أن تُخبر الآخرين أنك بخير، ويمكن لأقاربك رؤية ذلك من كل نقاط الأمان في الجزيرة. "
        "يجب على من يبحث عنك أن يعرف مسبقاً اسمك الكامل ورقم هاتفك أو عنوان منزلك. "
        "لا أحد يستطيع أن يرى أين أنت، ولا أحد يستطيع أن يرى قائمة بكل المسجلين.",
        "register": "أخبر الآخرين أنك بخير",
        "lookup": "ابحث عن أحد أقاربك",
        "change": "أضف رسالة جديدة أو احذف بياناتك",
        "name": "الاسم الكامل",
        "identifier": "رقم الهاتف أو عنوان المنزل (من قبل الأزمة)",
        "identifier_hint": f"معلومة يعرفها أقاربك، مثلاً {_ltr(PHONE_EXAMPLE)} أو {_ltr(ADDRESS_EXAMPLE)}.",
        "presets": "اختر رسالة واحدة أو أكثر",
        "safe": "أنا في أمان وبخير.",
        "at_point": "أنا في نقطة أمان (trygghetspunkt).",
        "with_family": "أقيم عند العائلة أو الأصدقاء.",
        "will_contact": "سأتواصل معك عندما أستطيع.",
        "need_nothing": "لا أحتاج إلى أي مساعدة الآن.",
        "text": "رسالة منك (اختيارية، بحد أقصى {max} حرف)",
        "text_hint": "لا تكتب أين أنت.",
        "send": "إرسال",
        "search": "بحث",
        "code": "رمزك الشخصي",
        "registered": "تم تسجيلك.",
        "code_keep": "احتفظ بهذا الرمز. به يمكنك إضافة رسالة أو حذف بياناتك. "
        "يظهر الرمز مرة واحدة فقط ولا يمكن استرجاعه.",
        # "Days kept: N" instead of "after N days": the noun after a number changes with the number in Arabic.
        "expires": "تُحذف بياناتك تلقائياً. مدة الحفظ بالأيام: {days}.",
        "found": "رسائل من {name}",
        "not_found": "لم نجد أي تسجيل بهذا الاسم وهذا الرقم أو العنوان. "
        "تحقق من طريقة الكتابة وحاول مرة أخرى، أو اسأل الموظفين.",
        "lookup_intro": "اكتب الاسم الكامل ورقم الهاتف أو عنوان المنزل. يجب أن يكون الاثنان صحيحين.",
        "updated": "تم حفظ رسالتك.",
        "deleted": "تم حذف بياناتك.",
        "bad_code": "هذا الرمز لا يطابق أي تسجيل.",
        "delete": "احذف بياناتي",
        "add": "أضف الرسالة",
        "fix": "لم يتم حفظ أي شيء. صحّح الحقول أدناه.",
        "err_empty": "لا يمكن ترك هذا الحقل فارغاً.",
        "err_long": "النص طويل جداً.",
        "err_name": "اكتب اسماً بالحروف.",
        "err_identifier": f"اكتب رقم هاتف (مثلاً {_ltr(PHONE_EXAMPLE)}) أو عنواناً فيه اسم الشارع.",
        "err_no_preset": "اختر رسالة واحدة على الأقل.",
        "err_preset": "اختر من الرسائل الموجودة في القائمة.",
        "back": "رجوع",
        "home": "إلى معلومات الأزمة",
        "refused": "لم تنجح العملية",
        "limited": "محاولات كثيرة جداً في وقت قصير. مدة الانتظار بالدقائق: {minutes}. "
        "ثم حاول مرة أخرى، أو اسأل الموظفين.",
        "form_type": f"يجب إرسال النموذج بصيغة {_ltr('application/x-www-form-urlencoded')}.",
        "form_big": "النموذج كبير جداً.",
        "form_fields": "في النموذج حقول كثيرة جداً.",
        "cross_site": "جاء الطلب من موقع آخر وتم رفضه.",
    },
    "so": {
        "title": "Waan fiicanahay – qaraabada",
        "intro": "Halkan waxaad ku sheegi kartaa inaad fiican tahay, qaraabadaaduna waxay taas ka arki karaan "
        "goob kasta oo badbaado oo jasiiradda ku taal. Qofka ku raadinaya waa inuu horay u yaqaan "
        "magacaaga oo buuxa iyo lambarka taleefankaaga ama cinwaanka gurigaaga. Qofna ma arki karo "
        "halka aad joogto, qofna ma arki karo liiska dadka is diiwaangeliyay.",
        "register": "U sheeg dadka inaad fiican tahay",
        "lookup": "Raadi qof qaraabadaada ah",
        "change": "Ku dar fariin cusub ama tirtir macluumaadkaaga",
        "name": "Magaca oo buuxa",
        "identifier": "Lambarka taleefanka ama cinwaanka guriga (ka hor xaaladda degdegga ah)",
        "identifier_hint": f"Wax qaraabadaadu garanayaan, tusaale ahaan {PHONE_EXAMPLE} ama {ADDRESS_EXAMPLE}.",
        "presets": "Dooro hal fariin ama dhowr",
        "safe": "Waan nabadqabaa, waanan fiicanahay.",
        "at_point": "Waxaan joogaa goob badbaado (trygghetspunkt).",
        "with_family": "Waxaan la joogaa qoys ama saaxiibo.",
        "will_contact": "Waan kula soo xiriiri doonaa marka aan awoodo.",
        "need_nothing": "Hadda uma baahni wax caawimaad ah.",
        "text": "Fariin adiga kuu gaar ah (ikhtiyaari, ugu badnaan {max} xaraf)",
        "text_hint": "Ha qorin halka aad joogto.",
        "send": "Dir",
        "search": "Raadi",
        "code": "Koodhkaaga gaarka ah",
        "registered": "Waa lagu diiwaangeliyay.",
        "code_keep": "Kaydi koodhka. Waxaad ku dari kartaa fariin ama tirtiri kartaa macluumaadkaaga. "
        "Koodhka hal mar oo keliya ayaa la tusayaa, dib looma heli karo.",
        "expires": "Macluumaadkaaga si toos ah ayaa loo tirtirayaa {days} maalmood kadib.",
        "found": "Fariimaha {name}",
        "not_found": "Ma helin diiwaangelin leh magacaas iyo lambarkaas ama cinwaankaas. "
        "Hubi higgaadda oo isku day mar kale, ama weydii shaqaalaha.",
        "lookup_intro": "Qor magaca oo buuxa iyo lambarka taleefanka ama cinwaanka guriga. Labaduba waa inay sax yihiin.",
        "updated": "Fariintaada waa la kaydiyay.",
        "deleted": "Macluumaadkaaga waa la tirtiray.",
        "bad_code": "Koodhku kuma beegna diiwaangelin jirta.",
        "delete": "Tirtir macluumaadkayga",
        "add": "Ku dar fariinta",
        "fix": "Waxba lama kaydin. Sax meelaha hoose.",
        "err_empty": "Meeshan ma noqon karto mid bannaan.",
        "err_long": "Qoraalku aad buu u dheer yahay.",
        "err_name": "Qor magac xarfo ah.",
        "err_identifier": f"Qor lambar taleefan (tusaale ahaan {PHONE_EXAMPLE}) ama cinwaan leh magaca waddada.",
        "err_no_preset": "Dooro ugu yaraan hal fariin.",
        "err_preset": "Ka dooro fariimaha liiska ku jira.",
        "back": "Dib u noqo",
        "home": "Macluumaadka xaaladda degdegga ah",
        "refused": "Taasi ma shaqayn",
        "limited": "Isku dayo aad u badan muddo gaaban gudaheed. Sug {minutes} daqiiqo kadibna isku day mar kale, "
        "ama weydii shaqaalaha.",
        "form_type": "Foomka waa in loo diraa sida application/x-www-form-urlencoded.",
        "form_big": "Foomku aad buu u weyn yahay.",
        "form_fields": "Foomku wuxuu leeyahay meelo aad u badan.",
        "cross_site": "Codsigu wuxuu ka yimid bog kale, waana la diiday.",
    },
}


def texts(tag: str) -> dict[str, str]:
    """The registry's texts in `tag` (every language has them all; an unknown tag gets Swedish)."""
    return TEXTS.get(tag, TEXTS[i18n.DEFAULT])
