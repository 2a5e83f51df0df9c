"""FastWARC reads WARC files, checked against warcio: for every archive, clean, damaged or odd,
``iter_warc_pages`` gives the same rows whichever library reads it (warcio's rows define them),
and FastWARC reads all but the last record of a plain archive."""

import gzip
import io
import random
import zlib
from pathlib import Path

import brotli
import pytest

from tests.support.bombs import MIB, peak_growth
from tests.support.paths import SHARED_DATA
from transforms.sources import warc
from transforms.sources.warc import iter_warc_pages

CORPUS = SHARED_DATA / "warc"
HTML = b"<html><head><title>Tin</title></head><body><p>" + "Hà Nội mưa lớn, ".encode() * 30 + b"</p></body></html>"


def warc_record(
    kind: str,
    uri: str | None,
    block: bytes,
    *extra: str,
    version: str = "WARC/1.0",
    length: str | None = None,
    content_type: str = "application/http; msgtype=response",
    eol: str = "\r\n",
    tail: bytes = b"\r\n\r\n",
) -> bytes:
    """One WARC record written by hand, as broken as a test needs."""
    lines = [version, f"WARC-Type: {kind}"] if kind else [version]
    lines += [f"WARC-Target-URI: {uri}"] if uri is not None else []
    lines += ["WARC-Date: 2026-11-01T08:30:00Z", f"WARC-Record-ID: <urn:uuid:{zlib.crc32(block):032x}>"]
    lines += [f"Content-Type: {content_type}", *extra, f"Content-Length: {len(block) if length is None else length}"]
    return (eol.join(lines) + eol + eol).encode("utf-8", "surrogateescape") + block + tail


def http_response(body: bytes = HTML, *headers: str, status: str = "HTTP/1.1 200 OK", eol: str = "\r\n") -> bytes:
    return eol.join([status, "Content-Type: text/html; charset=utf-8", *headers, "", ""]).encode() + body


