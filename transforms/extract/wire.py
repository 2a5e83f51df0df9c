"""Wire attribution: the news agency an article credits, as a code (pure functions).

    agencies = agency_lookup(AGENCIES)
    wire_source("Hà Nội (TTXVN) - Bộ Y tế cho biết ...", (), agencies)  # "VNA"

An agency counts only where a page credits its source, never where a sentence names it ("told
Reuters", "Reuters reported", "According to Reuters, the company ..."):

- the byline (the page's author fields): "Reuters", "By Jane Doe, AP", "PV/TTXVN", "Reuters Staff";
- the text's first lines: a dateline tag ("Hà Nội (TTXVN) - ", "WASHINGTON (AP) —", "(Reuters) -",
  "BEIJING, Jan. 5 (Xinhua) -- ", "New Delhi, Mar 3 (PTI) The", "MOSCOW, January 5. /TASS/."), a
  byline line ("By Jane Doe, Reuters");
- its first and last lines: a credit line ("Theo TTXVN", "Nguồn: VNA", "Source: Reuters", "(Theo Tân
  Hoa xã)", "— AP", "(TTXVN)", "Thu Hằng/TTXVN", "Minh Anh (TTXVN)", "Copyright 2024 The Associated
  Press. All rights reserved.", "With files from The Associated Press", "mit dpa", "Associated Press
  writer … contributed to this report.", Reuters' "(Reporting by …; Editing by …)"), a sign-off "./."
  allowed;
- the page's short blocks closing the text's container after its last line, which extraction may
  leave out ("— AP" as a heading ending the body: trafilatura drops a text's trailing headings);
- its last line's closing tag after a sentence ("… kế hoạch./. (TTXVN)"; not "… by Agence
  France-Presse (AFP).").

Names are looked up whole ("EFE", never inside "EFEKT"); an alias written in capitals only matches
as written ("AP", "EFE": not "Ap", "Efe"), others ignore case ("dpa", "Reuters").  Captions
("Ảnh: TTXVN", "Photo: AFP via Getty Images") credit a picture, not the text.  Of several credits
the first in reading order wins: the byline, then the first lines top-down, then the last ones
top-down ("Theo Reuters, AFP": REUTERS; "LONDON (AFP) - … Copyright The Associated Press": AFP).

Bounded work: ``HEAD_LINES`` + ``TAIL_LINES`` lines of at most ``MAX_LINE`` characters and
``MAX_BYLINE`` of each author field; the patterns have no nested quantifiers.
"""

import re
import unicodedata
from collections.abc import Iterable, Mapping
from itertools import islice
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from lxml.html import HtmlElement

# Agency code -> the names a page credits it by (``extract.wire_agencies`` replaces the whole table).
AGENCIES = {
    "VNA": (
        "TTXVN", "VNA", "Thông tấn xã Việt Nam", "TTX Việt Nam", "Vietnam News Agency", "Vietnam+", "VietnamPlus",
    ),
    "REUTERS": ("Reuters", "Thomson Reuters"),
    "AP": ("AP", "Associated Press"),
    "AFP": ("AFP", "Agence France-Presse", "Agence France Presse"),
    "XINHUA": ("Xinhua", "Xinhua News Agency", "Tân Hoa xã"),
    "KYODO": ("Kyodo", "Kyodo News"),
    "YONHAP": ("Yonhap", "Yonhap News Agency"),
    "BLOOMBERG": ("Bloomberg", "Bloomberg News", "Bloomberg L.P."),
    "DPA": ("dpa", "Deutsche Presse-Agentur"),
    "EFE": ("EFE", "Agencia EFE"),
    "ANSA": ("ANSA",),
    "TASS": ("TASS", "ITAR-TASS", "ТАСС"),
    "RIA": ("RIA Novosti", "RIA", "РИА Новости"),
    "BERNAMA": ("Bernama",),
    "ANTARA": ("Antara", "Antara News"),
    "PTI": ("PTI", "Press Trust of India"),
    "JIJI": ("Jiji Press",),
    "INTERFAX": ("Interfax",),
    "UPI": ("UPI", "United Press International"),
    "AAP": ("AAP", "Australian Associated Press"),
    "APA": ("APA", "Austria Presse Agentur"),
}
REUTERS_CREDIT = "REUTERS"  # the code a "Reporting by …; Editing by …" line credits
HEAD_LINES = 3
TAIL_LINES = 3
AFTER_LINES = 3
MAX_LINE = 300
MAX_BYLINE = 200
_MAX_TAG_START = 80  # a dateline tag starts within this many characters of its line
_MAX_CREDIT_LINE = 80  # a whole-line credit ("Theo Reuters, AFP") is at most this long
_MAX_NAME_LINE = 60  # a name line ending in its agency ("Thu Hằng/TTXVN")
_MAX_ITEM_WORDS = 6
_WINDOW = 8 * MAX_LINE  # characters read at each end of a text
_FIND_CHARS, _MIN_FIND_CHARS = 30, 8  # the start of the text's last line, looked up in the page
_MAX_SIBLINGS = 100  # blocks read after it
_BLOCKS = frozenset({
    "p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "td", "section", "article", "pre",
})

