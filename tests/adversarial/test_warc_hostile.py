"""Hostile WARC files: a record whose gzip-, deflate- or br-encoded body is a decompression bomb,
archives cut at every byte, a response without HTTP headers.  Every record that starts in the
file ends as a page or a failure row."""

import gzip
import io
import itertools
import random
import uuid

import brotli
import pytest

from tests.support.bombs import MIB, bomb, peak_growth
from transforms.sources.warc import iter_warc_pages

MAX_GROWTH = 150 * MIB  # the 20 MB page cap read twice over, and decompression buffers
HTML = b"<html><body><p>" + "Hà Nội mưa lớn, ".encode() * 20 + b"</p></body></html>"


def warc_record(kind: str, uri: str, block: bytes, content_type: str = "application/http; msgtype=response") -> bytes:
    """One WARC record, written by hand so that it can be as broken as a test needs."""
    headers = (
        f"WARC/1.0\r\nWARC-Type: {kind}\r\nWARC-Target-URI: {uri}\r\nWARC-Date: 2026-11-01T00:00:00Z\r\n"
        f"WARC-Record-ID: <urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, kind + uri)}>\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(block)}\r\n\r\n"
    )
    return headers.encode() + block + b"\r\n\r\n"


def http_response(body: bytes, *headers: str) -> bytes:
    return "\r\n".join(["HTTP/1.1 200 OK", "Content-Type: text/html; charset=utf-8", *headers, "", ""]).encode() + body


