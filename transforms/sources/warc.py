"""WARC/ARC archives (e.g. Common Crawl CC-NEWS) -> raw pages, with FastWARC, and warcio for ARC.

Only HTML ``response`` records with a 2xx HTTP status become pages; other records (request,
metadata, warcinfo, revisit, resource, non-HTML or non-http responses, redirects and error
pages) are skipped and counted in Beam metrics (namespace ``warc``).  Failures (stage ``warc``),
one for every record that cannot be read: ``ArchiveOpenFailed`` (the file cannot be opened),
``ArchiveLoadFailed`` (the archive breaks: unknown format such as LZ4, bad gzip, an unparsable
record; the records before the break are kept), ``TruncatedRecord`` (any record cut short: in
its headers, its content or its gzip member, or with a missing or wrong Content-Length),
``MissingHttpHeaders`` (an http(s) response whose block has no HTTP status line),
``PageTooLarge`` (a payload over ``max_page_bytes`` once decoded, read no further) and
``RecordUnreadable`` (a payload that cannot be de-chunked or decompressed).

Two readers, one result.  warcio defines what a file yields (pages, failure rows and their
messages, offsets); FastWARC finds and parses WARC records several times faster.  A WARC file
goes to FastWARC through :class:`_Inflow`, which hands it the decompressed bytes (inflating a
``.warc.gz`` member by member with zlib, as warcio does, so both pay the same for that) and
keeps the last of them, so that each record FastWARC finds is checked against what warcio
would read there: it starts where the previous one ended after its blank lines (and, gzipped,
in a gzip member of its own that ended whole), its headers are plain (printable ASCII lines, no
folding) and say the same Content-Length; the HTTP headers are read as warcio reads them, and
payloads decoded by warcio's own decoders.  A record's row is given only once the next record
has passed these checks; at the first record that does not (the last one included), warcio
reads the rest of the file from that record's offset.  So damage, whatever FastWARC makes of
it, is reported by warcio exactly as before, and ARC, LZ4 and anything else FastWARC is not
given (no ``WARC/1.0``/``1.1`` or gzip magic at the start, an unseekable stream) is read by
warcio alone.  ``library="warcio"`` reads a file with warcio only (the benchmark,
tests/benchmarks/bench_warc.py, and the equivalence tests compare the two).

Content-Encoding ``br`` is decoded by :class:`BrotliDecompressor`, registered here in warcio's
table of decoders in place of warcio's own, which speaks the brotli API before 1.2 (every br
record would be unreadable): its output is capped, so a br bomb is a ``PageTooLarge`` row read in
bounded memory like a gzip or deflate one.
"""

import collections
import functools
import io
import zlib
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from email.message import Message
from typing import BinaryIO

import apache_beam as beam
import brotli
import fastwarc
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import BufferedReader
from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders, StatusAndHeadersParser

from transforms import records
from transforms.extract.articles import ExtractConfig
from transforms.sources.read import ReadFiles, TooLarge, read_capped

STAGE = "warc"
METRICS_NAMESPACE = "warc"
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_BROTLI_STEP = 1 << 20  # output asked of brotli at a time


class BrotliDecompressor:
    """warcio's decompressor interface (``decompress(data) -> bytes``, ``unused_data``, ``flush()``)
    over brotli's streaming decoder (brotli >= 1.2, as urllib3's ``brotli`` extra requires).

    warcio stops asking for output when its input ends, so each call returns all the output of
    its input; but no more than ``limit`` bytes over the whole stream: past it the rest is never
    decoded (``_read_body`` sets ``limit`` one byte past the page cap, so a br bomb ends as
    ``PageTooLarge``, its output never more than the cap in memory).  Bytes after the end of
    the brotli stream are ``unused_data``, as zlib leaves them.
    """

    def __init__(self, limit: int = ExtractConfig.max_page_bytes + 1):
        self.limit = limit
        self.unused_data = b""
        self._decoder = brotli.Decompressor()
        self._produced = 0

    def decompress(self, data: bytes) -> bytes:
        if self._decoder.is_finished():
            self.unused_data += data
            return b""
        pieces = []
        while self._produced < self.limit:
            room = self.limit - self._produced
            piece = self._decoder.process(data, output_buffer_limit=min(room, _BROTLI_STEP))[:room]
            data = b""  # fed once: then only asked for the output it holds back
            pieces.append(piece)
            self._produced += len(piece)
            if not piece or self._decoder.can_accept_more_data() or self._decoder.is_finished():
                break
        return b"".join(pieces)

    def flush(self) -> bytes:
        return b""


