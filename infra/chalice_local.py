"""The real `chalice local`, with a listen backlog fit for concurrent senders.

Chalice's threaded dev server keeps socketserver's backlog of 5 connections: 16
concurrent senders overflow it and some connections are reset. API Gateway has no
such limit, so the local stack raises it; nothing else changes.
"""

import sys

from chalice import local
from chalice.cli import main

local.ThreadedHTTPServer.request_queue_size = 128

if __name__ == "__main__":
    sys.argv[0] = "chalice"
    sys.exit(main())