def chunked(data: bytes, size: int = 100) -> bytes:
    pieces = [data[i : i + size] for i in range(0, len(data), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"


def clean_records() -> list[bytes]:
    return [
        warc_record("warcinfo", None, b"software: newsbeam tests\r\n", content_type="application/warc-fields"),
        warc_record("request", "https://tin.example/1", b"GET /1 HTTP/1.1\r\nHost: tin.example\r\n\r\n", content_type="application/http; msgtype=request"),
        warc_record("response", "https://tin.example/1", http_response()),
        warc_record("metadata", "https://tin.example/1", b"fetchTimeMs: 20\r\n", content_type="application/warc-fields"),
        warc_record(
            "response",
            "https://tin.example/2",
            http_response(chunked(gzip.compress(HTML)), "Content-Encoding: gzip", "Transfer-Encoding: chunked"),
        ),
        warc_record("response", "https://tin.example/3", http_response(HTML.replace(b"Tin", b"Tin 3"))),
    ]


def rows(data: bytes | Path, library: str, name: str = "t.warc") -> list[dict]:
    source = str(data) if isinstance(data, Path) else io.BytesIO(data)
    return [{k: v for k, v in row.items() if k != "at"} for row in iter_warc_pages(source, name, library=library)]


def same_rows(data: bytes | Path, name: str = "t.warc") -> list[dict]:
    """The rows of an archive, asserted the same from FastWARC as from warcio."""
    expected = rows(data, "warcio", name)
    assert rows(data, "fastwarc", name) == expected
    return expected


@pytest.fixture
def read_by_warcio(monkeypatch):
    """How many records warcio reads (the rest FastWARC read)."""
    seen = []
    read_record = warc._read_record

    def counting(archive, record, source_name, max_page_bytes):
        seen.append(record.rec_headers.get_header("WARC-Type"))
        return read_record(archive, record, source_name, max_page_bytes)

    monkeypatch.setattr(warc, "_read_record", counting)
    return seen


def test_every_archive_in_the_corpus_gives_the_same_rows_from_both_libraries():
    if not CORPUS.exists():
        pytest.skip(f"corpus {CORPUS} is absent (see ../shared/data/README.md)")
    files = sorted(p for p in CORPUS.rglob("*") if p.is_file() and (".warc" in p.name or ".arc" in p.name))
    assert len(files) >= 30
    for path in files:
        same_rows(path, path.name)


@pytest.mark.parametrize("gzipped", [False, True], ids=["warc", "warc.gz"])
def test_fastwarc_reads_all_records_but_the_last(gzipped, read_by_warcio):
    data = b"".join(gzip.compress(r) if gzipped else r for r in clean_records() * 3)
    results = rows(data, "fastwarc")
    assert [r.get("url") for r in results] == ["https://tin.example/1", "https://tin.example/2", "https://tin.example/3"] * 3
    assert results[1]["body"] == HTML and results[0]["charset"] == "utf-8"
    assert read_by_warcio == ["response"]  # the last record: warcio says whether the file ends well
    read_by_warcio.clear()
    assert rows(data, "warcio") == results
    assert len(read_by_warcio) == 18


def test_corpus_crawls_are_read_by_fastwarc(read_by_warcio):
    for name in ("resiliparse/tests/data/warcfile.warc.gz", "ukwa-webarchive-test-suite/wikipedia-sopa-blackout-2012/wikipedia-blackout/sopa-wikipedia-homepage.warc.gz"):
        path = CORPUS / name
        if not path.exists():
            pytest.skip(f"corpus {path} is absent (see ../shared/data/README.md)")
        read_by_warcio.clear()
        assert rows(path, "fastwarc")
        assert len(read_by_warcio) == 1


@pytest.mark.parametrize(
    "data",
    [
        b"filedesc://t.arc 0.0.0.0 20260101000000 text/plain 69\n1 0 newsbeam\nURL IP-address Archive-date Content-type Archive-length\n\n",
        b"WARC/0.18\r\nWARC-Type: warcinfo\r\nContent-Length: 0\r\n\r\n\r\n\r\n",
        b"\x04\x22\x4d\x18" + b"\x00" * 40,  # LZ4 frame magic: warcio reads no LZ4
        b"",
    ],
    ids=["arc", "warc-0.18", "lz4", "empty"],
)
def test_what_fastwarc_is_not_given_is_read_by_warcio(data, read_by_warcio, monkeypatch):
    monkeypatch.setattr(warc.fastwarc, "ArchiveIterator", None)  # would fail if called
    if not data.startswith(b"\x04"):
        assert warc._sniff(io.BytesIO(data)) is None
    same_rows(data)


def test_a_gzipped_arc_goes_back_to_warcio_at_its_first_record(read_by_warcio):
    path = CORPUS / "warcio" / "test" / "data" / "example.arc.gz"
    if not path.exists():
        pytest.skip(f"corpus {path} is absent (see ../shared/data/README.md)")
    assert [r["url"] for r in same_rows(path)] == ["http://example.com/"]


def _member(record: bytes) -> bytes:
    return gzip.compress(record)


def _swap(index: int, new: bytes):
    return lambda records: records[:index] + [new] + records[index + 1 :]


def _replace(index: int, old: bytes, new: bytes):
    def mutate(records):
        assert old in records[index]
        return records[:index] + [records[index].replace(old, new, 1)] + records[index + 1 :]

    return mutate


def _content_length(delta: int):
    block = http_response()
    return _swap(2, warc_record("response", "https://tin.example/1", block, length=str(len(block) + delta)))


def _response(*extra: str, uri: str | None = "https://tin.example/1", block: bytes | None = None, **options):
    return _swap(2, warc_record("response", uri, http_response() if block is None else block, *extra, **options))


# Each case changes the clean archive; a plain archive is its records joined, a gzipped one has a
# gzip member per record (cases on the gzip layout itself are further down).
CASES = {
    "clean": lambda records: records,
    "content-length 1 short": _content_length(-1),
    "content-length 4 short": _content_length(-4),
    "content-length 1 long": _content_length(1),
    "content-length 4 long": _content_length(4),
    "content-length 300 long": _content_length(300),
    "content-length missing": _replace(2, b"Content-Length: ", b"X-Length: "),
    "content-length not a number": _response(length="12a"),
    "content-length negative": _response(length="-5"),
    "content-length with spaces": _response(length=f" {len(http_response())}  "),
    "content-length twice, the first wrong": _response("Content-Length: 3"),
    "no blank line after a record": _response(tail=b""),
    "one blank line after a record": _response(tail=b"\r\n"),
    "five blank lines after a record": _response(tail=b"\r\n" * 5),
    "blank lines with spaces": _response(tail=b"\r\n  \r\n\t\r\n"),
    "blank lines of bare LF": _response(tail=b"\n\n"),
    "bytes between records": _response(tail=b"\r\n\r\njunk\r\n"),
    "WARC headers in bare LF lines": _response(eol="\n"),
    "a folded WARC header": _response("X-Note: one\r\n  two"),
    "a space before a colon in the WARC headers": _replace(2, b"WARC-Type: response", b"WARC-Type : response"),
    "a WARC header without a colon": _response("X-Note"),
    "a whitespace-only WARC header line": _response(" "),
    "a NUL in the WARC headers": _response("X-Note: a\x00b"),
    "a lone CR in the WARC headers": _response("X-Note: a\rb"),
    "non-ASCII target URI (UTF-8)": _response(uri="https://tin.example/hà-nội"),
    "non-ASCII target URI (Latin-1)": _response(uri="https://tin.example/caf\udce9"),
    "target URI in angle brackets": _response(uri="<https://tin.example/1>"),
    "target URI with spaces": _response(uri="https://tin.example/a b"),
    "target URI twice, the first bracketed": _response("WARC-Target-URI: https://tin.example/other", uri="<https://tin.example/1>"),
    "target URI twice, the first with a space": _response("WARC-Target-URI: https://tin.example/other", uri="https://tin.example/a b"),
    "target URI missing": _response(uri=None),
    "target URI missing on an empty response": _response(uri=None, block=b""),
    "WARC-Type twice": _response("WARC-Type: request"),
    "WARC-Type missing": _swap(2, warc_record("", "https://tin.example/1", http_response())),
    "WARC-Type in upper case": _swap(2, warc_record("RESPONSE", "https://tin.example/1", http_response())),
    "header names in upper case": _replace(2, b"Content-Length:", b"CONTENT-LENGTH:"),
    "WARC/1.1": _response(version="WARC/1.1"),
    "WARC/0.18 in the middle": _response(version="WARC/0.18"),
    "warc/1.0 in lower case": _response(version="warc/1.0"),
    "WARC headers over 32 KiB": _response("X-Long: " + "x" * (40 << 10)),
    "empty response": _response(block=b""),
    "dns response": _swap(2, warc_record("response", "dns:tin.example", b"20261101 tin.example. 300 IN A 192.0.2.1\n", content_type="text/dns")),
    "revisit": _swap(2, warc_record("revisit", "https://tin.example/1", b"HTTP/1.1 200 OK\r\n\r\n")),
    "empty revisit": _swap(2, warc_record("revisit", "https://tin.example/1", b"")),
    "resource": _swap(2, warc_record("resource", "https://tin.example/1.html", HTML, content_type="text/html")),
    "unknown record type": _swap(2, warc_record("newsbeam-note", "https://tin.example/1", b"note")),
    "no HTTP status line": _response(block=b"Content-Type: text/html\r\n\r\n" + HTML),
    "a blank first HTTP line": _response(block=b"\r\n" + http_response()),
    "a whitespace-only first HTTP line": _response(block=b"  \r\n" + http_response()),
    "HTTP status line only": _response(block=b"HTTP/1.1 200 OK\r\n"),
    "HTTP headers without their blank line": _response(block=b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"),
    "HTTP headers in bare LF lines": _response(block=http_response(eol="\n")),
    "HTTP status in lower case": _response(block=http_response(status="http/1.1 200 OK")),
    "HTTP status without reason": _response(block=http_response(status="HTTP/1.1 200")),
    "HTTP status with a tab": _response(block=http_response(status="HTTP/1.1\t200 OK")),
    "HTTP status with two spaces": _response(block=http_response(status="HTTP/1.1  200 OK")),
    "HTTP 404": _response(block=http_response(status="HTTP/1.1 404 Not Found")),
    "HTTP 301": _response(block=http_response(status="HTTP/1.1 301 Moved")),
    "HTTP/2": _response(block=http_response(status="HTTP/2 200")),
    "not HTTP": _response(block=http_response(status="ICY 200 OK")),
    "non-HTML page": _response(block=http_response(b"{}").replace(b"text/html", b"application/json")),
    "XHTML page": _response(block=http_response().replace(b"text/html", b"application/xhtml+xml")),
    "no Content-Type": _response(block=b"HTTP/1.1 200 OK\r\n\r\n" + HTML),
    "Content-Type twice": _response(block=http_response(HTML, "Content-Type: text/plain")),
    "a space before a colon in the HTTP headers": _response(block=http_response().replace(b"Content-Type:", b"Content-Type :")),
    "a folded HTTP header": _response(block=http_response(HTML, "X-Note: one\r\n two")),
    "non-ASCII HTTP header": _response(block=http_response(HTML, "X-Title: Hà Nội")),
    "Latin-1 HTTP header": _response(block=http_response(HTML, "X-Title: caf").replace(b"caf", b"caf\xe9")),
    "charset in quotes": _response(block=http_response().replace(b"charset=utf-8", b'charset="windows-1258"')),
    "HTTP headers over 4 KiB": _response(block=http_response(HTML, *(f"X-Pad-{i}: {'p' * 90}" for i in range(60)))),
    "HTTP headers over 64 KiB": _response(block=http_response(HTML, *(f"X-Pad-{i}: {'p' * 90}" for i in range(800)))),
    "HTTP headers over 64 KiB, non-ASCII": _response(block=http_response(HTML, "X-Title: Hà", *(f"X-Pad-{i}: {'p' * 90}" for i in range(800)))),
    "gzip body": _response(block=http_response(gzip.compress(HTML), "Content-Encoding: gzip")),
    "deflate body": _response(block=http_response(zlib.compress(HTML), "Content-Encoding: deflate")),
    "br body": _response(block=http_response(brotli.compress(HTML), "Content-Encoding: br")),
    "unknown encoding": _response(block=http_response(HTML, "Content-Encoding: x-newsbeam")),
    "gzip body broken": _response(block=http_response(gzip.compress(HTML)[:-30] + b"\x00" * 30, "Content-Encoding: gzip")),
    "gzip body that is not gzip": _response(block=http_response(HTML, "Content-Encoding: gzip")),
    "chunked body": _response(block=http_response(chunked(HTML), "Transfer-Encoding: chunked")),
    "chunked body with bad sizes": _response(block=http_response(b"zz\r\n" + HTML, "Transfer-Encoding: chunked")),
    "chunked body cut": _response(block=http_response(chunked(HTML)[:-40], "Transfer-Encoding: chunked")),
    "chunked body without CRLF after a chunk": _response(block=http_response(chunked(HTML).replace(b"\r\n", b"\n", 3), "Transfer-Encoding: chunked")),
    "Chunked in other case": _response(block=http_response(chunked(HTML), "Transfer-Encoding: Chunked")),
    "chunked br body": _response(block=http_response(chunked(brotli.compress(HTML), 7), "Content-Encoding: br", "Transfer-Encoding: chunked")),
    "a page over 1 MiB": _response(block=http_response(HTML * 3000)),
    "a chunked page over 1 MiB": _response(block=http_response(chunked(HTML * 3000, 5000), "Transfer-Encoding: chunked")),
    "a chunked gzip page over 1 MiB": _response(
        block=http_response(chunked(gzip.compress(HTML * 3000), 3000), "Content-Encoding: gzip", "Transfer-Encoding: chunked")
    ),
    "blank lines before the first record": lambda records: [b"\r\n" + records[0], *records[1:]],
    "bytes after the last record": lambda records: [*records, b"junk"],
    "blank lines after the last record": lambda records: [*records, b"\r\n\r\n"],
    "the last record without blank lines": lambda records: [*records[:-1], records[-1][:-4]],
    "a record cut in its headers": lambda records: [*records, records[2][:100]],
    "a record cut in its block": lambda records: [*records, records[2][:-100]],
}

GZIP_CASES = {
    "two records in one member": lambda records: [_member(records[0]), _member(records[1]), _member(records[2] + records[3]), *map(_member, records[4:])],
    "a record over two members": lambda records: [*map(_member, records[:2]), _member(records[2][:300]), _member(records[2][300:]), *map(_member, records[3:])],
    "an empty member": lambda records: [*map(_member, records[:3]), gzip.compress(b""), *map(_member, records[3:])],
    "an empty member first": lambda records: [gzip.compress(b""), *map(_member, records)],
    "a member cut, then the next": lambda records: [*map(_member, records[:2]), _member(records[2])[:-10], *map(_member, records[3:])],
    "a member cut in its trailer, then the next": lambda records: [*map(_member, records[:2]), _member(records[2])[:-4], *map(_member, records[3:])],
    "a wrong CRC": lambda records: [*map(_member, records[:2]), _flip(_member(records[2]), -6), *map(_member, records[3:])],
    "a flipped byte in the data": lambda records: [*map(_member, records[:2]), _flip(_member(records[2]), 40), *map(_member, records[3:])],
    "zeros after the last member": lambda records: [*map(_member, records), b"\x00" * 512],
    "a plain record after the members": lambda records: [*map(_member, records[:3]), records[3], *map(_member, records[4:])],
    "bytes after a record in its member": lambda records: [*map(_member, records[:2]), _member(records[2] + b"junk\r\n"), *map(_member, records[3:])],
    "a member without the record's blank lines": lambda records: [*map(_member, records[:2]), _member(records[2][:-4]), *map(_member, records[3:])],
    "a member with the blank lines in the next": lambda records: [*map(_member, records[:2]), _member(records[2][:-4]), _member(b"\r\n\r\n" + records[3]), *map(_member, records[4:])],
    "the whole file in one member": lambda records: [_member(b"".join(records))],
    "members at compression level 1 and 9": lambda records: [gzip.compress(r, 1 + 8 * (i % 2)) for i, r in enumerate(records)],
}


def _flip(data: bytes, at: int) -> bytes:
    flipped = bytearray(data)
    flipped[at] ^= 0x55
    return bytes(flipped)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("gzipped", [False, True], ids=["warc", "warc.gz"])
def test_odd_and_damaged_archives_give_the_same_rows_from_both_libraries(case, gzipped):
    records = CASES[case](clean_records())
    data = b"".join(_member(r) if gzipped else r for r in records)
    results = same_rows(data, "t.warc.gz" if gzipped else "t.warc")
    if case == "clean":
        assert [r.get("url") for r in results] == ["https://tin.example/1", "https://tin.example/2", "https://tin.example/3"]


@pytest.mark.parametrize("case", list(GZIP_CASES))
def test_odd_gzip_layouts_give_the_same_rows_from_both_libraries(case):
    same_rows(b"".join(GZIP_CASES[case](clean_records())), "t.warc.gz")


@pytest.mark.parametrize(
    "case, expected",
    [
        ("content-length 1 short", ["TruncatedRecord", "https://tin.example/2", "https://tin.example/3"]),
        ("content-length 4 long", ["TruncatedRecord", "ArchiveLoadFailed"]),
        ("no blank line after a record", ["TruncatedRecord", "ArchiveLoadFailed"]),
        ("bytes between records", ["https://tin.example/1", "ArchiveLoadFailed"]),
        ("content-length missing", ["TruncatedRecord"]),
        ("a record cut in its block", ["https://tin.example/1", "https://tin.example/2", "https://tin.example/3", "TruncatedRecord"]),
    ],
)
def test_damage_fastwarc_reads_past_is_reported_as_warcio_reports_it(case, expected):
    results = rows(b"".join(CASES[case](clean_records())), "fastwarc")
    assert [r.get("error_type") or r["url"] for r in results] == expected
    if expected[0] == "TruncatedRecord":
        assert results[0]["source"] == f"t.warc#offset={len(b''.join(clean_records()[:2]))}"


@pytest.mark.parametrize("gzipped", [False, True], ids=["warc", "warc.gz"])
def test_archive_cut_at_every_byte_gives_the_same_rows_from_both_libraries(gzipped):
    records = [
        warc_record("warcinfo", None, b"software: t\r\n", content_type="application/warc-fields"),
        warc_record("response", "https://t.example/1", http_response(b"<html>1</html>")),
        warc_record("request", "https://t.example/2", b"GET / HTTP/1.1\r\n\r\n", content_type="application/http; msgtype=request"),
        warc_record("response", "https://t.example/2", http_response(gzip.compress(b"<html>2</html>"), "Content-Encoding: gzip")),
    ]
    data = b"".join(_member(r) if gzipped else r for r in records)
    for cut in range(len(data) + 1):
        assert rows(data[:cut], "fastwarc") == rows(data[:cut], "warcio"), cut


def test_records_larger_than_what_is_kept_for_the_checks(read_by_warcio):
    big = HTML * 2000  # 1.3 MB
    records = clean_records()
    records[2] = warc_record("response", "https://tin.example/1", http_response(big))
    records[3] = warc_record("metadata", "https://tin.example/1", b"x" * 700_000, content_type="application/warc-fields")
    for data in (b"".join(records), b"".join(map(_member, records))):
        read_by_warcio.clear()
        results = same_rows(data)
        assert results[0]["body"] == big
        assert len(read_by_warcio) == 7  # only warcio's own pass and the last record


def test_a_stream_that_does_not_start_at_zero_keeps_stored_offsets():
    records = clean_records()
    for data in (b"".join(records), b"".join(map(_member, records))):
        results = {}
        for library in ("fastwarc", "warcio"):
            stream = io.BytesIO(b"PREFIX" + data)
            stream.seek(6)
            results[library] = [{k: v for k, v in r.items() if k != "at"} for r in iter_warc_pages(stream, "t.warc", library=library)]
        assert results["fastwarc"] == results["warcio"]
        first = data.index(b"WARC-Type: response") if data.startswith(b"WARC") else len(b"".join(map(_member, records[:2])))
        assert results["fastwarc"][0]["source"] == f"t.warc#offset={6 + data.rindex(b'WARC/1.0', 0, first) if data.startswith(b'WARC') else 6 + first}"


class _Unseekable(io.RawIOBase):
    def __init__(self, data: bytes):
        self._data = io.BytesIO(data)

    def readable(self):
        return True

    def readinto(self, buffer):
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def tell(self):
        raise OSError("unseekable")


def test_an_unseekable_stream_is_read_by_warcio():
    data = b"".join(clean_records())
    assert [r.get("url") for r in iter_warc_pages(_Unseekable(data), "t.warc")] == [
        "https://tin.example/1",
        "https://tin.example/2",
        "https://tin.example/3",
    ]


def test_an_unknown_library_is_an_error():
    with pytest.raises(ValueError, match="library"):
        list(iter_warc_pages(io.BytesIO(b""), "t.warc", library="fast"))


def test_a_record_whose_gzip_member_is_a_bomb_is_page_too_large_in_bounded_memory(tmp_path):
    """A 256 MiB page in a member of 1 MB: inflated a piece at a time, read no further than the cap."""
    size = 256 * MIB
    compressor = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n"
    header = warc_record("response", "https://tin.example/bomb", b"", length=str(len(http) + size), tail=b"")
    pieces = [compressor.compress(header + http)]
    pieces += [compressor.compress(b"<p>" + b" " * (MIB - 3)) for _ in range(size // MIB)]
    pieces.append(compressor.compress(b"\r\n\r\n") + compressor.flush())
    path = tmp_path / "bomb.warc.gz"
    path.write_bytes(b"".join(pieces) + _member(warc_record("response", "https://tin.example/ok", http_response())))
    setup = "from transforms.sources.warc import iter_warc_pages"
    work = f"[r.get('error_type') or r['url'] for r in iter_warc_pages({str(path)!r}, 'bomb')]"
    result, grown = peak_growth(setup, work)
    assert result == ["PageTooLarge", "https://tin.example/ok"]
    assert grown < 150 * MIB, f"grew the peak RSS by {grown / MIB:.0f} MiB"


FUZZ_TOKENS = [b"\r\n", b"\n", b"\r", b" ", b"\t", b":", b"\x00", b"\xff", b"\xc3\xa0", b"0", b"9", b"WARC/1.0\r\n", b"\r\n\r\n", b"chunked"]


def test_random_damage_gives_the_same_rows_from_both_libraries():
    rng = random.Random(17)
    for _ in range(400):
        records = clean_records()
        target = rng.randrange(len(records))
        record = bytearray(records[target])
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(record))
            action = rng.random()
            if action < 0.3:
                record[at] = rng.randrange(256)
            elif action < 0.6:
                record[at:at] = rng.choice(FUZZ_TOKENS)
            else:
                del record[at : at + rng.randint(1, 8)]
        records[target] = bytes(record)
        gzipped = rng.random() < 0.5
        data = b"".join(_member(r) if gzipped else r for r in records)
        if gzipped and rng.random() < 0.2:
            data = _flip(data, rng.randrange(len(data)))
        same_rows(data)


def test_records_of_many_sizes_are_all_read_by_fastwarc_but_the_last(read_by_warcio):
    """Headers and blank lines fall anywhere across FastWARC's 64 KiB reads."""
    rng = random.Random(3)
    for n in range(20):
        records = []
        for k in range(rng.randint(2, 10)):
            size = rng.choice([0, 1, 100, 4096, 65_536 - 300, 65_536, 70_000, 300_000])
            body = b"<html>" + bytes(rng.randrange(32, 127) for _ in range(500)) * (size // 500 + 1)
            padding = [f"X-Pad: {'p' * rng.randint(0, 20_000)}"] if rng.random() < 0.2 else []
            kind = rng.choice(["response", "response", "metadata", "request"])
            block = http_response(body[:size]) if kind == "response" else body[:size]
            if kind == "response" and rng.random() < 0.3:
                block = http_response(chunked(body[:size], rng.randint(50, 9000)), "Transfer-Encoding: chunked")
            records.append(warc_record(kind, f"https://t.example/{n}/{k}", block, *padding))
        for gzipped in (False, True):
            data = b"".join(_member(r) if gzipped else r for r in records)
            read_by_warcio.clear()
            results = rows(data, "fastwarc")
            assert len(read_by_warcio) == 1, (n, gzipped)
            assert results == rows(data, "warcio")