BufferedReader.DECOMPRESSORS["br"] = BrotliDecompressor


@functools.cache
def _counter(name: str):
    return Metrics.counter(METRICS_NAMESPACE, name)  # resolved against the running step at each inc()


def _count(name: str) -> None:
    """Increment a counter (a no-op outside a running pipeline)."""
    _counter(name).inc()


@functools.lru_cache(maxsize=4096)  # a crawl repeats a few Content-Type values
def _media_type(content_type: str | None) -> tuple[str | None, str | None]:
    """(media type, charset) of an HTTP Content-Type header value."""
    if not content_type:
        return None, None
    header = Message()
    header["content-type"] = content_type
    charset = header.get_param("charset")
    charset = charset.strip() if isinstance(charset, str) else ""  # RFC 2231 tuples are ignored
    return header.get_content_type(), charset or None


def _warc_date(value: str | None) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.strip())
    except (AttributeError, ValueError):
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _skip_reason(record) -> str | None:
    """Why a record is no HTML page (a metric name), or None for an http(s) response: an HTML page
    with a 2xx status, or a failure (no HTTP headers)."""
    if record.rec_type != "response":
        return f"skipped_{record.rec_type}"
    headers = _http_headers(record)
    if headers is None:
        return None if _target_uri(record).startswith(("http:", "https:")) else "skipped_non_html"  # dns: ...
    if _media_type(headers.get_header("Content-Type"))[0] not in HTML_TYPES:
        return "skipped_non_html"
    status = headers.get_statuscode() or ""
    if not status.startswith("2"):  # redirects and error pages are no articles
        return f"skipped_status_{status[:1] or 'missing'}xx"
    return None


def _target_uri(record) -> str:
    return (record.rec_headers.get_header("WARC-Target-URI") or "").strip().strip("<>")


def _http_headers(record) -> StatusAndHeaders | None:
    """The record's HTTP status line and headers; None when its block does not start with them."""
    headers = record.http_headers
    return headers if headers is not None and headers.protocol.upper().startswith("HTTP/") else None


def _read_body(record, max_page_bytes: int) -> tuple[bytes | None, tuple[str, str] | None]:
    """(the de-chunked, content-decoded payload, None) or (None, (error type, message))."""
    if _http_headers(record) is None:
        return None, ("MissingHttpHeaders", "an http(s) response whose block does not start with HTTP headers")
    try:
        stream = record.content_stream()
        decompressor = getattr(stream, "decompressor", None)
        if isinstance(decompressor, BrotliDecompressor):
            decompressor.limit = max_page_bytes + 1  # one byte over the cap says "too large"
        return read_capped(stream, max_page_bytes), None
    except TooLarge as exc:
        return None, ("PageTooLarge", f"payload {exc}")
    except Exception as exc:  # noqa: BLE001 -- any decoder error on archived bytes is a record failure
        return None, ("RecordUnreadable", f"{type(exc).__name__}: {exc}")


def _damage(archive: ArchiveIterator, record, errors_before: int) -> str | None:
    """Why a record read to its end is incomplete, or None."""
    length = (record.rec_headers.get_header("Content-Length") or "").strip()
    if not length.isdigit():  # warcio reads none as "to the end", a broken one as 0
        return f"Content-Length {length!r}: the record's headers are cut or broken"
    missing = getattr(record.raw_stream, "limit", 0)  # bytes of the record the archive lacks
    if missing > 0:
        return f"archive ends {missing} bytes before the record does"
    if archive.err_count > errors_before:
        return "record not followed by a blank line: its Content-Length is wrong"
    member = archive.reader.decompressor  # the record's gzip member, in a .warc.gz
    if member is not None and not member.eof and not archive.next_line:
        return "archive ends inside the record's gzip member"
    return None