_LINE_EDGES = " \t|*•>#"
_CAPTION = re.compile(
    r"^[(\[]?\s*(?:ảnh|nguồn ảnh|photo|photos|image|picture|video|clip|foto|bild|đồ họa|graphic)\b[^:\n]{0,30}:",
    re.IGNORECASE,
)
_CREDIT_WORDS = (
    r"theo|nguồn|nguồn tin|source|sources|according to|via|credit|credits|with files from|quelle|mit material von"
    r"|mit|fonte|fuente"
    r"|this (?:article|story) (?:originally )?(?:appeared|was (?:first |originally )?published) (?:on|in|by)"
)
# A whole line naming sources: "Theo TTXVN", "Nguồn: VNA", "(Theo Reuters)", "— AP", "TTXVN/Vietnam+".
_CREDIT_LINE = re.compile(
    r"^[(\[]?[ \t]*(?:(?P<dash>[-–—]{1,2})[ \t]*)?(?:(?P<word>" + _CREDIT_WORDS + r")\b[ \t]*[:：]?[ \t]*)?"
    r"(?P<names>[^()\[\]:：\n]{1,80}?)[ \t]*[)\]]?[ \t.]*$",
    re.IGNORECASE,
)
# A name line closed by its agency in brackets: "Minh Anh (TTXVN)", "PV (Theo TTXVN)".
_NAME_TAG_LINE = re.compile(r"^(?P<who>[^()\[\]:\n]{1,40}?)[ \t]*\((?P<names>[^()\n]{1,40})\)[ \t.]*$")
# A tag closing a text's last line after its last sentence: "… kế hoạch./. (TTXVN)", "… year. (Theo AFP)".
_CLOSING_TAG = re.compile(r"(?:[.!?…”\"'»]|\./\.)[ \t]*\((?P<names>[^()\n]{1,40})\)[ \t.]*$")
# Dateline tags: "(TTXVN)", "(Reuters)", "/TASS/".
_TAG = re.compile(r"\((?P<paren>[^()\n]{1,40})\)|/(?P<slash>[^/\s][^/\n]{0,20})/")
_DATED_PREFIX = re.compile(r"^[^\W\d][^()\n]{0,40}\d[ \t]*$")  # "New Delhi, Mar 3 ", "Hà Nội, 12/3 "
_AFTER_TAG = re.compile(r"[ \t]*\.?[ \t]*[-–—−:]")
_AFTER_SLASH_TAG = re.compile(r"\.?(?:[ \t]|$)")
# "МОСКВА, 5 янв — РИА Новости." (a dateline naming its agency after a dash).
_DASH_DATELINE = re.compile(r"^[^\n.!?()]{1,60}?[ \t][-–—][ \t](?P<names>[^\n.,:;()]{1,30})[.,][ \t]")
_BYLINE = re.compile(r"^(?:by|bởi|von|por|di|par)[ \t]+(?P<names>[^\n]{1,100})$", re.IGNORECASE)
_COPYRIGHT = re.compile(
    r"^(?:copyright\b|©|\(c\))[ \t©]*(?:\(c\)[ \t]*)?(?:\d{4}(?:[ \t]*[-–][ \t]*\d{4})?[ \t,]*)?(?:by[ \t]+)?"
    r"(?P<names>[^\n]{1,60}?)[ \t,]*(?:\d{4})?[ \t]*\.?[ \t]*(?:all[ \t]+rights[ \t]+reserved\.?)?$",
    re.IGNORECASE,
)
# "Associated Press writer John Leicester in Paris contributed to this report."
_CONTRIBUTED = re.compile(
    r"^[-–—]?[ \t]*(?P<names>[^\n]{1,40}?)[ \t]+(?:writers?|reporters?|correspondents?)\b[^\n]{0,200}?"
    r"\bcontributed(?:[ \t]+to[ \t]+this[ \t]+(?:report|story|article))?\.?$",
    re.IGNORECASE,
)
_REUTERS_CREDIT = re.compile(r"^\(?[ \t]*(?:additional[ \t]+)?(?:reporting|writing)[ \t]+by\b", re.IGNORECASE)
_EDITING_BY = re.compile(r"\bediting[ \t]+by\b", re.IGNORECASE)
_ITEM_SEPARATORS = re.compile(r"[ \t]*(?:[/,;|&]|[ \t][-–—][ \t]|[ \t](?:and|và|und|et|y|e)[ \t])[ \t]*", re.IGNORECASE)
_ITEM_PREFIX = re.compile(r"^(?:the|hãng tin|hãng thông tấn|agency|agencia|agenzia|agentur)[ \t]+", re.IGNORECASE)
_ITEM_SUFFIX = re.compile(r"[ \t]+(?:staff|reporters?|wire|wires)$", re.IGNORECASE)
_ITEM_EDGES = " \t.,'\"“”‘’«»"
_NAME_WORD = re.compile(r"^[^\W\d_][\w.'’-]*$")


