"""WARC/ARC archives (e.g. Common Crawl CC-NEWS) -> raw pages, with warcio.

Only HTML ``response`` records with a 2xx HTTP status become pages; other records (request,
metadata, warcinfo, revisit, resource, non-HTML responses, redirects and error pages) are
skipped and counted in Beam metrics (namespace ``warc``).  Failures (stage ``warc``):
``ArchiveOpenFailed`` (the file cannot be opened), ``ArchiveLoadFailed`` (the archive breaks:
unknown format such as LZ4, bad gzip, an unparsable record; the records before the break are
kept), ``TruncatedRecord`` (a record shorter than its Content-Length, or not followed by the
blank line that ends it) and ``RecordUnreadable`` (a payload that cannot be de-chunked or
decompressed).
"""

from datetime import datetime, timezone
from email.message import Message
from typing import BinaryIO, Iterable, Iterator, Optional, Union

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from warcio.archiveiterator import ArchiveIterator

from transforms import records
from transforms.sources.read import ReadFiles

STAGE = "warc"
METRICS_NAMESPACE = "warc"
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


def _count(name: str) -> None:
    """Increment a counter (a no-op outside a running pipeline)."""
    Metrics.counter(METRICS_NAMESPACE, name).inc()


def _media_type(content_type: Optional[str]) -> tuple[Optional[str], Optional[str]]:
    """(media type, charset) of an HTTP Content-Type header value."""
    if not content_type:
        return None, None
    header = Message()
    header["content-type"] = content_type
    charset = header.get_param("charset")
    charset = charset.strip() if isinstance(charset, str) else ""  # RFC 2231 tuples are ignored
    return header.get_content_type(), charset or None


def _warc_date(value: Optional[str]) -> Optional[datetime]:
    try:
        parsed = datetime.fromisoformat(value.strip())
    except (AttributeError, ValueError):
        return None
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def _skip_reason(record) -> Optional[str]:
    """Why a record is no HTML page (a metric name), or None for an HTML response."""
    if record.rec_type != "response":
        return f"skipped_{record.rec_type}"
    if (
        not record.http_headers
        or _media_type(record.http_headers.get_header("Content-Type"))[0] not in HTML_TYPES
    ):
        return "skipped_non_html"
    status = record.http_headers.get_statuscode() or ""
    if not status.startswith("2"):  # redirects and error pages are no articles
        return f"skipped_status_{status[:1] or 'missing'}xx"
    return None


def _read_html_response(archive: ArchiveIterator, record, source_name: str) -> dict:
    """The raw page of an HTML response record, or the failure explaining why it is unusable."""
    errors_before = archive.err_count
    try:
        body = record.content_stream().read()  # de-chunked and content-decoded
        error = None
    except Exception as exc:  # noqa: BLE001 -- any decoder error on archived bytes is a record failure
        body, error = None, exc
    offset = archive.get_record_offset()  # reads to the end of the record
    source = f"{source_name}#offset={offset}"
    if error is not None:
        return records.failure(source, STAGE, "RecordUnreadable", f"{type(error).__name__}: {error}")
    missing = getattr(record.raw_stream, "limit", 0)  # bytes of the record the archive lacks
    if missing > 0:
        return records.failure(
            source, STAGE, "TruncatedRecord", f"archive ends {missing} bytes before the record does"
        )
    if archive.err_count > errors_before:
        return records.failure(
            source,
            STAGE,
            "TruncatedRecord",
            "record not followed by a blank line: its Content-Length is wrong",
        )
    url = (record.rec_headers.get_header("WARC-Target-URI") or "").strip().strip("<>") or None
    return records.raw_page(
        source,
        body,
        url=url,
        fetched_at=_warc_date(record.rec_headers.get_header("WARC-Date")),
        charset=_media_type(record.http_headers.get_header("Content-Type"))[1],
    )


def _open(path: str) -> BinaryIO:
    # UNCOMPRESSED: warcio reads gzip members itself, and offsets are positions in the stored file.
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def iter_warc_pages(path_or_stream: Union[str, BinaryIO], source_name: str) -> Iterator[dict]:
    """Raw pages and failures of one WARC/ARC file (path on any Beam filesystem, or binary stream)."""
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
            reason = _skip_reason(record)
            if reason:
                _count(reason)
            else:
                result = _read_html_response(archive, record, source_name)
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
        if records_read == 0:  # e.g. a text file given as an archive: say so rather than yield nothing
            _count("failures")
            yield records.failure(source_name, STAGE, "EmptyArchive", "no WARC/ARC records found")
    finally:
        if isinstance(path_or_stream, str):
            stream.close()


def read_warc_file(path: str):
    for result in iter_warc_pages(path, path):
        yield beam.pvalue.TaggedOutput(records.FAILED, result) if "error_type" in result else result


class ReadWarc(beam.PTransform):
    """WARC/ARC files matching globs (local, gs://, ...) -> (raw pages, failures)."""

    def __init__(self, patterns: Iterable[str]):
        super().__init__()
        self._patterns = list(patterns)

    def expand(self, pbegin):
        return pbegin | "ReadFiles" >> ReadFiles(self._patterns, read_warc_file)