def _read_record(
    archive: ArchiveIterator, record, source_name: str, max_page_bytes: int
) -> records.RawPage | records.Failure | str:
    """One record read to its end: its raw page, its failure row, or the metric name it is skipped as."""
    errors_before = archive.err_count
    skip = _skip_reason(record)
    body, problem = _read_body(record, max_page_bytes) if skip is None else (None, None)
    source = f"{source_name}#offset={archive.get_record_offset()}"  # reads to the end of the record
    damage = _damage(archive, record, errors_before)
    return _outcome(record, source, skip, body, ("TruncatedRecord", damage) if damage else problem)


def _outcome(
    record, source: str, skip: str | None, body: bytes | None, problem: tuple[str, str] | None
) -> records.RawPage | records.Failure | str:
    if problem:
        return records.failure(source, STAGE, *problem)
    if skip:
        return skip
    return records.raw_page(
        source,
        body,
        url=_target_uri(record) or None,
        fetched_at=_warc_date(record.rec_headers.get_header("WARC-Date")),
        charset=_media_type(record.http_headers.get_header("Content-Type"))[1],
    )


def _warcio_results(stream: BinaryIO, source_name: str, max_page_bytes: int, records_read: int = 0) -> Iterator:
    """What warcio reads from the stream's position on: each record's outcome (row or skip metric
    name), then a failure row if the archive breaks or ends inside a record, or is empty
    (``records_read`` records came before that position)."""
    archive = ArchiveIterator(stream, arc2warc=True)
    try:
        for record in archive:
            if record.rec_type is None:  # not a WARC/ARC header: the file is no archive (or is garbled here)
                raise ValueError("record without a WARC/ARC header")
            yield _read_record(archive, record, source_name, max_page_bytes)
            records_read += 1
    except Exception as exc:  # noqa: BLE001 -- a broken archive ends the file, not the pipeline
        yield records.failure(
            source_name,
            STAGE,
            "ArchiveLoadFailed",
            f"after {records_read} records: {type(exc).__name__}: {str(exc).strip()}",
        )
    else:
        tail = archive.fh.tell() - archive.offset  # bytes after the last whole record
        if tail > 0:  # warcio stops without a word on a record cut in its headers
            yield records.failure(
                f"{source_name}#offset={archive.offset}", STAGE, "TruncatedRecord", f"archive ends {tail} bytes into a record, in its headers"
            )
        elif records_read == 0:  # e.g. a text file given as an archive: say so rather than yield nothing
            yield records.failure(source_name, STAGE, "EmptyArchive", "no WARC/ARC records found")


# --- FastWARC, checked against what warcio would read -----------------------------------------

_GZIP_MAGIC = b"\x1f\x8b"
_WARC_STARTS = (b"WARC/1.0\r\n", b"WARC/1.1\r\n")  # the versions FastWARC reads
_HTTP_RECORD_TYPES = frozenset({"response", "request", "revisit"})  # warcio parses their HTTP headers
_INFLOW_READ = 1 << 16  # stored bytes read at a time
_KEPT_READS = 4  # FastWARC's last reads kept for the checks (it reads 64 KiB at a time)
_MAX_WARC_HEADERS = 32 << 10  # FastWARC's own limit
_HTTP_HEAD_FIRST = 1 << 12  # a response block's first bytes read, where its HTTP headers are looked for,
_HTTP_HEAD = 1 << 16  # then up to these
# Header blocks read here rather than by warcio's parser are plain: printable ASCII and tabs in CRLF
# lines, no folded (continued) line, no space or tab before a colon, and a first line that starts
# with neither.  Such a block has one reading.
_PRINTABLE = bytes(range(0x20, 0x7F)) + b"\t\r\n"
_HTTP_PARSER = StatusAndHeadersParser(["HTTP/1.0", "HTTP/1.1"], verify=False)  # as warcio parses responses


def _plain(block: bytes) -> bool:
    return (
        not block.translate(None, _PRINTABLE)
        and block.count(b"\r") == block.count(b"\n") == block.count(b"\r\n")
        and b"\n " not in block
        and b"\n\t" not in block
        and b" :" not in block
        and b"\t:" not in block
        and block[:1] not in b" \t\r"
    )


