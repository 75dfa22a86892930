"""The real `chalice local`, with a listen backlog fit for concurrent senders, and unknown
routes answered as the deployed API answers them.

* Chalice's threaded dev server keeps socketserver's backlog of 5 connections: 16
  concurrent senders overflow it and some connections are reset. API Gateway has no such
  limit, so the local stack raises it.
* For a path no route matches, Chalice emulates API Gateway's default answer: a 403
  "Missing Authentication Token", or, when the request carries an Authorization header,
  a 403 that quotes the header back (the operator token, in the body). The deployed API
  answers a JSON 404 instead (gateway responses set by ``infra/package.py``); ``apply``
  makes the local gateway (``chalice local`` and Chalice's test client) do the same.
* Chalice's request handler writes the body of a HEAD answer too: the client, expecting none,
  reads those bytes as the start of the next answer on the keep-alive connection. A HEAD
  answer now carries the headers only (with the Content-Length a GET would have).
* A malformed ``Content-Length`` (not a non-negative integer) raised inside the handler and
  the connection was dropped with no answer; it is now a JSON 400 and the connection is closed
  (the body cannot be delimited), as API Gateway answers it.
* Its access log lines were plain text on stderr; they are one JSON line each, like every other
  line of the local stack (``infra.local_worker.local_logging``).
* The access log line of ``DELETE /api/customers/<number>`` would print the number being
  erased: the number is redacted from every access log line.
"""

import logging
import re
import sys

from chalice import local

NO_SUCH_ROUTE = b'{"error": "no such route"}'
BAD_LENGTH = b'{"error": "invalid Content-Length"}'
access_log = logging.getLogger("local.http")


class NoSuchRoute(local.LocalGatewayException):
    CODE = 404


_CUSTOMER_PATH = re.compile(r"(/api/customers/)[^\s?#\"']+")


def redact(line: str) -> str:
    """An access log line without the customer's number: ``/api/customers/<redacted>``."""
    return _CUSTOMER_PATH.sub(r"\1<redacted>", line)


def apply() -> None:
    """Patch Chalice's local gateway (idempotent)."""
    local.ThreadedHTTPServer.request_queue_size = 128
    gateway = local.LocalGateway
    if getattr(gateway, "_voix_no_such_route", False):
        return
    handle_request = gateway.handle_request

    def handle(self, method, path, headers, body):
        try:
            return handle_request(self, method, path, headers, body)
        except local.ForbiddenError as exc:
            if exc.body and exc.body.startswith((b'{"message": "Missing Authentication Token"',
                                                 b'{"message": "Authorization header requires')):
                raise NoSuchRoute({**exc.headers, "Content-Type": "application/json"}, NO_SUCH_ROUTE) from None
            raise

    gateway.handle_request = handle
    gateway._voix_no_such_route = True
    _patch_request_handler(local.ChaliceRequestHandler)


def _valid_length(value: str | None) -> bool:
    return value is None or (value.strip().isdigit() and value.strip().isascii())


def _patch_request_handler(handler: type) -> None:
    generic_handle = handler._generic_handle
    send_with_body = handler._send_http_response_with_body

    def checked_handle(self) -> None:
        if not _valid_length(self.headers.get("content-length")):
            self.close_connection = True
            self._send_http_response(400, {"Content-Type": "application/json", "Connection": "close"}, BAD_LENGTH)
            return
        generic_handle(self)

    def send_response_body(self, code, headers, body) -> None:
        if self.command != "HEAD":
            send_with_body(self, code, headers, body)
            return
        self.send_response(code)
        length = len(body if isinstance(body, bytes) else body.encode("utf-8"))
        self.send_header("Content-Length", str(length))
        self.send_header("Content-Type", headers.pop("Content-Type", "application/json"))
        self._send_headers(headers)  # ends the headers; no body follows a HEAD answer

    def log_message(self, format, *args) -> None:  # noqa: A002 (BaseHTTPRequestHandler's signature)
        if not format.startswith('"%s"'):  # an error the server itself reports
            access_log.warning(redact(format % args))
            return
        path = (self.path if isinstance(getattr(self, "path", None), str) else "").split("?", 1)[0]
        if path.startswith("/ack/"):
            path = "/ack/{token}"  # a one-click acknowledgement link is a credential
        path = redact(path)  # the number being erased by DELETE /api/customers/<number>
        status = str(args[1]) if len(args) > 1 else ""
        access_log.info("http request", extra={"method": getattr(self, "command", None), "path": path,
                                               "status": int(status) if status.isdigit() else status})

    for name in ("do_GET", "do_PUT", "do_POST", "do_HEAD", "do_DELETE", "do_PATCH", "do_OPTIONS"):
        setattr(handler, name, checked_handle)
    handler._generic_handle = checked_handle
    handler._send_http_response_with_body = send_response_body
    handler.log_message = log_message


if __name__ == "__main__":
    from chalice.cli import main

    from infra.local_worker import local_logging

    local_logging()  # before Chalice's own basicConfig, which then leaves the root logger alone
    apply()
    sys.argv[0] = "chalice"
    sys.exit(main())
