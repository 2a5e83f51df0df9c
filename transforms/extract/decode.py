"""Raw page bytes -> HTML text: the checks before extraction and charset decoding (pure functions)."""

import codecs
import re

from charset_normalizer import from_bytes

from transforms.extract import metadata

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_WHATWG_CODECS = {
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "iso-8859-1": "cp1252", "latin1": "cp1252",
    "latin_1": "cp1252", "ascii": "cp1252", "us-ascii": "cp1252", "iso-8859-9": "cp1254", "tis-620": "cp874",
    "iso-8859-11": "cp874", "euc-kr": "cp949", "ks_c_5601-1987": "cp949", "shift_jis": "cp932", "sjis": "cp932",
}
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")
# Byte-order marks and the codecs they announce (UTF-32 first: its LE mark starts with UTF-16's).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)


class PageRejected(ValueError):
    """A page that cannot become an article; ``error_type`` names the reason for the failures table."""

    def __init__(self, error_type: str, message: str):
        super().__init__(message)
        self.error_type = error_type


def _bom_codec(body: bytes) -> str | None:
    """The codec a byte-order mark at the start announces, if any."""
    return next((codec for bom, codec in _BOMS if body.startswith(bom)), None)


def check_page(body: bytes, max_bytes: int) -> None:
    """Reject inputs no extractor should see: empty, oversized or binary (UTF-16/32 text with a
    byte-order mark is judged on its characters, not on its zero bytes)."""
    if not body or not body.strip():
        raise PageRejected("EmptyPage", "page has no content")
    if len(body) > max_bytes:
        raise PageRejected("PageTooLarge", f"{len(body)} bytes > limit {max_bytes}")
    codec = _bom_codec(body)
    head = body[:4096].decode(codec, errors="ignore").encode() if codec else body[:4096]
    if len(_CONTROL_BYTES.findall(head)) > len(head) // 100:
        raise PageRejected("BinaryContent", "page looks binary (control bytes in the first 4 KB)")


def _codec(label: str) -> str:
    """The codec browsers use for a charset label (WHATWG Encoding Standard: gb2312 means gb18030,
    iso-8859-1 means windows-1252 ...)."""
    label = label.strip().lower()
    return _WHATWG_CODECS.get(label, label)


def _single_byte(codec: str) -> bool:
    """True for the Latin single-byte code pages (iso-8859-*, windows-125*)."""
    try:
        return codecs.lookup(codec).name.startswith(("iso8859", "cp125", "latin"))
    except LookupError:
        return False


def _multibyte_utf8(body: bytes) -> bool:
    """True when the bytes are valid UTF-8 and not plain ASCII: no single-byte text looks so."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not body.isascii()


def decode_html(body: bytes, declared_charset: str | None = None) -> str:
    """Bytes -> text: a byte-order mark (it wins, as in browsers), then the transport charset, then
    ``<meta charset>``, then UTF-8 (also when only a few bytes are broken), then detection.

    A declared Latin single-byte charset (iso-8859-1, windows-1252 ...) yields to UTF-8 when the
    bytes are valid multi-byte UTF-8: servers and templates often say latin-1 of UTF-8 pages.
    The result is NFC (Vietnamese legacy code pages such as windows-1258 decode to combining
    tone marks)."""
    candidates = [_bom_codec(body), declared_charset]
    match = _META_CHARSET.search(body[:4096])
    if match:
        candidates.append(match.group(1).decode("ascii"))
    utf8 = _multibyte_utf8(body)
    for charset in (*candidates, "utf-8"):
        if not charset:
            continue
        codec = "utf-8" if utf8 and _single_byte(_codec(charset)) else _codec(charset)
        try:
            return metadata.nfc(body.decode(codec))
        except (LookupError, UnicodeDecodeError):
            continue
    mostly_utf8 = body.decode("utf-8", errors="replace")
    if mostly_utf8.count("\ufffd") <= max(3, len(mostly_utf8) // 2000):
        return metadata.nfc(mostly_utf8)
    best = from_bytes(body[:200_000]).best()
    if best is not None:
        try:
            return metadata.nfc(body.decode(_codec(best.encoding)))
        except (LookupError, UnicodeDecodeError):
            pass
    return metadata.nfc(mostly_utf8)