class _Headers:
    """A plain header block (see ``_plain``) read as warcio reads it: the protocol and status from
    its first line; ``get_header`` the first value of a name in any case, stripped of spaces and
    tabs (a line without a colon is no header)."""

    __slots__ = ("_lower", "_replaced", "_text", "protocol", "statusline")

    def __init__(self, text: str):
        first_line = text[: text.index("\r\n")].rstrip(" \t")
        self.protocol, _, rest = first_line.partition(" ")
        self.statusline = rest.strip(" \t")
        self._text = text
        self._lower = text.lower()
        self._replaced: dict[str, str] = {}

    @classmethod
    def parse(cls, block: bytes) -> "_Headers | None":
        """The headers of a block ending in its blank line, or None when it is not plain."""
        return cls(block.decode("ascii")) if _plain(block) else None

    def get_header(self, name: str, default_value=None):
        name = name.lower()
        if name in self._replaced:
            return self._replaced[name]
        key = f"\r\n{name}:"
        at = self._lower.find(key)
        if at < 0:
            return default_value
        at += len(key)
        return self._text[at : self._text.index("\r\n", at)].strip(" \t")

    def replace_header(self, name: str, value: str) -> None:
        self._replaced[name.lower()] = value

    def occurrences(self, name: str) -> int:
        return self._lower.count(f"\r\n{name.lower()}:")

    def get_statuscode(self) -> str:
        return self.statusline.split(" ", 1)[0]


class _Inflow:
    """The bytes of a WARC file as FastWARC reads them (``read``/``tell``), decompressed here:
    a .warc.gz member by member with zlib, as warcio reads it, noting where each member starts
    in both the stored and the decompressed file.  The last bytes handed out are kept, to check
    what FastWARC found against them.  A read or decompression error (a cut or corrupt member,
    bytes after a member that are no gzip) ends the bytes handed out, without an exception: the
    record there is left to warcio, which says what it is."""

    def __init__(self, raw: BinaryIO, start: int, gzipped: bool):
        self.raw = raw
        self.gzipped = gzipped
        self.position = 0  # decompressed bytes handed out
        self._chunks: collections.deque[tuple[int, bytes]] = collections.deque(maxlen=_KEPT_READS)  # the last of them
        self._joined: tuple[tuple[int, int], bytes] | None = None  # the last ones joined, when asked for
        self.members: dict[int, tuple[int, int]] = {}  # decompressed start -> (member number, stored offset)
        self._member = None  # the zlib decompressor of the member being read
        self._count = 0
        self._member_start = 0
        self._input = b""  # stored bytes read and not yet decompressed
        self._input_offset = start  # the stored offset of its first byte
        self.broken = False

    def tell(self) -> int:
        return self.position

    def close(self) -> None:  # the stream stays open: warcio may go on reading it
        pass

    def read(self, size: int = -1) -> bytes:
        size = size if size is not None and size >= 0 else 1 << 62
        data = self._inflate(size) if self.gzipped else self._stored(size)
        if data:
            self._chunks.append((self.position, data))
            self.position += len(data)
        return data

    def _stored(self, size: int) -> bytes:
        if self.broken:
            return b""
        try:
            return self.raw.read(min(size, 1 << 30))
        except Exception:  # noqa: BLE001 -- left to warcio, which meets it again
            self.broken = True
            return b""

    def _inflate(self, size: int) -> bytes:
        pieces, produced = [], 0
        while produced < size and not self.broken:
            if not self._input:
                self._input = self._stored(_INFLOW_READ)
                if not self._input:
                    self.broken |= self._member is not None  # the file ends inside a member
                    break
            if self._member is None:  # a member starts here
                self._member = zlib.decompressobj(16 + zlib.MAX_WBITS)
                self._member_start = self.position + produced
                self.members[self._member_start] = (self._count, self._input_offset)
                self._count += 1
                if len(self.members) > 4096:
                    del self.members[next(iter(self.members))]
            member, data = self._member, self._input
            try:
                piece = member.decompress(data, min(size - produced, 1 << 24))
            except zlib.error:
                self.broken = True
                break
            rest = member.unused_data if member.eof else member.unconsumed_tail
            self._input_offset += len(data) - len(rest)
            self._input = rest
            pieces.append(piece)
            produced += len(piece)
            if member.eof:
                self._member = None
                # an empty member shares its start with the next one: left to warcio
                self.broken = self._member_start == self.position + produced
            elif not piece and len(rest) == len(data) and rest:  # no progress: cannot happen with zlib
                self.broken = True
        return b"".join(pieces)

    def _kept(self, start: int) -> tuple[bytes, int] | None:
        """The decompressed bytes kept from the read holding offset ``start`` on, and the offset
        of the first; None if ``start`` is no longer (or not yet) kept."""
        if not self._chunks or not self._chunks[0][0] <= start <= self.position:
            return None
        first = len(self._chunks) - 1
        while self._chunks[first][0] > start:
            first -= 1
        if first == len(self._chunks) - 1:
            return self._chunks[first][1], self._chunks[first][0]
        key = (self.position, first)
        if self._joined is None or self._joined[0] != key:
            self._joined = key, b"".join(data for _, data in list(self._chunks)[first:])
        return self._joined[1], self._chunks[first][0]

    def find(self, sub: bytes, start: int, limit: int) -> int | None:
        """Where ``sub`` ends, first found from decompressed offset ``start`` within ``limit``
        bytes of what is kept; None if not found or not kept."""
        kept = self._kept(start)
        if kept is None:
            return None
        window, first = kept
        at = window.find(sub, start - first, start - first + limit)
        return None if at < 0 else first + at + len(sub)

    def bytes(self, start: int, end: int) -> bytes | None:
        kept = self._kept(start)
        if kept is None or not start <= end <= self.position:
            return None
        window, first = kept
        return window[start - first : end - first]


