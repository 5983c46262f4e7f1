"""The controller's listener against hostile and odd clients (issue 15): bodies bounded while
they are read, chunked or not; slow clients cost a socket, not a thread; pipelined requests
answered in order; request-smuggling shapes refused; Expect: 100-continue; connection caps.
Raw sockets on 127.0.0.x, so every byte on the wire is the test's own."""

import json
import re
import select
import socket
import threading
import time

import pytest

from conftest import free_port
from controller_harness import base_env
from test_controller_api import PASSWORD, Api


@pytest.fixture
def listener(start_controller, tmp_path):
    def start(**env):
        port = free_port()
        controller = start_controller(
            "--listen", f"127.0.0.1:{port}",
            env=base_env(CAPTAIN_PASSWORD=PASSWORD, CAPTAIN_DATA_DIR=str(tmp_path / "data"),
                         **env))
        controller.wait_connectable(port)
        return controller, port
    return start


def exchange(port, data, wait=2.0, source="127.0.0.1"):
    """Sends `data` at once, returns everything received until the server closes or `wait`."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
    try:
        s.sendall(data)
        out, deadline = b"", time.monotonic() + wait
        s.settimeout(0.2)
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


def statuses(raw):
    """The status codes of the responses in `raw`, in order (a response's status line follows
    the previous body directly)."""
    return [int(code) for code in re.findall(rb"HTTP/1\.1 (\d{3}) ", raw)]


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def timed_get(port, path, source, body=None):
    started = time.monotonic()
    conn = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
    try:
        if body is None:
            conn.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        else:
            data = json.dumps(body).encode()
            conn.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                         f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
                         .encode() + data)
        reply = b""
        while chunk := conn.recv(65536):
            reply += chunk
        return time.monotonic() - started, reply
    finally:
        conn.close()


def assert_health_and_login_answer_at_once(port, source):
    """/health/live and a login from `source` answer within a second, five times over."""
    for _ in range(5):
        took, reply = timed_get(port, "/health/live", source)
        assert statuses(reply) == [200] and took < 1.0, (took, reply[:100])
        took, reply = timed_get(port, "/api/v2/login", source, {"password": PASSWORD})
        assert b'"status":100' in reply and took < 1.0, (took, reply[:200])


def test_huge_chunked_bodies_are_refused_while_read_and_memory_stays_flat(listener):
    controller, port = listener()
    before = rss_kib(controller.proc.pid)
    head = (b"POST /api/v2/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    piece = b"10000\r\n" + b"a" * 0x10000 + b"\r\n"
    results = []

    def attack():
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.setblocking(False)
        sent, reply, pending = 0, b"", head
        deadline = time.monotonic() + 30
        while sent < 200 * 2**20 and time.monotonic() < deadline and b"\r\n\r\n" not in reply:
            readable, writable, _ = select.select([s], [s], [], 1)
            if readable:
                try:
                    chunk = s.recv(65536)
                except (ConnectionResetError, BlockingIOError):
                    break
                if not chunk:
                    break
                reply += chunk
            if writable:
                try:
                    n = s.send(pending or piece)
                    sent += n
                    pending = (pending or piece)[n:] if pending else piece[n:]
                except (BrokenPipeError, ConnectionResetError, BlockingIOError):
                    pass
        s.close()
        results.append((sent, reply))

    threads = [threading.Thread(target=attack) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 6
    for sent, reply in results:
        assert reply.startswith(b"HTTP/1.1 413 "), reply[:200]
        assert sent < 64 * 2**20, sent  # refused long before the 200 MB were sent
    grown = rss_kib(controller.proc.pid) - before
    assert grown < 50 * 1024, f"RSS grew by {grown} KiB"
    status, envelope = Api(controller, port, None).call("GET", "/health/live")
    assert status == 200


def test_slow_clients_cost_a_socket_not_a_thread(listener):
    controller, port = listener(CAPTAIN_REQUEST_HEADER_TIMEOUT="30s")
    slow = []
    for n in range(50):  # headers started, never finished
        s = socket.create_connection(("127.0.0.1", port), timeout=5,
                                     source_address=(f"127.0.1.{n + 1}", 0))
        s.sendall(b"POST /api/v2/login HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        slow.append(s)
    try:
        time.sleep(0.5)
        assert_health_and_login_answer_at_once(port, "127.0.0.2")
    finally:
        for s in slow:
            s.close()


def test_headers_must_arrive_in_time(listener):
    controller, port = listener(CAPTAIN_REQUEST_HEADER_TIMEOUT="1s")
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")  # never the blank line
    started = time.monotonic()
    s.settimeout(5)
    assert s.recv(100) == b""  # closed without an answer
    assert 0.8 < time.monotonic() - started < 3
    s.close()


def test_pipelined_requests_are_answered_in_order(listener):
    controller, port = listener()
    login = json.dumps({"password": PASSWORD}).encode()
    raw = exchange(port, b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n"
                         b"POST /api/v2/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                         b"\r\nContent-Length: " + str(len(login)).encode() + b"\r\n\r\n" + login +
                         b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert statuses(raw) == [200, 200, 404], raw
    first, second = raw.index(b'{"status":"ok"}'), raw.index(b'"Login succeeded"')
    assert first < second


@pytest.mark.parametrize("request_bytes", [
    b"POST /api/v2/login HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST /api/v2/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
    b"Content-Length: 5\r\n\r\n0\r\n\r\n",
    b"POST /api/v2/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
    b"POST /api/v2/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2, 3\r\n\r\n{}",
    b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n",
    b"POST /api/v2/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
    b"POST /api/v2/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
    b"GET /health/live HTTP/1.1\nHost: x\n\n",
], ids=["cl-te", "te-cl", "duplicate-cl", "cl-list", "obs-fold", "te-gzip", "te-not-last",
        "bare-lf"])
def test_request_smuggling_shapes_are_refused(listener, request_bytes):
    controller, port = listener()
    raw = exchange(port, request_bytes + b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
    # 400, and the connection closed: nothing after it is read as a request.
    assert statuses(raw) == [400], raw


def test_expect_100_continue(listener):
    controller, port = listener()
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    body = json.dumps({"password": PASSWORD}).encode()
    s.sendall(b"POST /api/v2/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Expect: 100-continue\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n")
    assert s.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
    s.sendall(body)
    reply = b""
    s.settimeout(2)
    while b"Login succeeded" not in reply:
        reply += s.recv(65536)
    assert statuses(reply) == [200]
    s.close()
    # Too large for login's 64 KiB limit: 413 at once, no 100 Continue, the body never sent.
    raw = exchange(port, b"POST /api/v2/login HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                         b"Content-Length: 70000\r\n\r\n")
    assert statuses(raw) == [413], raw
    assert b"larger than 65536 bytes" in raw, raw


def test_connections_are_capped_per_client_and_others_still_served(listener):
    controller, port = listener(CAPTAIN_MAX_CONNECTIONS_PER_CLIENT="4",
                                CAPTAIN_TRUSTED_PROXIES="127.0.0.1")
    held = [socket.create_connection(("127.0.0.1", port), timeout=5,
                                     source_address=("127.0.2.1", 0)) for _ in range(4)]
    try:
        extra = socket.create_connection(("127.0.0.1", port), timeout=5,
                                         source_address=("127.0.2.1", 0))
        extra.settimeout(3)
        extra.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            assert extra.recv(100) == b""  # closed before a byte was read
        except ConnectionResetError:
            pass
        extra.close()
        took, reply = timed_get(port, "/health/live", "127.0.2.2")
        assert statuses(reply) == [200]
        # The trusted proxy (nginx) carries everyone's requests: not capped per client.
        proxy = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(8)]
        took, reply = timed_get(port, "/health/live", "127.0.0.1")
        assert statuses(reply) == [200]
        for s in proxy:
            s.close()
    finally:
        for s in held:
            s.close()


def test_health_and_login_answer_while_slow_calls_fill_their_pool(listener, tmp_path):
    """Certificate orders against a CA that accepts connections and never answers: every
    worker of the slow pool waits, and /health and login still answer at once."""
    from conftest import BUILD_DIR
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(64)
    accepted = []
    stop = threading.Event()

    def swallow():
        blackhole.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(blackhole.accept()[0])
            except OSError:
                pass
    threading.Thread(target=swallow, daemon=True).start()
    conf, run = tmp_path / "nginx-conf", tmp_path / "nginx-run"
    controller, port = listener(
        CAPTAIN_NGINX_RELOAD="pid", CAPTAIN_NGINX_UPSTREAM="published-port",
        CAPTAIN_NGINX_CONF_DIR=str(conf), CAPTAIN_NGINX_PID_FILE=str(run / "nginx.pid"),
        CAPTAIN_NGINX_MODULE=str(BUILD_DIR / "ngx_http_captain_module.so"),
        CAPTAIN_NGINX_LISTEN=f"127.0.0.1:{free_port()}",
        CAPTAIN_NGINX_TLS_LISTEN=f"127.0.0.1:{free_port()}",
        CAPTAIN_NGINX_LOG_DIR=str(run / "logs"), CAPTAIN_NGINX_TEMP_DIR=str(run / "tmp"),
        CAPTAIN_ACME_DIRECTORY=f"https://127.0.0.1:{blackhole.getsockname()[1]}/dir")
    api = Api(controller, port, None)
    assert api.login()["status"] == 100
    try:
        callers = [threading.Thread(target=lambda: _quietly(
            api.call, "POST", "/api/v2/user/system/enablessl", {"emailAddress": "a@b.example"}))
            for _ in range(12)]
        for c in callers:
            c.daemon = True
            c.start()
        time.sleep(2)  # the slow pool is full: one order talks to the black hole, the rest wait
        assert accepted, "no certificate order reached the CA"
        assert_health_and_login_answer_at_once(port, "127.0.0.3")
    finally:
        stop.set()
        controller.cleanup()
        for s in accepted:
            s.close()
        blackhole.close()


def _quietly(fn, *args):
    try:
        return fn(*args)
    except OSError:
        return None