class Agencies(NamedTuple):
    """An agency table ready for lookups (``agency_lookup``)."""

    exact: dict  # aliases in capitals only ("AP") -> code
    folded: dict  # other aliases, case-folded ("reuters") -> code


def check_agencies(agencies: Mapping) -> dict:
    """``agencies`` (code -> aliases) as code -> tuple of aliases; ValueError naming what is wrong."""
    if not isinstance(agencies, Mapping):  # a ValueError, as every config error (pipelines.config)
        raise ValueError(f"extract.wire_agencies must map codes to names, got {agencies!r}")  # noqa: TRY004
    table, owner = {}, {}
    for code, aliases in agencies.items():
        names = (aliases,) if isinstance(aliases, str) else aliases
        if not isinstance(code, str) or not code.strip() or not isinstance(names, (list, tuple)) or not names:
            raise ValueError(f"extract.wire_agencies: {code!r} must be a code with a list of names, got {aliases!r}")
        for name in names:
            if not isinstance(name, str) or not name.strip():
                raise ValueError(f"extract.wire_agencies.{code}: names must be non-empty strings, got {name!r}")
            key = _nfc(name.strip()).casefold()
            if owner.setdefault(key, code) != code:
                raise ValueError(f"extract.wire_agencies: {name!r} names both {owner[key]} and {code}")
        table[code] = tuple(names)
    return table


def agency_lookup(agencies: Mapping) -> Agencies:
    """The lookup tables of an agency table (code -> aliases)."""
    exact, folded = {}, {}
    for code, aliases in check_agencies(agencies).items():
        for alias in aliases:
            alias = _nfc(alias.strip())
            if any(c.islower() for c in alias):
                folded[alias.casefold()] = code
            else:
                exact[alias] = code
    return Agencies(exact, folded)


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def wire_source(text: str, bylines: Iterable[str | None], agencies: Agencies, after: Iterable[str] = ()) -> str | None:
    """The code of the agency the article credits (see the module docstring), or None; ``after``:
    the page's lines right after the text that extraction left out (``lines_after``)."""
    for byline in bylines:
        if byline and (code := _byline_credit(_nfc(byline[:MAX_BYLINE]), agencies)):
            return code
    head, tail = _edge_lines(text)
    for line in head:
        if not _CAPTION.match(line) and (code := _head_credit(line, agencies) or _line_credit(line, agencies)):
            return code
    for line in tail + _clean_lines(_nfc(line) for line in islice(after, AFTER_LINES)):
        if not _CAPTION.match(line) and (code := _line_credit(line, agencies)):
            return code
    if match := _CLOSING_TAG.search(_clean_line(text.rstrip(_LINE_EDGES + "\n")[-MAX_LINE:])):
        return _names_credit(match["names"], agencies, listed=False)
    return None