class _Block:
    """The rest of a record block, as warcio's decoders read it (``read`` and ``readline`` return
    all they are asked for unless the block ends first): ``head``, the bytes already read, then the
    rest from FastWARC's reader."""

    def __init__(self, head: bytes, reader):
        self._buffer = head
        self._at = 0  # bytes of the buffer given out
        self._reader = reader
        self.failed = False

    def _more(self, size: int) -> bytes:
        try:
            return self._reader.read(size)
        except Exception:
            self.failed = True  # FastWARC's own failure: the record is left to warcio
            raise

    def read(self, size: int | None = -1) -> bytes:
        size = 1 << 62 if size is None or size < 0 else size
        if self._at < len(self._buffer):
            piece = self._buffer[self._at : self._at + size]
            self._at += len(piece)
        else:
            piece = self._more(min(size, 1 << 24))
        if not piece or len(piece) >= size:
            return piece
        pieces, got = [piece], len(piece)
        while got < size and (piece := self._more(min(size - got, 1 << 24))):
            pieces.append(piece)
            got += len(piece)
        return b"".join(pieces)

    def readline(self, size: int | None = -1) -> bytes:
        size = 1 << 62 if size is None or size < 0 else size
        while (end := self._buffer.find(b"\n", self._at, self._at + size)) < 0 and len(self._buffer) - self._at < size:
            more = self._more(_INFLOW_READ)
            if not more:
                break
            self._buffer, self._at = self._buffer[self._at :] + more, 0
        end = end + 1 if end >= 0 else min(self._at + size, len(self._buffer))
        line, self._at = self._buffer[self._at : end], end
        return line


def _read_up_to(reader, size: int) -> bytes:
    pieces, got = [], 0
    while got < size and (piece := reader.read(size - got)):
        pieces.append(piece)
        got += len(piece)
    return b"".join(pieces)


class _Checked:
    """A record FastWARC found at decompressed offset ``start``, read as warcio would read it: its
    outcome, and where its block ends (``end``); ``outcome`` is None when warcio must read it."""

    __slots__ = ("end", "offset", "outcome", "start")

    def __init__(self, start: int, offset: int):
        self.start, self.offset = start, offset
        self.end = start
        self.outcome = None


