"""Normalization of bank statement descriptions.

Statement lines carry a lot of noise that says nothing about what was bought: processor prefixes
("SQ *", "TST*"), store numbers, card tails, dates, reference numbers, phone numbers and the
city/state the card network appends. Both the model and the company memory work on the cleaned
text so that the same merchant looks the same on every statement.

`split_description` also returns the processor *tags* it removed, because some of them carry
signal the model should keep (Toast "TST*" is a restaurant point of sale, "RECURRING" hints at a
subscription) even though they are not part of the merchant's name.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Leading phrases banks and processors put before the merchant. Longer phrases come before their
# own prefixes ("pos debit" before "pos "), since the alternation takes the first that matches;
# `_strip_leading` re-applies the pattern until nothing more is removed ("RECURRING SQ *…").
_LEADING = re.compile(
    r"^(?:"
    r"(?:recurring\s+)?(?:payment|purchase)\s+authorized\s+on\s+\d{1,2}/\d{1,2}(?:/\d{2,4})?"
    r"|(?:debit|visa|check|credit)\s*card\s+(?:purchase|pur|debit)(?:\s+-)?"
    r"|checkcard(?:\s+\d{4})?"
    r"|pos\s+(?:debit|purchase|pur|withdrawal)"
    r"|dbt\s+crd(?:\s+\d{3,4})?"
    r"|visa\s+dda\s+pur"
    r"|preauthorized\s+debit"
    r"|ach\s+(?:debit|credit|dr|cr)"
    r"|recurring(?:\s+(?:payment|debit|charge))?"
    r"|debit\s+purchase"
    r"|card\s+purchase"
    r"|(?:sq|squ|tst|pp|paypal|sp|in|wpy|bt|clk|fs|py|cko)\s*\*"
    r"|(?:aplpay|apple\s+pay|gglpay|google\s+pay)\s+"
    r"|sp\s+(?=[a-z])"
    r"|pos\s+(?=[a-z])"
    r")\s*"
)

# Tags worth keeping as model features: which processor or channel a line came through.
_TAG_OF = {
    "tst": "toast",
    "recurring": "recurring",
    "paypal": "paypal",
    "pp": "paypal",
    "sq": "square",
    "squ": "square",
    "sp": "shopify",
    "ach": "ach",
    "pos": "pos",
    "checkcard": "card",
    "debit": "card",
    "dbt": "card",
    "visa": "card",
    "purchase": "card",
    "payment": "recurring",
    "card": "card",
    "in": "intuit",
    "preauthorized": "ach",
    "aplpay": "wallet",
    "apple": "wallet",
    "gglpay": "wallet",
    "google": "wallet",
}

_URL = re.compile(
    r"(?:https?://)?(?:www\.)?([a-z0-9&-]+(?:\.[a-z0-9-]+)*)\.(?:com|net|org|io|co|us)\b(?:/\S*)?"
)
_CARD_TAIL = re.compile(
    r"\b(?:card\s*(?:ending\s*(?:in\s*)?)?(?:#\s*)?x*\d{4}|(?:ending\s*(?:in\s*)?)?x{2,}\d{2,6}|x{4,})\b"
)
_STORE_NO = re.compile(r"\b(?:store|str|st|no|loc|unit|#)\s*#?\s*\d+\b|#\s*\d+")
_MONTHS = r"jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec"
_DATE = re.compile(
    r"\b(?:\d{1,4}[/.-]\d{1,2}(?:[/.-]\d{2,4})?"
    rf"|(?:{_MONTHS})\s*\d{{1,2}}(?:,?\s*\d{{4}})?|\d{{1,2}}\s*(?:{_MONTHS})\b(?:\s*\d{{2,4}})?"
    r"|\d{1,2}:\d{2}(?::\d{2})?(?:\s*[ap]m)?)"
)
# ACH trailers ("DES:PAYROLL ID:XXXXX INDN:ACME LLC CO ID:123 CCD"): the part after the first
# identification field is per-payment detail.
_ACH_TRAILER = re.compile(r"\s(?:indn|id|co id|web id|ppd id|ccd id|trace|ref|conf)\s*[:#].*$")
_ACH_DES = re.compile(r"\bdes\s*:")
# Chase's long ACH form: "ORIG CO NAME:GUSTO ORIG ID:... DESC DATE:... CO ENTRY DESCR:PAYROLL ...".
_ORIG_CO = re.compile(r"^orig co name\s*:\s*(.*?)\s+orig id\s*:.*?co entry descr\s*:\s*(\S*).*$")
# "GOOGLE *ADS1234567890", "SQSP* INV12345678": a word glued to a reference number.
_GLUED_CODE = re.compile(r"\b([a-z]{3,})(\d{4,})\b")
# Ride-hailing lines carry the day and time: "LYFT *RIDE SUN 9PM".
_RIDE_TIME = re.compile(r"\b(?:mon|tue|wed|thu|fri|sat|sun)\s+\d{1,2}\s*[ap]m\b")
_HYPHEN_WORD = re.compile(r"(?<=[a-z0-9])-(?=[a-z0-9])")
_APOSTROPHE = re.compile(r"(?<=[a-z])['’`](?=[a-z])")
_NON_WORD = re.compile(r"[^a-z0-9&]+")
_REF_WORDS = frozenset(
    {
        "ref",
        "id",
        "ppd",
        "ccd",
        "web",
        "tel",
        "trace",
        "conf",
        "auth",
        "seq",
        "txn",
        "ind",
        "indn",
        "co",
        "des",
    }
)

_STATES = frozenset(
    [
        "al",
        "ak",
        "az",
        "ar",
        "ca",
        "co",
        "ct",
        "de",
        "dc",
        "fl",
        "ga",
        "hi",
        "id",
        "il",
        "in",
        "ia",
        "ks",
        "ky",
        "la",
        "me",
        "md",
        "ma",
        "mi",
        "mn",
        "ms",
        "mo",
        "mt",
        "ne",
        "nv",
        "nh",
        "nj",
        "nm",
        "ny",
        "nc",
        "nd",
        "oh",
        "ok",
        "or",
        "pa",
        "ri",
        "sc",
        "sd",
        "tn",
        "tx",
        "ut",
        "vt",
        "va",
        "wa",
        "wv",
        "wi",
        "wy",
    ]
)
# State codes that are also common words: only removed when a city is recognised before them.
_AMBIGUOUS_STATES = frozenset({"co", "in", "or", "me", "ok", "hi", "de", "la", "al", "pa", "id"})
_CITIES = frozenset(
    """
    new york; los angeles; chicago; houston; phoenix; philadelphia; san antonio; san diego; dallas;
    san jose; austin; jacksonville; fort worth; columbus; charlotte; san francisco; san fran;
    san francisc; indianapolis; seattle; denver; washington; boston; el paso; nashville; detroit;
    oklahoma city; portland; las vegas; memphis; louisville; baltimore; milwaukee; albuquerque;
    tucson; fresno; sacramento; mesa; kansas city; atlanta; omaha; colorado springs; raleigh;
    miami; long beach; virginia beach; oakland; minneapolis; tulsa; tampa; arlington; new orleans;
    wichita; cleveland; bakersfield; aurora; anaheim; honolulu; santa ana; riverside;
    corpus christi;
    lexington; stockton; henderson; saint paul; st paul; st louis; saint louis; cincinnati;
    pittsburgh; greensboro; anchorage; plano; lincoln; orlando; irvine; newark; toledo; durham;
    chula vista; fort wayne; jersey city; st petersburg; laredo; madison; chandler; buffalo;
    lubbock; scottsdale; reno; glendale; gilbert; winston salem; norfolk; chesapeake; garland;
    irving; hialeah; fremont; boise; richmond; baton rouge; spokane; des moines; tacoma;
    san bernardino; modesto; fontana; santa clarita; birmingham; oxnard; fayetteville; rochester;
    salt lake city; salt lake cty; palo alto; mountain view; sunnyvale; santa clara; redmond;
    bellevue; cambridge; somerville; brooklyn; queens; bronx; manhattan; berkeley; pasadena;
    santa monica; burbank; hoboken; evanston; ann arbor; boulder; savannah; charleston; asheville;
    burlington; providence; hartford; stamford; princeton; menlo park; redwood city; san mateo;
    walnut creek; kirkland; everett; olympia; eugene; salem; bend; missoula; bozeman; billings;
    fargo; sioux falls; des plaines; naperville; schaumburg; frisco; mckinney; round rock;
    sugar land; the woodlands; katy; tempe; flagstaff; santa fe; santa barbara; san luis obispo;
    monterey; santa cruz; napa; sonoma; petaluma; san rafael; daly city; south san francisco;
    marina del rey; culver city; west hollywood; hollywood; venice; malibu; long island city;
    white plains; yonkers; albany; syracuse; ithaca; new haven; worcester; springfield; portsmouth;
    manchester; nashua; concord; montpelier; augusta; bangor; knoxville; chattanooga; huntsville;
    mobile; jackson; little rock; shreveport; lafayette; pensacola; tallahassee; gainesville;
    fort lauderdale; boca raton; west palm beach; sarasota; naples; fort myers; st augustine;
    columbia; greenville; wilmington; dover; annapolis; alexandria; silver spring; bethesda;
    rockville; towson; harrisburg; allentown; scranton; erie; akron; dayton; ann arbor; lansing;
    grand rapids; kalamazoo; green bay; duluth; st cloud; rapid city; cheyenne; casper; provo;
    ogden; st george; coeur d alene; juneau; kailua; hilo; online; internet
    """.replace("\n", " ").split(";")
)
_CITIES = frozenset(c.strip() for c in _CITIES if c.strip())
_MAX_CITY_WORDS = max(len(c.split()) for c in _CITIES)
_COUNTRY = frozenset({"us", "usa"})
_CORPORATE = frozenset(
    {"inc", "llc", "ltd", "co", "corp", "corporation", "company", "pllc", "pc", "lp", "llp", "the"}
)
# A few statement spellings that differ from the everyday name of the same merchant.
_ALIASES = {
    "amzn mktp us": "amazon",
    "amzn mktp": "amazon",
    "amzn": "amazon",
    "amazon mktplace": "amazon",
    "amazon mktpl": "amazon",
    "amazon marketplace": "amazon",
    "wm supercenter": "walmart",
    "wal mart": "walmart",
    "mcdonald s": "mcdonalds",
}
_TOKEN_ALIASES = {"amzn": "amazon"}


def _strip_leading(text: str, tags: list[str]) -> str:
    while True:
        match = _LEADING.match(text)
        if match is None or match.end() == 0:
            return text
        head = re.split(r"[\s*]", match.group(0), maxsplit=1)[0]
        tag = _TAG_OF.get(head)
        if tag is not None and tag not in tags:
            tags.append(tag)
        text = text[match.end() :]


_NO_DIGITS = str.maketrans("", "", "0123456789")
_DIGIT = re.compile(r"\d")


def _drop_token(token: str) -> bool:
    """True for reference numbers and other digit-heavy tokens that never name a merchant."""
    digits = len(token) - len(token.translate(_NO_DIGITS))
    if digits == 0 or token == "401k":
        return False
    # Names keep at most a digit or two (7-Eleven, 1Password, 3M); codes like 8XK2 do not.
    return digits >= 3 or digits == len(token) or (digits >= 2 and digits * 2 >= len(token))


def _strip_location(tokens: list[str]) -> list[str]:
    """Remove the trailing "CITY ST" (and country) that card networks append."""
    if len(tokens) >= 2 and tokens[-1] in _COUNTRY:
        tokens = tokens[:-1]
    has_state = len(tokens) >= 2 and tokens[-1] in _STATES
    body = tokens[:-1] if has_state else tokens
    for n in range(min(_MAX_CITY_WORDS, len(body) - 1), 0, -1):
        if " ".join(body[-n:]) in _CITIES:
            return body[:-n]
    if has_state and tokens[-1] not in _AMBIGUOUS_STATES:
        tokens = body
    # "SPOTIFY USA 877-7781161 NY": the country can sit before the state.
    if len(tokens) >= 2 and tokens[-1] in _COUNTRY:
        tokens = tokens[:-1]
    return tokens


def split_description(text: str) -> tuple[str, tuple[str, ...]]:
    """Return the normalized description and the processor/channel tags that were stripped."""
    return _split_cached(text)


@lru_cache(maxsize=200_000)
def _split_cached(text: str) -> tuple[str, tuple[str, ...]]:
    tags: list[str] = []
    s = text.lower().strip()
    # Each substitution is skipped when the character it needs is absent: most lines need only
    # a few of them, and this function is half of the prediction time.
    has_digit = _DIGIT.search(s) is not None
    if "'" in s or "’" in s or "`" in s:
        s = _APOSTROPHE.sub("", s)
    s = _strip_leading(s, tags)
    if ":" in s or "#" in s:
        if "orig co name" in s:
            s = _ORIG_CO.sub(r"\1 \2", s)
        s = _ACH_TRAILER.sub("", s)
        s = _ACH_DES.sub(" ", s)
    if "." in s:
        s = _URL.sub(lambda m: m.group(1).replace(".", " "), s)
    if has_digit or "xxxx" in s:
        s = _CARD_TAIL.sub(" ", s)
    if has_digit:
        s = _GLUED_CODE.sub(r"\1 \2", s)
        s = _RIDE_TIME.sub(" ", s)
        s = _DATE.sub(" ", s)
        s = _STORE_NO.sub(" ", s)
    if "-" in s:
        s = _HYPHEN_WORD.sub("", s)
    s = _NON_WORD.sub(" ", s).strip()
    s = _strip_leading(s, tags)  # prefixes that only show up once punctuation is gone
    tokens = [t for t in s.split() if not _drop_token(t)]
    # Reference keywords ("PPD ID", "WEB ID", "CONF") only matter as the start of a trailer.
    while len(tokens) > 1 and tokens[-1] in _REF_WORDS:
        tokens.pop()
    tokens = _strip_location(tokens)
    return " ".join(tokens), tuple(tags)


def normalize_description(text: str) -> str:
    """Lowercase, strip processor prefixes, numbers, dates, card tails and city/state suffixes."""
    return _split_cached(text)[0]


@lru_cache(maxsize=200_000)
def merchant_key(text: str) -> str:
    """A short key that is the same for one merchant across statements and banks.

    It keeps the first few words of the normalized description without corporate suffixes: the
    tail of a statement line is where truncation and per-transaction detail live.
    """
    text = normalize_description(text)
    for alias, name in _ALIASES.items():
        if text == alias or text.startswith(alias + " "):
            text = name + text[len(alias) :]
            break
    tokens: list[str] = []
    for token in text.split():
        token = _TOKEN_ALIASES.get(token, token)
        # "AMAZON.COM*2K3 AMZN.COM/BILL" names the merchant twice.
        if token not in _CORPORATE and token not in tokens:
            tokens.append(token)
    return " ".join(tokens[:4])
