"""Serves dashboard/ and forwards /api/* to the API, on one origin (as CloudFront does in the cloud).

Given an outbox (the local stack gives one: ``infra/outbox.py``), it also shows ``/outbox``
(``/outbox.json``): what the stack sent. Local mode only; CloudFront has no such page.
"""

from __future__ import annotations

import json
import mimetypes
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from chalicelib.web import MAX_API_BYTES

DASHBOARD = Path(__file__).resolve().parent.parent / "dashboard"
# the language catalogues the server's texts come from, served to the dashboard as locales/<lang>.json
LOCALES = Path(__file__).resolve().parent.parent / "chalicelib" / "locales"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
FORWARDED = ("authorization", "content-type", "accept-language")
# Response headers of the API that the browser (or a script) must see, as CloudFront passes them on.
RETURNED = ("Content-Disposition", "X-Voix-Truncated", "Retry-After")
MAX_BODY = MAX_API_BYTES  # the API's own limit: a larger body is refused here, a smaller one reaches it
DRAIN_LIMIT = 4 * MAX_BODY  # a refused body up to this is read and dropped, so its sender can read the refusal


def make_handler(api_url: str, root: Path = DASHBOARD,
                 outbox: Callable[[int], list[dict[str, Any]]] | None = None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "voix-dashboard"

        def log_message(self, *args) -> None:  # quiet: the API logs requests already
            pass

        def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
            try:
                self.send_response(status)
                for key, value in {**SECURITY_HEADERS, **(extra or {})}.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):  # the browser went away first: nothing to answer
                self.close_connection = True

        def _proxy(self) -> None:
            raw_length = (self.headers.get("Content-Length") or "0").strip()
            if not (raw_length.isascii() and raw_length.isdigit()):  # the body cannot be delimited: answer, close
                self.close_connection = True
                self._send(400, b'{"error": "invalid Content-Length"}', "application/json", {"Connection": "close"})
                return
            length = int(raw_length)
            if length > MAX_BODY:
                # a client still sending when the connection closes reads a broken pipe, not the 413: read what it
                # sends (up to DRAIN_LIMIT, in pieces, never kept), answer, close
                self.close_connection = True
                remaining = length if length <= DRAIN_LIMIT else 0
                while remaining > 0:
                    piece = self.rfile.read(min(remaining, 64 * 1024))
                    if not piece:
                        break
                    remaining -= len(piece)
                self._send(413, b'{"error": "body too large"}', "application/json", {"Connection": "close"})
                return
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() in FORWARDED}
            request = urllib.request.Request(api_url + self.path, data=body, method=self.command, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=30) as res:
                    status, payload, response_headers = res.status, res.read(), res.headers
            except urllib.error.HTTPError as exc:
                status, payload, response_headers = exc.code, exc.read(), exc.headers
            extra = {name: response_headers[name] for name in RETURNED if response_headers.get(name)}
            content_type = response_headers.get("Content-Type", "")
            self._send(status, payload, content_type or "application/json", {"Cache-Control": "no-store", **extra})

        def _static(self) -> None:
            path = self.path.split("?", 1)[0]
            relative = "index.html" if path in ("", "/") else path.lstrip("/")
            base = root
            if relative.startswith("locales/"):  # as the deploy uploads them: one source of truth
                base, relative = LOCALES, relative.removeprefix("locales/")
            target = (base / relative).resolve()
            if base.resolve() not in target.parents or not target.is_file():
                self._send(404, b"not found", "text/plain")
                return
            content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            if content_type.startswith("text/") or content_type.endswith("javascript"):
                content_type += "; charset=utf-8"
            self._send(200, target.read_bytes(), content_type, {"Cache-Control": "no-cache"})

        def _outbox(self) -> None:
            from urllib.parse import parse_qs, urlsplit

            from infra.outbox import OUTBOX_CSS, render_html

            url = urlsplit(self.path)
            if url.path == "/outbox.css":
                self._send(200, OUTBOX_CSS, "text/css; charset=utf-8", {"Cache-Control": "no-cache"})
                return
            try:
                limit = min(max(int(parse_qs(url.query).get("limit", ["200"])[0]), 1), 5000)
            except ValueError:
                self._send(400, b'{"error": "limit must be a whole number"}', "application/json")
                return
            items = outbox(limit)
            if url.path == "/outbox.json":
                self._send(200, json.dumps({"items": items}, ensure_ascii=False).encode(), "application/json",
                           {"Cache-Control": "no-store"})
            else:
                self._send(200, render_html(items), "text/html; charset=utf-8", {"Cache-Control": "no-store"})

        def do_GET(self) -> None:
            if self.path.startswith(("/api/", "/health")):
                self._proxy()
            elif outbox is not None and self.path.split("?", 1)[0] in ("/outbox", "/outbox.json", "/outbox.css"):
                self._outbox()
            else:
                self._static()

        do_HEAD = do_GET

        def do_POST(self) -> None:
            if self.path.startswith("/api/"):
                self._proxy()
            else:
                self._send(405, b"method not allowed", "text/plain")

        do_PUT = do_PATCH = do_DELETE = do_POST  # the live configuration, corrections, erasure: the API's own

    return Handler


def serve(port: int, api_url: str, host: str = "127.0.0.1",
          outbox: Callable[[int], list[dict[str, Any]]] | None = None) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), make_handler(api_url, outbox=outbox))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