def _check_record(rec, inflow: _Inflow, checked: _Checked, source_name: str, max_page_bytes: int) -> None:
    """Read FastWARC's record ``rec`` as warcio would: its headers from the bytes kept (plain ones
    only), its HTTP headers and payload from FastWARC's reader; sets ``checked.outcome`` and
    ``checked.end``, or leaves the outcome None when warcio must read the record."""
    start = checked.start
    headers_end = inflow.find(b"\r\n\r\n", start, _MAX_WARC_HEADERS)
    block = inflow.bytes(start, headers_end) if headers_end is not None else None
    if block is None or not block.startswith(_WARC_STARTS):
        return
    headers = _Headers.parse(block)
    length = headers.get_header("Content-Length") if headers else None
    if not (length and length.isascii() and length.isdigit() and int(length) == rec.content_length):
        return  # not plain, or no Content-Length warcio would read as FastWARC does
    length = int(length)
    rec_type = headers.get_header("WARC-Type")
    uri = headers.get_header("WARC-Target-URI")
    if uri is not None:  # as warcio reads it: <...> unwrapped (Wget 1.19), spaces %-encoded
        fixed = (uri[1:-1] if uri.startswith("<") and uri.endswith(">") else uri).replace(" ", "%20")
        if fixed != uri:
            if headers.occurrences("WARC-Target-URI") > 1:
                return  # warcio replaces the last one and reads the first
            uri = fixed
            headers.replace_header("WARC-Target-URI", uri)
    if rec_type is None or (rec_type in _HTTP_RECORD_TYPES and length and uri is None):
        return  # warcio fails the archive here
    http, block_stream = None, None
    if rec_type == "response" and length and uri.startswith(("http:", "https:")):
        want = min(length, _HTTP_HEAD_FIRST)
        head = _read_up_to(rec.reader, want)
        if len(head) == want < min(length, _HTTP_HEAD) and b"\r\n\r\n" not in head:
            want = min(length, _HTTP_HEAD)
            head += _read_up_to(rec.reader, want - len(head))
        if len(head) < want:
            return  # the file ends inside the record
        if inflow.bytes(headers_end, headers_end + min(len(head), 256)) != head[:256]:
            return  # FastWARC's block does not start where warcio's does
        http_end = head.find(b"\r\n\r\n") + 4
        http = _Headers.parse(head[:http_end]) if http_end > 4 else None
        if http is None:  # warcio's parser on the same bytes, when it stops within them
            lines = io.BytesIO(head)
            http = _HTTP_PARSER.parse(lines)
            http_end = lines.tell()  # (its total_len counts characters)
            if http_end == len(head) < length:
                return
        block_stream = _Block(head[http_end:], rec.reader)
    record = ArcWarcRecord("warc", rec_type, headers, block_stream, http, None, length)
    skip = _skip_reason(record)
    body, problem = _read_body(record, max_page_bytes) if skip is None else (None, None)
    if block_stream is not None and block_stream.failed:
        return
    checked.end = headers_end + length
    checked.outcome = _outcome(record, f"{source_name}#offset={checked.offset}", skip, body, problem)


def _follows(inflow: _Inflow, previous: _Checked, start: int) -> bool:
    """Whether warcio, done with the previous record, would read the next one at ``start``: only
    blank lines in between, and in a .warc.gz the previous record's member ending just there."""
    gap = inflow.bytes(previous.end, start)
    if gap is None or gap.strip():
        return False
    if inflow.gzipped:  # blank lines end the member, if any
        member, following = inflow.members.get(previous.start), inflow.members.get(start)
        return member is not None and following is not None and following[0] == member[0] + 1
    return gap.endswith(b"\n")  # the first line after the block is blank, the next one starts the record


