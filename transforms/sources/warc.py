"""WARC/ARC archives (e.g. Common Crawl CC-NEWS) -> raw pages, with warcio.

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

Content-Encoding ``br`` is decoded by :class:`BrotliDecompressor`, registered here in warcio's
table of decoders in place of warcio's own, which speaks the brotli API before 1.2 (every br
record would be unreadable): its output is capped, so a br bomb is a ``PageTooLarge`` row read in
bounded memory like a gzip or deflate one.
"""

import functools
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from email.message import Message
from typing import BinaryIO

import apache_beam as beam
import brotli
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import BufferedReader
from warcio.statusandheaders import StatusAndHeaders

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


def _count(name: str) -> None:
    """Increment a counter (a no-op outside a running pipeline)."""
    Metrics.counter(METRICS_NAMESPACE, name).inc()


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
    problem = ("TruncatedRecord", damage) if damage else problem
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


def _open(path: str) -> BinaryIO:
    # UNCOMPRESSED: warcio reads gzip members itself, and offsets are positions in the stored file.
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def iter_warc_pages(
    path_or_stream: str | BinaryIO, source_name: str, max_page_bytes: int = ExtractConfig.max_page_bytes
) -> Iterator[dict]:
    """Raw pages and failures of one WARC/ARC file (path on any Beam filesystem, or binary stream);
    payloads over ``max_page_bytes`` (decoded) are failures, read no further than that."""
    try:
        stream = _open(path_or_stream) if isinstance(path_or_stream, str) else path_or_stream
    except Exception as exc:  # noqa: BLE001 -- missing file, permissions, remote storage errors
        yield records.failure(source_name, STAGE, "ArchiveOpenFailed", f"{type(exc).__name__}: {exc}")
        return
    archive = ArchiveIterator(stream, arc2warc=True)
    records_read = 0
    try:
        for record in archive:
            if record.rec_type is None:  # not a WARC/ARC header: the file is no archive (or is garbled here)
                raise ValueError("record without a WARC/ARC header")
            result = _read_record(archive, record, source_name, max_page_bytes)
            if isinstance(result, str):
                _count(result)
            else:
                _count("failures" if "error_type" in result else "html_pages")
                yield result
            records_read += 1
    except Exception as exc:  # noqa: BLE001 -- a broken archive ends the file, not the pipeline
        _count("failures")
        yield records.failure(
            source_name,
            STAGE,
            "ArchiveLoadFailed",
            f"after {records_read} records: {type(exc).__name__}: {str(exc).strip()}",
        )
    else:
        tail = archive.fh.tell() - archive.offset  # bytes after the last whole record
        if tail > 0:  # warcio stops without a word on a record cut in its headers
            _count("failures")
            yield records.failure(
                f"{source_name}#offset={archive.offset}", STAGE, "TruncatedRecord", f"archive ends {tail} bytes into a record, in its headers"
            )
        elif records_read == 0:  # e.g. a text file given as an archive: say so rather than yield nothing
            _count("failures")
            yield records.failure(source_name, STAGE, "EmptyArchive", "no WARC/ARC records found")
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
