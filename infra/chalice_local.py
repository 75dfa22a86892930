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
* The access log line of ``DELETE /api/customers/<number>`` would print the number being
  erased: the number is redacted from every access log line.
"""

import re
import sys

from chalice import local

NO_SUCH_ROUTE = b'{"error": "no such route"}'


class NoSuchRoute(local.LocalGatewayException):
    CODE = 404


_CUSTOMER_PATH = re.compile(r"(/api/customers/)[^\s?#\"']+")


def redact(line: str) -> str:
    """An access log line without the customer's number: ``/api/customers/<redacted>``."""
    return _CUSTOMER_PATH.sub(r"\1<redacted>", line)


def _redact_access_log() -> None:
    handler = local.ChaliceRequestHandler
    if getattr(handler, "_voix_redacted", False):
        return
    log_message = handler.log_message

    def log_redacted(self, format, *args):  # noqa: A002  (BaseHTTPRequestHandler's signature)
        log_message(self, "%s", redact(format % args))

    handler.log_message = log_redacted
    handler._voix_redacted = True


def apply() -> None:
    """Patch Chalice's local gateway (idempotent)."""
    local.ThreadedHTTPServer.request_queue_size = 128
    _redact_access_log()
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


if __name__ == "__main__":
    from chalice.cli import main

    apply()
    sys.argv[0] = "chalice"
    sys.exit(main())