def lines_after(tree: "HtmlElement", text: str | None) -> tuple[str, ...]:
    """The texts of the last (at most ``AFTER_LINES``) short blocks that close the container of the
    text's last line, after that line, in the page's ``tree``: where a sign-off stands that
    extraction left out.  ``text`` is trafilatura's, as the page writes it; the block holding its
    last line is looked up by the line's start, and when it is the last of its siblings, its
    parent's siblings are read.  A page whose text lies directly in ``<body>`` gives none."""
    last = " ".join((text or "").rstrip().rsplit("\n", 1)[-1].split())[:_FIND_CHARS]
    if len(last) < _MIN_FIND_CHARS:
        return ()
    found = tree.xpath("//body//text()[contains(normalize-space(.), $start)]", start=last)
    if not found:
        return ()
    block = found[-1].getparent()
    if found[-1].is_tail:  # text after a child element: the child's parent holds it
        block = block.getparent()
    while block is not None and block.tag not in _BLOCKS:
        block = block.getparent()
    for _ in range(2):
        if block is None or block.getparent() is None or block.getparent().tag in ("body", "html"):
            return ()
        following = [e for e in islice(block.itersiblings(), _MAX_SIBLINGS) if e.tag in _BLOCKS]
        if following:
            texts = (" ".join(element.text_content().split()) for element in following[-AFTER_LINES:])
            return tuple(text for text in texts if 0 < len(text) <= MAX_LINE)
        block = block.getparent()
    return ()


def _edge_lines(text: str) -> tuple[list[str], list[str]]:
    """The text's first ``HEAD_LINES`` and last ``TAIL_LINES`` non-empty lines (each once), read
    from its first and last ``_WINDOW`` characters only; a line cut by a window is dropped unless
    it is kept whole up to ``MAX_LINE`` (a first line longer than the window)."""
    if len(text) <= 2 * _WINDOW:
        lines = _clean_lines(text.split("\n"))
        return lines[:HEAD_LINES], lines[HEAD_LINES:][-TAIL_LINES:]
    first = text[:_WINDOW].split("\n")
    if len(first) > 1 and len(first[-1]) < MAX_LINE:
        first.pop()
    return _clean_lines(first)[:HEAD_LINES], _clean_lines(text[-_WINDOW:].split("\n")[1:])[-TAIL_LINES:]


def _clean_lines(lines: Iterable[str]) -> list[str]:
    """``_clean_line`` of each line, blank ones left out."""
    return [line for line in map(_clean_line, lines) if line]


def _clean_line(line: str) -> str:
    """A line without table pipes, bullets or a sign-off "./." around it, cut at ``MAX_LINE``."""
    line = line.strip(_LINE_EDGES)
    if line.endswith("./."):
        line = line[:-3].strip(_LINE_EDGES)
    return line[:MAX_LINE]


def _head_credit(line: str, agencies: Agencies) -> str | None:
    """A dateline tag or a byline line at the start of the text."""
    for match in _TAG.finditer(line, 0, _MAX_TAG_START + 42):
        if match.start() > _MAX_TAG_START:
            break
        after = _AFTER_TAG if match["paren"] else _AFTER_SLASH_TAG
        dated = _DATED_PREFIX.match(line[: match.start()]) and line[match.end() : match.end() + 1] in (" ", "\t", "")
        placed = match.start() == 0 or dated or after.match(line, match.end())
        if placed and (code := _names_credit(match["paren"] or match["slash"], agencies, listed=False)):
            return code
    if (match := _DASH_DATELINE.match(line)) and (code := _names_credit(match["names"], agencies, listed=False)):
        return code
    if match := _BYLINE.match(line):
        return _any_agency(match["names"], agencies)
    return None