def br_bomb(size: int) -> bytes:
    """``size`` bytes (whole MiBs) of HTML-looking filler in one brotli stream: 512 MiB is under 1 KB."""
    block = b"<p>" + b" " * (MIB - 3)
    compressor = brotli.Compressor(quality=5)
    return b"".join([*(compressor.process(block) for _ in range(size // MIB)), compressor.finish()])


def chunked(data: bytes, size: int = 1000) -> bytes:
    """``data`` in HTTP/1.1 chunked transfer coding."""
    pieces = [data[i : i + size] for i in range(0, len(data), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"


def archive(gzipped: bool) -> tuple[bytes, list[tuple[int, int, bool]]]:
    """A small archive (warcinfo, then request and HTML response pairs) and its records as
    (start, end, is an HTML page); a gzipped archive has one gzip member per record."""
    records = [warc_record("warcinfo", "", b"software: newsbeam tests\r\n", "application/warc-fields")]
    for n in range(2):
        uri = f"https://tin.example/{n}"
        records.append(warc_record("request", uri, b"GET / HTTP/1.1\r\nHost: tin.example\r\n\r\n", "application/http; msgtype=request"))
        records.append(warc_record("response", uri, http_response(HTML)))
    data, spans = b"", []
    for record in records:
        stored = gzip.compress(record) if gzipped else record
        spans.append((len(data), len(data) + len(stored), b"WARC-Type: response" in record))
        data += stored
    return data, spans


@pytest.mark.parametrize("gzipped", [False, True], ids=["warc", "warc.gz"])
def test_archive_cut_at_every_byte_leaves_a_page_or_a_failure_for_every_record(gzipped):
    data, spans = archive(gzipped)
    slack = 0 if gzipped else 4  # a plain record's content is whole without its closing blank lines
    lost = []
    for cut in range(1, len(data) + 1):
        results = list(iter_warc_pages(io.BytesIO(data[:cut]), "cut.warc"))
        pages = {r["source"] for r in results if "error_type" not in r}
        failed = {r["source"] for r in results if "error_type" in r}
        assert all(r["body"] == HTML for r in results if "error_type" not in r), cut
        for start, end, is_page in (span for span in spans if span[0] < cut):
            source = f"cut.warc#offset={start}"
            if end - slack <= cut:  # an intact record: its page, and no failure
                assert (source in pages, source in failed) == (is_page, False), (cut, start)
            elif not failed & {source, "cut.warc"}:  # a cut record: a failure, its own or the file's
                lost.append((cut, start))
    assert lost == [], f"{len(lost)} (cut, record offset) pairs without a row, e.g. {lost[:5]}"


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_content_encoded_bomb_is_page_too_large_in_bounded_memory(tmp_path, encoding):
    # 3 MB (br: under 1 KB), and a few KB once the record is gzipped as well
    body = br_bomb(512 * MIB) if encoding == "br" else bomb(512 * MIB, encoding)
    record = warc_record("response", "https://tin.example/bomb", http_response(body, f"Content-Encoding: {encoding}"))
    path = tmp_path / "bomb.warc.gz"
    path.write_bytes(gzip.compress(record) + gzip.compress(warc_record("response", "https://tin.example/ok", http_response(HTML))))
    setup = "from transforms.sources.warc import iter_warc_pages"
    work = f"[r.get('error_type') or r['url'] for r in iter_warc_pages({str(path)!r}, 'bomb')]"
    result, grown = peak_growth(setup, work)
    assert result == ["PageTooLarge", "https://tin.example/ok"]
    assert grown < MAX_GROWTH, f"reading a 512 MiB {encoding} body grew the peak RSS by {grown / MIB:.0f} MiB"


def test_br_encoded_payloads_are_decoded_whole():
    """warcio's own br decoder speaks brotli's old API: every br record was RecordUnreadable."""
    words = random.Random(15).choices(["Hà", "Nội", "mưa", "lớn", "tin", "bão", "số", "9"], k=100_000)
    big = b"<html><body><p>" + " ".join(words).encode() + b"</p></body></html>"  # 460 KB, 54 KB compressed
    assert len(brotli.compress(big)) > 3 * 16384  # several of warcio's reads
    records = [
        warc_record("response", "https://tin.example/br", http_response(brotli.compress(HTML), "Content-Encoding: br")),
        warc_record("response", "https://tin.example/big", http_response(brotli.compress(big), "Content-Encoding: BR")),
        warc_record(
            "response",
            "https://tin.example/chunked",
            http_response(chunked(brotli.compress(big)), "Content-Encoding: br", "Transfer-Encoding: chunked"),
        ),
    ]
    for data in (b"".join(records), b"".join(map(gzip.compress, records))):
        results = list(iter_warc_pages(io.BytesIO(data), "br.warc"))
        assert [(r.get("error_type"), r.get("url"), r.get("body")) for r in results] == [
            (None, "https://tin.example/br", HTML),
            (None, "https://tin.example/big", big),
            (None, "https://tin.example/chunked", big),
        ]


@pytest.mark.parametrize("encoding", ["gzip", "br"])
def test_encoded_payload_one_byte_over_the_cap_is_too_large(encoding):
    compress = {"gzip": gzip.compress, "br": brotli.compress}[encoding]
    cap = 200_000
    payload = bytes(random.Random(7).getrandbits(8) for _ in range(cap + 1))  # little to compress
    records = [
        warc_record("response", f"https://tin.example/{len(body)}", http_response(compress(body), f"Content-Encoding: {encoding}"))
        for body in (payload[:cap], payload)
    ]
    results = list(iter_warc_pages(io.BytesIO(b"".join(records)), "cap.warc", max_page_bytes=cap))
    assert [r.get("error_type") or len(r["body"]) for r in results] == [cap, "PageTooLarge"]


def test_response_without_http_headers_is_a_failure_and_dns_records_are_skipped():
    records = [
        warc_record("response", "https://tin.example/raw", HTML),  # the page without its HTTP headers
        warc_record("response", "https://tin.example/empty", b""),
        warc_record("response", "dns:tin.example", b"20261101 tin.example. 300 IN A 192.0.2.1\n", "text/dns"),
        warc_record("response", "https://tin.example/ok", http_response(HTML)),
    ]
    starts = list(itertools.accumulate(map(len, records), initial=0))
    results = list(iter_warc_pages(io.BytesIO(b"".join(records)), "m.warc"))
    assert [(r["source"], r.get("error_type") or r["url"]) for r in results] == [
        (f"m.warc#offset={starts[0]}", "MissingHttpHeaders"),
        (f"m.warc#offset={starts[1]}", "MissingHttpHeaders"),
        (f"m.warc#offset={starts[3]}", "https://tin.example/ok"),
    ]


def test_gzip_member_cut_in_its_trailer_is_a_failure():
    data, spans = archive(gzipped=True)
    start, end, _ = spans[-1]
    results = list(iter_warc_pages(io.BytesIO(data[: end - 4]), "cut.warc.gz"))  # the CRC and size lose 4 bytes
    assert [(r["source"], r["error_type"]) for r in results if "error_type" in r] == [
        (f"cut.warc.gz#offset={start}", "TruncatedRecord")
    ]
