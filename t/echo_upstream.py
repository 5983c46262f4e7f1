#!/usr/bin/python3
"""A small HTTP upstream that answers with what it received, for tests and the local demo.

Every response is JSON: {"method", "path", "headers": [[name, value], ...], "body_length"},
headers in arrival order with duplicates kept, so tests can see exactly what nginx forwarded.

Paths with a meaning:
  /status/<code>        answer with that status code
  /slow/<seconds>       wait before answering (at most 30 s)
  ?set=Name:Value       add a response header (repeatable), e.g. ?set=X-Powered-By:Express

Run standalone: echo_upstream.py [--port 8081]   (binds 127.0.0.1 only)
"""

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MAX_SLOW_SECONDS = 30


class EchoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "echo-upstream"

    def _answer(self):
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)

        status = 200
        parts = url.path.strip("/").split("/")
        if len(parts) == 2 and parts[0] == "status" and parts[1].isdigit():
            status = int(parts[1])
        if len(parts) == 2 and parts[0] == "slow":
            time.sleep(min(float(parts[1]), MAX_SLOW_SECONDS))

        self.server.requests_seen += 1
        body = json.dumps({
            "method": self.command,
            "path": self.path,
            "headers": [[k, v] for k, v in self.headers.raw_items()],
            "body_length": length,
        }).encode()

        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for spec in parse_qs(url.query).get("set", []):
            name, _, value = spec.partition(":")
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _answer

    def handle(self):
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client (nginx after a timeout) went away first

    def log_message(self, *args):
        pass


class EchoUpstream:
    """The echo server on 127.0.0.1 in a background thread."""

    def __init__(self, port=0):
        self.server = ThreadingHTTPServer(("127.0.0.1", port), EchoHandler)
        self.server.daemon_threads = True
        self.server.requests_seen = 0
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self):
        return self.server.server_address[1]

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), EchoHandler)
    server.requests_seen = 0
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