def _fastwarc_results(
    stream: BinaryIO, start: int, gzipped: bool, source_name: str, max_page_bytes: int, state: dict
) -> Iterator:
    """The outcomes of the records FastWARC reads as warcio would, each given once the next record
    is found where warcio would find it; then ``state["resume"]`` is the stored offset of the first
    record not given (where warcio takes over) and ``state["records"]`` how many came before it."""
    inflow = _Inflow(stream, start, gzipped)
    state.update(resume=start, records=0)
    pending: _Checked | None = None  # the record read last, not given yet
    try:
        for rec in fastwarc.ArchiveIterator(inflow, parse_http=False, stream_detect=False):
            position = rec.stream_pos
            member = inflow.members.get(position) if gzipped else (0, start + position)
            if member is None or (position != 0 if pending is None else not _follows(inflow, pending, position)):
                return
            if pending is not None:
                yield pending.outcome
                state["records"] += 1
            state["resume"] = member[1]
            pending = _Checked(position, member[1])
            _check_record(rec, inflow, pending, source_name, max_page_bytes)
            if pending.outcome is None:
                return
    except Exception:  # noqa: BLE001 -- whatever FastWARC cannot read, warcio reads from the last record found
        return


def _sniff(stream: BinaryIO) -> tuple[int, bool] | None:
    """(start offset, gzipped) of a stream FastWARC can be given, else None."""
    try:
        start = stream.tell()
        magic = stream.read(len(_WARC_STARTS[0]))
        stream.seek(start)
    except Exception:  # noqa: BLE001 -- unseekable: warcio reads it
        return None
    if magic.startswith(_GZIP_MAGIC):
        return start, True
    return (start, False) if magic.startswith(_WARC_STARTS) else None


def _results(stream: BinaryIO, source_name: str, max_page_bytes: int, library: str) -> Iterator:
    sniffed = _sniff(stream) if library == "fastwarc" else None
    if sniffed is None:
        yield from _warcio_results(stream, source_name, max_page_bytes)
        return
    state: dict = {}
    yield from _fastwarc_results(stream, *sniffed, source_name, max_page_bytes, state)
    stream.seek(state["resume"])
    yield from _warcio_results(stream, source_name, max_page_bytes, state["records"])


def _open(path: str) -> BinaryIO:
    # UNCOMPRESSED: gzip members are read here, and offsets are positions in the stored file.
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


LIBRARIES = ("fastwarc", "warcio")


def iter_warc_pages(
    path_or_stream: str | BinaryIO,
    source_name: str,
    max_page_bytes: int = ExtractConfig.max_page_bytes,
    library: str = "fastwarc",
) -> Iterator[dict]:
    """Raw pages and failures of one WARC/ARC file (path on any Beam filesystem, or binary stream);
    payloads over ``max_page_bytes`` (decoded) are failures, read no further than that.
    ``library="warcio"``: read by warcio alone (the same rows, more slowly)."""
    if library not in LIBRARIES:
        raise ValueError(f"library must be one of {LIBRARIES}, not {library!r}")
    try:
        stream = _open(path_or_stream) if isinstance(path_or_stream, str) else path_or_stream
    except Exception as exc:  # noqa: BLE001 -- missing file, permissions, remote storage errors
        yield records.failure(source_name, STAGE, "ArchiveOpenFailed", f"{type(exc).__name__}: {exc}")
        return
    try:
        for result in _results(stream, source_name, max_page_bytes, library):
            if isinstance(result, str):
                _count(result)
            else:
                _count("failures" if "error_type" in result else "html_pages")
                yield result
    finally:
        if isinstance(path_or_stream, str):
            stream.close()


def read_warc_file(path: str, max_page_bytes: int = ExtractConfig.max_page_bytes):
    for result in iter_warc_pages(path, path, max_page_bytes):
        yield beam.pvalue.TaggedOutput(records.FAILED, result) if "error_type" in result else result


class ReadWarc(beam.PTransform):
    """WARC/ARC files matching globs (local, gs://, ...) -> (raw pages, failures); payloads over
    ``max_page_bytes`` (decoded) are ``PageTooLarge`` failures."""

    def __init__(self, patterns: Iterable[str], max_page_bytes: int = ExtractConfig.max_page_bytes):
        super().__init__()
        self._patterns = list(patterns)
        self._read = functools.partial(read_warc_file, max_page_bytes=max_page_bytes)

    def expand(self, pbegin):
        return pbegin | "ReadFiles" >> ReadFiles(self._patterns, self._read)
