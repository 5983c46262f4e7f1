"""captain_request_id, captain_request_id_format, $captain_request_id, captain_response_time."""

import re
import socket
import threading
from http.client import HTTPConnection

import pytest

from conftest import echoed, request

UUID_V4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
HEX_ID = re.compile(r"^[0-9a-f]{32}$")

CONF = """
    log_format ids '$captain_request_id $status';
    server {
        listen 127.0.0.1:@PORT@ reuseport;
        access_log @DIR@/ids.log ids;
        location / { proxy_pass http://@UPSTREAM@; }
        location /hex/ { captain_request_id_format hex; proxy_pass http://@UPSTREAM@; }
        location /off/ { captain_request_id off; proxy_pass http://@UPSTREAM@; }
        location = /variable { return 200 "$captain_request_id"; }
        location = /fast { add_header X-Worker $pid always; return 204; }
        location = /redirected { error_page 404 = @upstream; return 404; }
        location @upstream { proxy_pass http://@UPSTREAM@; }
    }
"""


@pytest.fixture
def server(nginx):
    return nginx(CONF)


def test_request_without_id_gets_a_uuid_passed_upstream_and_returned(server):
    r = request(server.port, "/")
    assert r.status == 200
    rid = r.header("X-Request-ID")
    assert UUID_V4.match(rid), rid
    assert echoed(r, "X-Request-ID") == [rid]


@pytest.mark.parametrize("incoming", [
    "a",
    "abc-123",
    "req.2026-11-22T10:00:00_node:7",
    "0af76519-16cd-43dd-8448-eb211c80319c",
    "X" * 128,
])
def test_valid_incoming_id_is_honored(server, incoming):
    r = request(server.port, "/", headers=[("X-Request-ID", incoming)])
    assert r.header("X-Request-ID") == incoming
    assert echoed(r, "X-Request-ID") == [incoming]


@pytest.mark.parametrize("incoming", [
    "has space",
    "tab\there",
    '"quoted"',
    "semi;colon",
    "<script>alert(1)</script>",
    "X" * 129,
    "caf\u00e9".encode(),        # non-ASCII (UTF-8 bytes)
    b"\xff\xfe",
    "",
    "slash/es",
], ids=lambda v: repr(v)[:40])
def test_malformed_incoming_id_is_replaced_never_echoed(server, incoming):
    r = request(server.port, "/", headers=[("X-Request-ID", incoming)])
    rid = r.header("X-Request-ID")
    assert UUID_V4.match(rid), rid
    assert echoed(r, "X-Request-ID") == [rid]
    raw = incoming if isinstance(incoming, bytes) else incoming.encode()
    if raw:
        assert raw not in r.body
        assert all(raw.decode("latin-1") not in v for _, v in r.headers)


def test_several_incoming_ids_are_replaced_by_one(server):
    r = request(server.port, "/", headers=[("X-Request-ID", "first"), ("X-Request-ID", "second")])
    rid = r.header("X-Request-ID")
    assert UUID_V4.match(rid)
    assert echoed(r, "X-Request-ID") == [rid]


@pytest.mark.parametrize("smuggled, expected_id", [
    # a bare CR inside the value: nginx rejects the header line itself, so a new id is made
    (b"abc\rinjected: 1", UUID_V4),
    # obs-fold: "abc" is a complete, valid header; the folded line makes nginx answer 400
    (b"abc\r\n evil", re.compile("^abc$")),
])
def test_header_injection_attempts_are_refused_and_not_echoed(server, smuggled, expected_id):
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Request-ID: " + smuggled +
                  b"\r\nConnection: close\r\n\r\n")
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
    head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    assert head.startswith("HTTP/1.1 400")
    ids = re.findall(r"(?im)^X-Request-ID: (.*)$", head)
    assert len(ids) == 1 and expected_id.match(ids[0].strip()), ids
    assert "injected" not in head and "evil" not in head


def test_hex_format(server):
    r = request(server.port, "/hex/")
    rid = r.header("X-Request-ID")
    assert HEX_ID.match(rid), rid
    assert echoed(r, "X-Request-ID") == [rid]


def test_off_leaves_request_and_response_alone(server):
    r = request(server.port, "/off/", headers=[("X-Request-ID", "has space")])
    assert r.header("X-Request-ID") is None
    assert echoed(r, "X-Request-ID") == ["has space"]


def test_variable_matches_header_and_access_log(server):
    r = request(server.port, "/variable")
    rid = r.header("X-Request-ID")
    assert r.body.decode() == rid
    server.stop()  # flushes the log
    assert f"{rid} 200" in (server.dir / "ids.log").read_text()


def test_internal_redirect_keeps_the_id(server):
    r = request(server.port, "/redirected", headers=[("X-Request-ID", "keep-me")])
    assert r.status == 200
    assert r.header("X-Request-ID") == "keep-me"
    assert echoed(r, "X-Request-ID") == ["keep-me"]

    r = request(server.port, "/redirected")
    assert echoed(r, "X-Request-ID") == [r.header("X-Request-ID")]


def collect_ids(port, total, connections):
    """Sends `total` requests over `connections` keep-alive connections."""
    ids, workers, errors = [], set(), []
    lock = threading.Lock()

    def client(count):
        conn = HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            for _ in range(count):
                conn.request("GET", "/fast")
                resp = conn.getresponse()
                resp.read()
                with lock:
                    ids.append(resp.getheader("X-Request-ID"))
                    workers.add(resp.getheader("X-Worker"))
        except Exception as e:  # surfaced by the assertion below
            errors.append(e)
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(total // connections,))
               for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    return ids, workers


def test_ids_unique_over_10k_requests_on_both_workers(server):
    ids, workers = collect_ids(server.port, 10_000, 20)
    assert len(ids) == 10_000
    assert all(UUID_V4.match(i) for i in ids)
    assert len(set(ids)) == 10_000
    assert len(workers) == 2, f"requests reached workers {workers}"


def test_reload_reseeds_new_workers(server):
    before, _ = collect_ids(server.port, 500, 5)
    server.reload()
    after, _ = collect_ids(server.port, 500, 5)
    assert len(set(before) | set(after)) == 1000


RESPONSE_TIME = """
    captain_response_time on;
    server {
        listen 127.0.0.1:@PORT@;
        location / { proxy_pass http://@UPSTREAM@; }
        location /off/ { captain_response_time off; proxy_pass http://@UPSTREAM@; }
    }
"""


def test_response_time_measures_until_response_headers(nginx):
    server = nginx(RESPONSE_TIME)
    fast = request(server.port, "/")
    assert re.fullmatch(r"\d+ms", fast.header("X-Response-Time"))
    assert int(fast.header("X-Response-Time")[:-2]) < 1000

    slow = request(server.port, "/slow/1.2")
    ms = int(slow.header("X-Response-Time")[:-2])
    assert 1200 <= ms < 5000, ms

    assert request(server.port, "/off/").header("X-Response-Time") is None


def test_response_time_is_off_by_default(nginx):
    server = nginx("server { listen 127.0.0.1:@PORT@; location / { return 204; } }")
    r = request(server.port, "/")
    assert r.header("X-Response-Time") is None
    assert UUID_V4.match(r.header("X-Request-ID")), "captain_request_id defaults to on"
