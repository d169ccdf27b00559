"""A tiny same-origin server for OHIF: the ``@ohif/app`` dist plus a proxy to Orthanc.

Serves the OHIF dist folder (unknown paths fall back to ``index.html``, as a single
page app needs), this folder's ``app-config.js``, and proxies ``/dicom-web`` and
``/wado`` to Orthanc, so the browser sees one origin and no CORS is involved.
Orthanc DICOMweb 1.7 ignores a comma-separated ``includefield=a,b``; the proxy splits
it into repeated ``includefield`` parameters. Standard library only.

    python serve.py --dist package/dist --orthanc http://127.0.0.1:8042 --port 3000
"""

from __future__ import annotations

import argparse
import mimetypes
import shutil
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = ["make_server", "split_includefield"]

PROXIED = ("/dicom-web", "/wado")
# Not forwarded. ``Host`` is forwarded on purpose: Orthanc's DICOMweb plugin builds the
# URLs in its answers (RetrieveURL, BulkDataURI) from it, so they name this server.
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}
# Cross-origin isolation: OHIF (cornerstone) needs SharedArrayBuffer for volume
# rendering and decoding workers; browsers only grant it to isolated pages.
_ISOLATION = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def split_includefield(query: str) -> str:
    """``includefield=a,b`` -> ``includefield=a&includefield=b``; the rest unchanged."""
    pairs: list[tuple[str, str]] = []
    for key, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
        if key.lower() == "includefield" and "," in value:
            pairs.extend((key, v) for v in value.split(",") if v)
        else:
            pairs.append((key, value))
    return urllib.parse.urlencode(pairs)


def make_server(
    dist: Path,
    orthanc_url: str,
    host: str = "127.0.0.1",
    port: int = 3000,
    app_config: Path | None = None,
) -> ThreadingHTTPServer:
    """A server for ``dist`` proxying DICOMweb to ``orthanc_url``; call serve_forever()."""
    dist = dist.resolve()
    config = (app_config or Path(__file__).with_name("app-config.js")).resolve()
    upstream = orthanc_url.rstrip("/")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _proxy(self) -> None:
            parsed = urllib.parse.urlsplit(self.path)
            url = upstream + parsed.path
            if parsed.query:
                url += "?" + split_includefield(parsed.query)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            request = urllib.request.Request(url, data=body, method=self.command)
            for key, value in self.headers.items():
                if key.lower() not in _HOP_BY_HOP:
                    request.add_header(key, value)
            try:
                response = urllib.request.urlopen(request, timeout=120)
            except urllib.error.HTTPError as exc:
                response = exc
            except (urllib.error.URLError, OSError) as exc:
                self.send_error(502, f"Orthanc at {upstream} did not answer: {exc}")
                return
            with response:
                data = response.read()
                self.send_response(response.status)
                for key, value in response.headers.items():
                    if key.lower() not in _HOP_BY_HOP and key.lower() != "content-length":
                        self.send_header(key, value)
                self._isolation_headers()
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

        def _isolation_headers(self) -> None:
            for key, value in _ISOLATION.items():
                self.send_header(key, value)

        def _static(self) -> None:
            path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
            if path == "/app-config.js":
                target = config
            else:
                target = (dist / path.lstrip("/")).resolve()
                if not target.is_relative_to(dist) or not target.is_file():
                    target = dist / "index.html"  # single page app fallback
            kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self._isolation_headers()
            self.send_header("Content-Length", str(target.stat().st_size))
            self.end_headers()
            if self.command != "HEAD":
                with target.open("rb") as f:
                    shutil.copyfileobj(f, self.wfile)

        def _route(self) -> None:
            try:
                if self.path.startswith(PROXIED):
                    self._proxy()
                elif self.command in ("GET", "HEAD"):
                    self._static()
                else:
                    self.send_error(405)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the browser went away mid-answer

        do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _route

    return ThreadingHTTPServer((host, port), Handler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, required=True, help="the @ohif/app dist folder")
    parser.add_argument("--orthanc", default="http://127.0.0.1:8042")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument(
        "--app-config", type=Path, default=None, help="default: app-config.js next to this file"
    )
    args = parser.parse_args()
    server = make_server(args.dist, args.orthanc, args.host, args.port, args.app_config)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.server_close()


if __name__ == "__main__":
    main()
