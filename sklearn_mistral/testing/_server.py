"""HTTP plumbing of the fake: a threaded HTTP/1.1 server on loopback with keep-alive."""

import http.server
import logging
import socket
import socketserver
import sys
import threading

__all__ = ["EmbeddingsHTTPServer", "read_body", "send_response"]

logger = logging.getLogger("sklearn_mistral.testing")

# The fake listens on loopback only, because it is meant for tests on this machine.
HOST = "127.0.0.1"
# Seconds an idle keep-alive connection stays open before its thread closes it.
_IDLE_TIMEOUT = 60.0


def _read_chunked(stream):
    chunks = []
    while True:
        size = int(stream.readline(1024).split(b";")[0], 16)
        if size == 0:
            break
        chunks.append(stream.read(size))
        stream.readline(1024)
    while stream.readline(65537).strip():
        pass
    return b"".join(chunks)


def read_body(handler):
    """Read the request body, with ``Content-Length`` or chunked transfer coding."""
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        return _read_chunked(handler.rfile)
    length = int(handler.headers.get("Content-Length") or 0)
    if length < 0:
        raise ValueError(f"negative Content-Length {length}")
    return handler.rfile.read(length)


def send_response(handler, response, request_id):
    """Send ``response``, or close the connection when its status is ``None``."""
    if response.status is None:
        handler.close_connection = True
        return
    try:
        handler.send_response(response.status)
        handler.send_header("Content-Type", response.content_type)
        handler.send_header("Content-Length", str(len(response.body)))
        handler.send_header("x-request-id", request_id)
        for name, value in response.headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(response.body)
    except OSError as exc:
        handler.close_connection = True
        logger.debug("Failed to send the response to request %s: %s", request_id, exc)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeMistralAPI"
    sys_version = ""
    timeout = _IDLE_TIMEOUT
    # Headers and body go out in two writes. Without TCP_NODELAY, Nagle's algorithm
    # and the client's delayed ACK would add about 40 ms to every response.
    disable_nagle_algorithm = True

    def setup(self):
        super().setup()
        self.server.track(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def _dispatch(self):
        self.server.request_callback(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    def log_message(self, format, *args):
        logger.debug("%s - " + format, self.address_string(), *args)


class EmbeddingsHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    """A ``ThreadingHTTPServer`` on 127.0.0.1 that passes every request to a callback.

    ``request_callback(handler)`` runs in the connection's thread, for any method and
    path. It reads the body with :func:`read_body` and responds with :func:`send_response`.
    Threads are daemons, so a forgotten server never blocks interpreter exit.
    """

    def __init__(self, port, request_callback):
        self.request_callback = request_callback
        self._connections = set()
        self._connections_lock = threading.Lock()
        super().__init__((HOST, port), _Handler)

    def server_bind(self):
        # HTTPServer.server_bind would also look up the host name, which can stall on DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def track(self, connection):
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection):
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self):
        """Shut down open keep-alive connections so that their threads end."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address):
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            logger.debug("Connection from %s ended: %r", client_address, error)
        else:
            logger.exception("Unexpected error while serving %s", client_address)
