"""Serves dashboard/ and forwards /api/* to the API, on one origin (as CloudFront does in the cloud)."""

from __future__ import annotations

import mimetypes
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DASHBOARD = Path(__file__).resolve().parent.parent / "dashboard"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
FORWARDED = ("authorization", "content-type")
MAX_BODY = 64 * 1024


def make_handler(api_url: str, root: Path = DASHBOARD) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "voix-dashboard"

        def log_message(self, *args) -> None:  # quiet: the API logs requests already
            pass

        def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for key, value in {**SECURITY_HEADERS, **(extra or {})}.items():
                self.send_header(key, value)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _proxy(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._send(413, b'{"error": "body too large"}', "application/json")
                return
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() in FORWARDED}
            request = urllib.request.Request(api_url + self.path, data=body, method=self.command, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=30) as res:
                    status, payload, content_type = res.status, res.read(), res.headers.get("Content-Type", "")
                    extra = {"Content-Disposition": res.headers["Content-Disposition"]} \
                        if res.headers.get("Content-Disposition") else {}
            except urllib.error.HTTPError as exc:
                status, payload, content_type, extra = exc.code, exc.read(), exc.headers.get("Content-Type", ""), {}
            self._send(status, payload, content_type or "application/json", {"Cache-Control": "no-store", **extra})

        def _static(self) -> None:
            path = self.path.split("?", 1)[0]
            relative = "index.html" if path in ("", "/") else path.lstrip("/")
            target = (root / relative).resolve()
            if root.resolve() not in target.parents or not target.is_file():
                self._send(404, b"not found", "text/plain")
                return
            content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            if content_type.startswith("text/") or content_type.endswith("javascript"):
                content_type += "; charset=utf-8"
            self._send(200, target.read_bytes(), content_type, {"Cache-Control": "no-cache"})

        def do_GET(self) -> None:
            if self.path.startswith(("/api/", "/health")):
                self._proxy()
            else:
                self._static()

        do_HEAD = do_GET

        def do_POST(self) -> None:
            if self.path.startswith("/api/"):
                self._proxy()
            else:
                self._send(405, b"method not allowed", "text/plain")

    return Handler


def serve(port: int, api_url: str, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), make_handler(api_url))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
