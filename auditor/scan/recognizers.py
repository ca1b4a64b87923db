"""Identifier recognizers: the patterns and validators Presidio lacks or gets wrong.

Every rule pairs a regular expression with a validator, because a pattern alone over-reports: about 10% of
random digit strings pass the Luhn check and about 6% of US phone numbers pass the UK NHS mod-11 check.
Boundaries are explicit ASCII look-arounds instead of ``\\b``: in Python's Unicode mode a CJK character is a
word character, so ``\\b\\d{18}\\b`` misses an ID written straight after ``身份证号`` -- the main reason
vanilla Presidio misses identifiers in Chinese text.

The same rules back two engines: the fast identifier tier (:mod:`auditor.scan.identifiers`, Hyperscan
prefilter derived from these patterns, then the regexes) and :func:`presidio_recognizers`, which wraps them as Presidio
``PatternRecognizer`` classes so they can be registered in any Presidio ``AnalyzerEngine``.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from auditor.scan import names

_NB = r"(?<![0-9A-Za-z])"   # not preceded by an ASCII letter/digit (a CJK character is fine)
_NA = r"(?![0-9A-Za-z])"    # not followed by one


_SEPARATORS = str.maketrans("", "", " -.()+/")


def only_digits(text: str) -> str:
    """The digits of a matched number: the rules' separators deleted in C (``str.translate``), with the
    character-by-character filter only for anything else (a generator join costs ~2 us per candidate)."""
    number = text.translate(_SEPARATORS)
    return number if number.isdigit() else "".join(ch for ch in number if ch.isdigit())


def luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


_CARD_PREFIXES = ("34", "37", "4", "2131", "1800", "51", "52", "53", "54", "55", "22", "23", "24", "25", "26",
                  "27", "6011", "65", "62", "35", "300", "301", "302", "303", "304", "305", "36", "38", "39", "64")
#: Maestro numbers run from 12 to 19 digits: a 12-digit number is a card only with a Maestro IIN (from published
#: Maestro lists). A number written after "+" is a phone (+57 and +58 mobiles have 12 digits), never a card.
_MAESTRO = ("5018", "5020", "5038", "5893", "56", "57", "58", "6304", "6759", "6761", "6762", "6763", "0604", "6390")


@lru_cache(maxsize=1)
def presidio_ssn_validator() -> Callable[[str], bool] | None:
    """Presidio's own SSN check (SSA never-issued ranges, mixed delimiters), when Presidio is installed.

    Only Presidio validators that are cheap and never log the value are used: ``IbanRecognizer`` logs the
    text it failed on, and ``CreditCardRecognizer``'s Luhn costs ~75 us per candidate (half the identifier
    tier's time on card-heavy text), so cards and IBANs are checked here with the same arithmetic.
    """
    try:
        from presidio_analyzer.predefined_recognizers import UsSsnRecognizer
    except ImportError:
        return None
    ssn = UsSsnRecognizer()
    return lambda text: not ssn.invalidate_result(text)


def credit_card_ok(text: str, _context: str) -> bool:
    """Issuer prefix, length (12 digits for Maestro only) and Luhn. Numbers with fewer than three distinct
    digits are not reported: 4111 1111 1111 1111, 5555 5555 5555 4444 and 4242 4242 4242 4242 are the payment
    networks' public test cards -- nobody's card, and common in code and documentation -- as are runs like
    0000 0000 0000 0000."""
    number = only_digits(text)
    if not 12 <= len(number) <= 19:
        return False
    if not (number.startswith(_MAESTRO) or (len(number) >= 13 and number.startswith(_CARD_PREFIXES))):
        return False
    if len(set(number)) < 3:
        return False
    return luhn_ok(number)


_CN_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_TODAY = _dt.date.today()  # once per process: a scan does not straddle enough days to matter


def cn_resident_id_ok(text: str, _context: str = "") -> bool:
    """ISO 7064 MOD 11-2 check digit and a real birth date; the region code is deliberately not checked
    (published test IDs and newer codes are missing from every region table)."""
    value = text.replace(" ", "").upper()
    if len(value) != 18 or not value[:17].isdigit() or not (value[17].isdigit() or value[17] == "X"):
        return False
    try:
        born = _dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    if born.year < 1900 or born > _TODAY:
        return False
    check = "10X98765432"[sum(int(c) * w for c, w in zip(value[:17], _CN_WEIGHTS, strict=True)) % 11]
    return value[17] == check


def us_ssn_ok(text: str, _context: str) -> bool:
    """The SSA's never-issued ranges, as Presidio's ``UsSsnRecognizer.invalidate_result`` checks them."""
    number = only_digits(text)
    if len(number) != 9 or len(set(number)) == 1:
        return False
    area, group, serial = number[:3], number[3:5], number[5:]
    if area in ("000", "666") or area.startswith("9") or group == "00" or serial == "0000":
        return False
    if number in ("123456789", "078051120", "219099999", "987654320"):
        return False
    presidio = presidio_ssn_validator()
    return presidio(text) if presidio is not None else len({c for c in text if c in " .-"}) <= 1


def nanp_ok(text: str, _context: str) -> bool:
    number = only_digits(text)
    if len(number) == 13 and number.startswith("001"):  # dialled from abroad
        number = number[3:]
    if len(number) == 11 and number.startswith("1"):
        number = number[1:]
    if len(number) != 10:
        return False
    area, exchange = number[:3], number[3:6]
    return area[0] in "23456789" and exchange[0] in "23456789" and area[1:] != "11" and len(set(number)) > 2


def cn_mobile_ok(text: str, _context: str) -> bool:
    number = only_digits(text)
    if len(number) == 13 and number.startswith("86"):
        number = number[2:]
    return len(number) == 11 and number[0] == "1" and number[1] in "3456789"


@lru_cache(maxsize=1)
def _phonenumbers() -> Any:
    import phonenumbers

    return phonenumbers


def intl_phone_ok(text: str, _context: str) -> bool:
    pn = _phonenumbers()
    try:
        parsed = pn.parse(text, None)
    except pn.NumberParseException:
        return False
    return bool(pn.is_valid_number(parsed))


@lru_cache(maxsize=1)
def _suffixes() -> Any:
    """tldextract on its bundled public-suffix snapshot: no URL to fetch and no cache to write."""
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


def email_ok(text: str, _context: str) -> bool:
    return _public_suffix(text.rsplit("@", 1)[-1].lower())


@lru_cache(maxsize=8192)
def _public_suffix(domain: str) -> bool:
    """Domains repeat (a handful of mail providers cover most addresses): look each one up once."""
    return bool(_suffixes()(domain).suffix)


_VERSION_CUE = re.compile(r"(?:version|ver\.?|v|release|build)\s*$", re.IGNORECASE)


def ip_ok(text: str, context: str) -> bool:
    if "." in text:  # IPv4: plain arithmetic, ipaddress costs ~10 us per candidate
        octets = text.split(".")
        if len(octets) != 4 or any(not o.isdigit() or int(o) > 255 or (len(o) > 1 and o[0] == "0") for o in octets):
            return False
        return octets[0] not in ("0", "255") and _VERSION_CUE.search(context) is None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return not address.is_unspecified and text.count(":") >= 2


def iban_ok(text: str, _context: str) -> bool:
    value = text.replace(" ", "").upper()
    if not 15 <= len(value) <= 34:
        return False
    rearranged = value[4:] + value[:4]
    try:
        return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1
    except ValueError:
        return False


def uk_nhs_ok(text: str, _context: str) -> bool:
    number = only_digits(text)
    if len(number) != 10:
        return False
    total = sum(int(d) * (10 - i) for i, d in enumerate(number[:9]))
    check = 11 - total % 11
    return (0 if check == 11 else check) == int(number[9]) and check != 10


def geo_ok(text: str, _context: str) -> bool:
    try:
        lat, lon = (float(part) for part in text.split(","))
    except ValueError:
        return False
    return -90 <= lat <= 90 and -180 <= lon <= 180


def always(_text: str, _context: str) -> bool:
    return True


Validator = Callable[[str, str], bool]


@dataclass(frozen=True)
class IdentifierRule:
    """One recognizer: ``pattern`` (Python ``re``) finds candidates, ``validator`` keeps the real ones.

    The fast tier derives its Hyperscan prefilter from ``pattern`` itself
    (:func:`auditor.scan.identifiers.hyperscan_pattern`), so there is no second pattern to keep in step.
    ``context`` words, when given, are required within ``context_window`` characters before the match:
    numbers that look like anything (UK NHS, bare 9-digit SSNs) are reported only with a cue.
    ``prefilter``, when given, is what Hyperscan runs instead: the head of ``pattern`` (a cue and the first
    letter of a name), built from the same parts, for rules whose tail would make the automaton slow. It must
    match wherever ``pattern`` does; the tests hold both engines to the same results.
    """

    name: str
    entity: str
    pattern: str
    score: float
    validator: Validator = always
    group: int = 0
    flags: int = 0
    context: tuple[str, ...] = ()
    context_window: int = 40
    prefilter: str = ""
    compiled: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "compiled", re.compile(self.pattern, self.flags))


#: USPS Publication 28 street suffixes (common forms and abbreviations).
_USPS = ("Alley|Aly|Avenue|Ave|Bend|Bluff|Bluffs|Branch|Bridge|Brook|Brooks|Burg|Burgs|Bypass|Camp|Canyon|Cape|"
         "Causeway|Center|Centers|Circle|Cir|Circles|Cliff|Cliffs|Club|Common|Corner|Corners|Course|Court|Ct|"
         "Courts|Cove|Coves|Creek|Crescent|Crest|Crossing|Crossroad|Curve|Dale|Dam|Divide|Drive|Dr|Drives|"
         "Estate|Estates|Expressway|Extension|Extensions|Falls|Ferry|Field|Fields|Flat|Flats|Ford|Fords|Forest|"
         "Forge|Forges|Fork|Forks|Fort|Freeway|Garden|Gardens|Gateway|Glen|Glens|Green|Greens|Grove|Groves|"
         "Harbor|Harbors|Haven|Heights|Highway|Hwy|Hill|Hills|Hollow|Inlet|Island|Islands|Isle|Junction|"
         "Junctions|Key|Keys|Knoll|Knolls|Lake|Lakes|Land|Landing|Lane|Ln|Light|Lights|Loaf|Lock|Locks|Lodge|"
         "Loop|Mall|Manor|Manors|Meadow|Meadows|Mews|Mill|Mills|Mission|Motorway|Mount|Mountain|Mountains|Neck|"
         "Orchard|Oval|Overpass|Park|Parks|Parkway|Pkwy|Parkways|Pass|Passage|Path|Pike|Pine|Pines|Place|Pl|"
         "Plain|Plains|Plaza|Point|Points|Port|Ports|Prairie|Radial|Ramp|Ranch|Rapid|Rapids|Rest|Ridge|Ridges|"
         "River|Road|Rd|Roads|Route|Row|Rue|Run|Shoal|Shoals|Shore|Shores|Skyway|Spring|Springs|Spur|Spurs|"
         "Square|Sq|Squares|Station|Stravenue|Stream|Street|St|Streets|Summit|Terrace|Throughway|Trace|Track|"
         "Trafficway|Trail|Trailer|Tunnel|Turnpike|Underpass|Union|Unions|Valley|Valleys|Viaduct|View|Views|"
         "Village|Villages|Ville|Vista|Walk|Walks|Wall|Way|Ways|Well|Wells|Boulevard|Blvd")
_ADDR_SUFFIX = rf"(?:{_USPS})"
_CJK = r"\u4e00-\u9fff"
#: German and Dutch streets: the suffix attached (Hauptstraße, Kabusweg) or after an adjective (Berliner
#: Straße); house numbers with a range or a fraction (12-14, 5/3); towns with their qualifier (Bad Kreuznach,
#: Osterode am Harz, Pfaffenhofen an der Ilm, Sulzbach-Rosenberg).
_DE_SUFFIX = ("[Ss]tra(?:ß|ss)e|[Ss]tr\\.|[Ww]eg|[Gg]asse|[Aa]llee|[Pp]latz|[Rr]ing|[Dd]amm|[Uu]fer|[Cc]haussee|laan|"
              "straat|gracht|gade|vej|gatan|vägen")
_DE_WORD = "[A-ZÄÖÜ][a-zäöüß]+(?:-[A-ZÄÖÜ]?[a-zäöüß]+)*"
#: The word before a separate suffix is adjectival (Berliner Straße, Alte Gasse), never an article or a
#: preposition: "Auf Platz 2" and "Der Ring 3" are not addresses.
_DE_ADJECTIVE = ("(?!(?:Der|Die|Das|Dem|Den|Des|Eine|Einer|Eines|Einem|Einen|Diese|Dieser|Jede|Jeder|Keine|Meine|"
                 "Unsere|Ihre|Seine|Alle|Welche|Welcher)\\b)[A-ZÄÖÜ][a-zäöüß]*(?:er|e|es|en)")
_DE_CITY = (rf"(?:Bad |Sankt |St\. )?{_DE_WORD}(?: (?:am|an der|im|in der|ob der|bei|vor der|auf der|unter der) "
            rf"{_DE_WORD})?")
#: French streets with or without a house number; without one, only when the postcode and town follow. Towns
#: keep their hyphenated and Saint-/Le- forms (Brun-sur-Mer, Saint Rémy-la-Forêt). The prefilter stops at the
#: street type, or at the postcode when there is no number: "place" and "avenue" are English words too, and
#: a caseless street name after each would double the rule's share of the Hyperscan pass.
_FR_TYPE = "(?:rue|avenue|boulevard|bd|place|chemin|allée|impasse|quai)"
_FR_STREET = rf"{_FR_TYPE} (?:(?:de |du |des |la |le |l')?[A-ZÉ][\w'-]+ ?){{1,4}}"
_FR_TAIL = r"\d{5} (?:(?:Saint|Sainte|Le|La|Les|L')[ -])?[A-ZÉÈ][\w'’]*(?:-[\w'’]+)*"

RULES: tuple[IdentifierRule, ...] = (
    IdentifierRule("cn_resident_id", "CN_RESIDENT_ID", _NB + r"\d{6} ?\d{8} ?\d{3}[\dXxＸｘ]" + _NA, 1.0,
                   cn_resident_id_ok),
    IdentifierRule("credit_card", "CREDIT_CARD", r"(?<![0-9A-Za-z+])\d(?:[ -]?\d){11,18}" + _NA, 0.95,
                   credit_card_ok),
    IdentifierRule("us_ssn", "US_SSN", r"(?<![0-9A-Za-z-])\d{3}([- .])\d{2}\1\d{4}(?![0-9A-Za-z-])",
                   0.85, us_ssn_ok),
    IdentifierRule("us_ssn_bare", "US_SSN", _NB + r"\d{9}" + _NA, 0.6, us_ssn_ok,
                   context=("ssn", "social security", "社会安全号"), flags=re.IGNORECASE),
    IdentifierRule("cn_mobile", "PHONE_NUMBER", _NB + r"(?:(?:\+|00)?86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}" + _NA,
                   0.9, cn_mobile_ok),
    IdentifierRule("nanp_phone", "PHONE_NUMBER",
                   r"(?<![0-9A-Za-z+-])(?:(?:\+?1|001)[ .-]?)?(?:\(\d{3}\) ?|\d{3}[ .-]?)\d{3}[ .-]?\d{4}" + _NA,
                   0.75, nanp_ok),
    IdentifierRule("intl_phone", "PHONE_NUMBER", _NB + r"(?:\+|00)[1-9]\d{0,2}(?:[ .-]?\(?\d{1,5}\)?){2,6}" + _NA,
                   0.75, intl_phone_ok),
    IdentifierRule("uk_nhs", "UK_NHS", _NB + r"\d{3}[ -]?\d{3}[ -]?\d{4}" + _NA, 0.8, uk_nhs_ok,
                   context=("nhs",), flags=re.IGNORECASE),
    IdentifierRule("email", "EMAIL_ADDRESS",
                   r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}"
                   r"(?![A-Za-z0-9-])", 1.0, email_ok),
    IdentifierRule("ipv4", "IP_ADDRESS", r"(?<![0-9A-Za-z.])(?:\d{1,3}\.){3}\d{1,3}(?![0-9A-Za-z]|\.\d)", 0.9,
                   ip_ok),
    IdentifierRule("ipv6", "IP_ADDRESS",
                   r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{1,4}(?![0-9A-Za-z:])", 0.9,
                   ip_ok),
    IdentifierRule("iban", "IBAN_CODE", _NB + r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?" + _NA,
                   1.0, iban_ok),
    IdentifierRule("url", "URL", r"(?<![\w@/])(?:https?://|www\.)[^\s<>\"'，。、）)]+[^\s<>\"'，。、）).,;:!?]",
                   0.6, always, flags=re.IGNORECASE),
    IdentifierRule("geo", "GEO_COORDINATE", r"(?<![\d.])[-+]?\d{1,2}\.\d{4,8}, ?[-+]?\d{1,3}\.\d{4,8}(?![\d.])",
                   0.8, geo_ok),
    IdentifierRule("address_us", "STREET_ADDRESS",
                   _NB + r"\d{1,5}(?: [A-Z][a-z]+\.?){1,3} " + _ADDR_SUFFIX + r"\b\.?"
                   r"(?:,? (?:Apt|Suite|Unit|#)\.? ?\w+)?(?:, [A-Z][a-z]+(?: [A-Z][a-z]+){0,2})?"
                   r"(?:, [A-Z]{2})?(?: \d{5}(?:-\d{4})?)?", 0.8),
    IdentifierRule("address_de_nl", "STREET_ADDRESS",
                   rf"\b(?:(?:{_DE_WORD} ){{0,2}}[A-ZÄÖÜ][A-Za-zÄÖÜäöüß-]*?(?:{_DE_SUFFIX})|{_DE_ADJECTIVE} "
                   rf"(?:{_DE_SUFFIX})) \d{{1,4}}[a-z]?(?: ?[-/] ?\d{{1,4}}[a-z]?)?"
                   rf"(?:, \d{{4,5}}(?: ?[A-Z]{{2}})? {_DE_CITY})?", 0.8),
    IdentifierRule("address_fr", "STREET_ADDRESS",
                   rf"\b(?:\d{{1,4}}(?: ?(?:bis|ter))?,? {_FR_STREET}(?:, {_FR_TAIL})?|{_FR_STREET}, {_FR_TAIL})",
                   0.8, flags=re.IGNORECASE, prefilter=rf"\b(?:\d{{1,4}}(?: ?(?:bis|ter))?,? {_FR_TYPE} |{_FR_TYPE} "
                                                      r"[^,\n]+, \d{5} )"),
    IdentifierRule("address_it_es", "STREET_ADDRESS",
                   r"\b(?:Via|Viale|Piazza|Corso|Calle|Avenida|Plaza|Paseo|Rua|Carrer) (?:[A-Z][a-zà-ú]+ ?){1,3}"
                   r"\d{1,4}(?:, \d{5} [A-Z][a-zà-ú]+)?", 0.8),
    IdentifierRule("address_zh", "STREET_ADDRESS",
                   rf"(?:[{_CJK}]{{2,6}}(?:省|自治区))?(?:[{_CJK}]{{2,6}}市)?(?:[{_CJK}]{{1,6}}(?:区|县))?"
                   rf"[{_CJK}]{{1,10}}(?:路|街|大道|道|巷|胡同)\d{{1,5}}号(?:\d{{1,3}}(?:栋|幢|号楼))?(?:\d{{1,5}}室)?",
                   0.85),
    IdentifierRule("address_us_military", "STREET_ADDRESS",
                   r"\b(?:(?:PSC|CMR|Unit) \d{1,5},? Box \d{1,5}|US[A-Z]{1,3}(?: [A-Z][a-z]+){1,3}),? "
                   r"[ADF]PO A[AEP] \d{5}(?:-\d{4})?" + _NA, 0.85),
    IdentifierRule("person_zh", "PERSON", names.PERSON_ZH, 0.7, names.cn_name_ok, group=1,
                   prefilter=names.PERSON_ZH_PREFILTER),
    IdentifierRule("person_zh_titled", "PERSON", names.PERSON_ZH_TITLED, 0.7, names.cn_name_ok, group=1),
    IdentifierRule("person_en_greeting", "PERSON", names.PERSON_EN_GREETING, 0.7, group=1),
    IdentifierRule("person_en_field", "PERSON", names.PERSON_EN_FIELD, 0.7, group=1,
                   prefilter=names.PERSON_EN_FIELD_PREFILTER),
    IdentifierRule("person_en_cue", "PERSON", names.PERSON_EN_CUE, 0.7, group=1,
                   prefilter=names.PERSON_EN_CUE_PREFILTER),
    IdentifierRule("person_en_title", "PERSON", names.PERSON_EN_TITLE, 0.7, group=1,
                   prefilter=names.PERSON_EN_TITLE_PREFILTER),
    IdentifierRule("person_en_here", "PERSON", names.PERSON_EN_HERE, 0.7, group=1),
    IdentifierRule("person_en_signoff", "PERSON", names.PERSON_EN_SIGNOFF, 0.7, group=1),
)

def context_ok(rule: IdentifierRule, text: str, start: int) -> bool:
    if not rule.context:
        return True
    window = text[max(0, start - rule.context_window):start].lower()
    return any(word in window for word in rule.context)


def presidio_recognizers(language: str = "en") -> list[Any]:
    """The rules as Presidio ``PatternRecognizer`` objects, for registering in an ``AnalyzerEngine``."""
    from presidio_analyzer import Pattern, PatternRecognizer

    class _Recognizer(PatternRecognizer):
        def __init__(self, rule: IdentifierRule) -> None:
            self.rule = rule
            super().__init__(supported_entity=rule.entity, name=f"auditor_{rule.name}",
                             patterns=[Pattern(rule.name, rule.pattern, rule.score)],
                             context=list(rule.context), supported_language=language,
                             global_regex_flags=rule.flags | re.MULTILINE | re.DOTALL)

        def validate_result(self, pattern_text: str) -> bool:
            return self.rule.validator(pattern_text, "")

    return [_Recognizer(rule) for rule in RULES if rule.group == 0 and not rule.context]