def _line_credit(line: str, agencies: Agencies) -> str | None:
    """A whole line crediting a source: a credit line, a name line, a copyright or Reuters' credit."""
    if _REUTERS_CREDIT.match(line) and _EDITING_BY.search(line):
        return REUTERS_CREDIT if _has_code(agencies, REUTERS_CREDIT) else None
    if match := _COPYRIGHT.match(line) or _CONTRIBUTED.match(line):
        return _any_agency(match["names"], agencies)
    if len(line) <= _MAX_CREDIT_LINE and (match := _CREDIT_LINE.match(line)):
        return _names_credit(match["names"], agencies, listed=bool(match["word"] or match["dash"]))
    if len(line) <= _MAX_NAME_LINE and (match := _NAME_TAG_LINE.match(line)) and _is_name(match["who"]):
        return _names_credit(match["names"], agencies, listed=False)
    return None


def _names_credit(names: str, agencies: Agencies, *, listed: bool) -> str | None:
    """The first agency in a list of names.  After a credit word or dash (``listed``) outlets' names
    may stand beside it ("Theo Báo Tin tức/TTXVN"; not "According to Reuters, the deal …"); else
    the list credits only if it is a credit itself ("Theo TTXVN") or its agencies close it, after
    people's names at most ("TTXVN/Vietnam+", "Thu Hằng/TTXVN")."""
    if not listed and (match := _CREDIT_LINE.match(names)) and match["word"]:
        return _names_credit(match["names"], agencies, listed=True)
    items = [item for item in _ITEM_SEPARATORS.split(names) if item.strip(_ITEM_EDGES)]
    if not items or any(len(item.split()) > _MAX_ITEM_WORDS for item in items):
        return None
    codes = [_agency(item, agencies) for item in items]
    if listed and not all(code or _is_outlet(item) for item, code in zip(items, codes)):
        return None
    if not listed and (codes[-1] is None or not all(code or _is_name(item) for item, code in zip(items, codes))):
        return None
    return next((code for code in codes if code), None)


def _any_agency(names: str, agencies: Agencies) -> str | None:
    """The first agency among a byline's names ("Jane Doe, Reuters"; "The Associated Press")."""
    items = _ITEM_SEPARATORS.split(_paren_free(names))
    return next((code for item in items if (code := _agency(item, agencies))), None)


def _byline_credit(byline: str, agencies: Agencies) -> str | None:
    """An author field naming an agency: "Reuters", "By Jane Doe, AP", "PV/TTXVN", "Minh Anh (TTXVN)"."""
    byline = byline.strip(_LINE_EDGES)
    if match := _BYLINE.match(byline):
        byline = match["names"]
    if match := _CREDIT_LINE.match(byline):
        byline = match["names"] if match["word"] else byline
    return _any_agency(byline, agencies)


def _paren_free(text: str) -> str:
    """Brackets as separators: "Minh Anh (TTXVN)" -> "Minh Anh / TTXVN"."""
    return text.replace("(", "/").replace(")", "/")


def _agency(item: str, agencies: Agencies) -> str | None:
    item = _ITEM_SUFFIX.sub("", _ITEM_PREFIX.sub("", item.strip(_ITEM_EDGES)))
    return agencies.exact.get(item) or agencies.folded.get(item.casefold())


def _is_name(item: str) -> bool:
    """A person's or desk's name: at most five words, each capitalised ("Thu Hằng", "PV")."""
    words = item.strip(_ITEM_EDGES).split()
    return 0 < len(words) <= 5 and all(_NAME_WORD.match(word) and word[0].isupper() for word in words)


def _is_outlet(item: str) -> bool:
    """An outlet's name beside an agency: up to four words, the first capitalised ("Báo Tin tức"),
    or one short word ("sda")."""
    words = item.strip(_ITEM_EDGES).split()
    if len(words) == 1 and len(words[0]) <= 5:
        return True
    return 0 < len(words) <= 4 and (words[0][0].isupper() or words[0][0].isdigit())


def _has_code(agencies: Agencies, code: str) -> bool:
    return code in agencies.exact.values() or code in agencies.folded.values()


DEFAULT_AGENCIES = agency_lookup(AGENCIES)
