"""A small Cloud Storage JSON API server on 127.0.0.1 for lease tests: objects with generations
and the ``ifGenerationMatch`` precondition (412 when it fails), which the pip-installable
emulators ignore.  Point ``google-cloud-storage`` at it with ``STORAGE_EMULATOR_HOST``.

Serves what ``Blob.upload_from_string`` (multipart upload), ``Bucket.get_blob``,
``Blob.download_as_bytes`` and ``Blob.delete`` send."""

import json
import re
import threading
from datetime import datetime, timezone
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

_OBJECT = re.compile(r"^/(?:download/)?storage/v1/b/([^/]+)/o/(.+)$")
_UPLOAD = re.compile(r"^/upload/storage/v1/b/([^/]+)/o$")


class FakeGcs:
    """The server's objects: {(bucket, name): (generation, updated, data)}."""

    def __init__(self):
        self.objects, self.lock, self.generations = {}, threading.Lock(), iter(range(1_000, 10**9))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.host = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def resource(self, bucket: str, name: str) -> dict:
        generation, updated, data = self.objects[(bucket, name)]
        return {
            "kind": "storage#object", "bucket": bucket, "name": name, "id": f"{bucket}/{name}/{generation}",
            "generation": str(generation), "metageneration": "1", "size": str(len(data)),
            "updated": updated, "timeCreated": updated,
            "mediaLink": f"{self.host}/download/storage/v1/b/{bucket}/o/{name}?alt=media",
        }

    def precondition_fails(self, key, query) -> bool:
        wanted = query.get("ifGenerationMatch")
        if wanted is None:
            return False
        held = self.objects.get(key)
        return int(wanted[0]) != (held[0] if held else 0)


def _handler(gcs: FakeGcs):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def reply(self, status: int, body=None):
            payload = json.dumps(body if body is not None else {"error": {"code": status}}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_POST(self):
            url = urlparse(self.path)
            match = _UPLOAD.match(url.path)
            if not match:
                return self.reply(404)
            length = int(self.headers["Content-Length"])
            message = BytesParser(policy=HTTP).parsebytes(
                f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode() + self.rfile.read(length)
            )
            meta_part, data_part = list(message.iter_parts())
            name = json.loads(meta_part.get_payload(decode=True))["name"]
            key, query = (match.group(1), name), parse_qs(url.query)
            with gcs.lock:
                if gcs.precondition_fails(key, query):
                    return self.reply(412)
                updated = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
                gcs.objects[key] = (next(gcs.generations), updated, data_part.get_payload(decode=True))
                return self.reply(200, gcs.resource(*key))

        def existing(self):
            """(object key, query) of the request's object, or None once a 404/412 is sent."""
            url = urlparse(self.path)
            match = _OBJECT.match(url.path)
            key, query = match and (match.group(1), unquote(match.group(2))), parse_qs(url.query)
            if not match or key not in gcs.objects:
                return self.reply(404)
            if gcs.precondition_fails(key, query):
                return self.reply(412)
            return key, query

        def do_GET(self):
            with gcs.lock:
                found = self.existing()
                if found is None:
                    return
                key, query = found
                if query.get("alt") != ["media"]:
                    return self.reply(200, gcs.resource(*key))
                data = gcs.objects[key][2]
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_DELETE(self):
            with gcs.lock:
                found = self.existing()
                if found is None:
                    return
                del gcs.objects[found[0]]
            self.send_response(204)
            self.end_headers()

    return Handler
