"""An upstream for cache tests: every path answers with bytes derived from the path alone (so a
mix-up between keys shows in the bytes), requests are counted per path, and the query string
states the response wanted (size, status, delay, extra headers, failures after N, Vary)."""

import hashlib
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def body_for(path, size):
    """Deterministic bytes for a path: any mix-up between keys shows in the bytes."""
    seed = hashlib.sha256(path.encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


class CountingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        with self.server.lock:
            self.server.counts[url.path] = self.server.counts.get(url.path, 0) + 1
            count = self.server.counts[url.path]
        if "delay" in query:
            time.sleep(float(query["delay"][0]))
        size = int(query.get("size", ["64"])[0])
        body = body_for(url.path, size)
        if "fail_after" in query and count > int(query["fail_after"][0]):
            body = b"upstream failure"
            self.send_response(int(query.get("fail_status", ["500"])[0]))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            return
        if "vary" in query:
            body = f"ae={self.headers.get('Accept-Encoding', '')}".encode()
        self.send_response(int(query.get("status", ["200"])[0]))
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("X-Upstream-Count", str(count))
        for spec in query.get("set", []):
            name, _, value = spec.partition(":")
            self.send_header(name, value)
        if "vary" in query:
            self.send_header("Vary", "Accept-Encoding")
        chunked = "chunked" in query
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if chunked:
            for i in range(0, len(body), 4000):
                piece = body[i:i + 4000]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.wfile.write(body)

    do_HEAD = do_GET


class CountingServer(ThreadingHTTPServer):
    # Closing does not wait for handler threads: one can be stuck on a connection whose nginx
    # worker a fault test killed (it cost 40 s per test before).
    block_on_close = False

    def handle_error(self, request, client_address):
        # nginx closing a connection midway (a worker killed by a fault test) is not news.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def start_counting_upstream():
    """A CountingHandler server on 127.0.0.1 (an ephemeral port), serving from a thread."""
    server = CountingServer(("127.0.0.1", 0), CountingHandler)
    server.daemon_threads = True
    server.lock = threading.Lock()
    server.counts = {}
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def stop_counting_upstream(server):
    server.shutdown()
    server.server_close()
