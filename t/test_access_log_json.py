"""The JSON access log (README: Access logs (JSON)) written by real nginx with the module.

The format under test is the one that ships: taken from conf/captain.conf, which must carry the
same text as the nginx.conf the controller renders (every golden tree). Each test sends
requests, then reads the log back and parses every line with json.loads on the raw bytes
(strict UTF-8), so a line that is not valid JSON, or a number nginx left empty or zero-padded,
fails the test.
"""

import json
import re
import socket
import threading
import time

import pytest

from conftest import REPO, request, wait_until

CAPTAIN_CONF = REPO / "conf" / "captain.conf"
GOLDEN = REPO / "tests" / "unit" / "controller" / "golden" / "nginx"

FIELDS = ["time", "unix_time", "request_id", "trace_id", "span_id", "client", "method", "host",
          "path", "protocol", "status", "bytes", "duration", "upstream_time", "rate_limit",
          "cache", "user_agent", "referer"]
NUMBERS = {"unix_time", "status", "bytes", "duration"}

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
ISO8601 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")
SECONDS = re.compile(r"^\d+\.\d{3}$")  # one upstream's time as nginx writes it


def shipped_format(text):
    """The lines from `map $status $captain_log_status` to the end of `log_format captain_json`,
    each stripped (the controller indents them, conf/captain.conf does not)."""
    lines = [line.strip() for line in text.splitlines()]
    assert "map $status $captain_log_status {" in lines, "no captain_json format"
    start = lines.index("map $status $captain_log_status {")
    end = next(i for i in range(start, len(lines))
               if lines[i].endswith("';") and any(
                   line.startswith("log_format captain_json ") for line in lines[start:i + 1]))
    return lines[start:end + 1]


FORMAT = "\n".join(shipped_format(CAPTAIN_CONF.read_text()))


def test_the_controller_and_the_example_ship_the_same_format():
    assert FORMAT.startswith("map $status") and "escape=json" in FORMAT
    goldens = sorted(GOLDEN.glob("*/nginx.conf"))
    assert goldens
    for golden in goldens:
        text = golden.read_text()
        assert shipped_format(text) == FORMAT.split("\n"), golden
        assert re.search(r"^\s*access_log \S+ captain_json;$", text, re.M), golden
    assert re.search(r"^\s*access_log \S+ captain_json;$",
                     (REPO / "conf" / "nginx.conf").read_text(), re.M)
    # Every field is in the format once, in the documented order.
    assert re.findall(r'"([a-z_]+)":', FORMAT) == FIELDS


class OddUpstream:
    """Answers each request with the next status line of `statuses` (raw, so "050" and "000",
    which nginx passes through and writes to $status zero-padded)."""

    def __init__(self, statuses):
        self.statuses = list(statuses)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        for status in self.statuses:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 " + status + b" Odd\r\nContent-Length: 2\r\n"
                             b"Connection: close\r\n\r\nok")

    def close(self):
        self.sock.close()


@pytest.fixture
def odd_upstream():
    upstream = OddUpstream([b"050", b"000"])
    yield upstream
    upstream.close()


@pytest.fixture
def server(nginx, odd_upstream):
    return nginx(f"""
    captain_request_id on;
    captain_trace on;
{FORMAT}
    captain_limit_zone name=one size=1m key=$binary_remote_addr rate=1r/h;
    captain_cache_zone name=c size=4m;
    server {{
        listen 127.0.0.1:@PORT@;
        access_log @DIR@/json.log captain_json;
        location / {{ proxy_pass http://@UPSTREAM@; }}
        location /limited/ {{ captain_limit one; empty_gif; }}
        location /cached/ {{ captain_cache c; proxy_pass http://@UPSTREAM@; }}
        location /odd/ {{ proxy_pass http://127.0.0.1:{odd_upstream.port}; }}
        location /esc/ {{ return 200 "ok\\n"; }}
    }}
""")


def log_records(srv, count):
    """The first `count` lines of the JSON log, each parsed (waits until nginx wrote them)."""
    path = srv.dir / "json.log"
    wait_until(lambda: path.exists() and path.read_bytes().count(b"\n") >= count,
               f"{count} access log lines")
    lines = path.read_bytes().splitlines()
    assert len(lines) == count, lines
    records = []
    for line in lines:
        record = json.loads(line)  # bytes: strict UTF-8, as log shippers read them
        assert list(record) == FIELDS, line
        for field in NUMBERS:
            assert type(record[field]) in (int, float) and not isinstance(record[field], bool), \
                (field, line)
        for field in set(FIELDS) - NUMBERS:
            assert isinstance(record[field], str), (field, line)
        assert type(record["status"]) is int and type(record["bytes"]) is int, line
        records.append(record)
    return records


def raw_request(port, data):
    """Sends bytes exactly as given (http.client refuses non-ASCII request lines); returns the
    status code nginx answered."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        received = b""
        while chunk := s.recv(65536):
            received += chunk
    return int(received.split(b" ", 2)[1])


def test_a_proxied_request_continues_the_callers_trace(server):
    started = time.time()
    r = request(server.port, "/api/items?token=s3cret&x=1",
                headers=[("traceparent", f"00-{TRACE_ID}-{PARENT_ID}-01"),
                         ("User-Agent", "probe/1.0"), ("Referer", "https://from.example/")])
    assert r.status == 200
    failed = request(server.port, "/status/503", method="POST", body=b"{}")
    assert failed.status == 503
    ok, error = log_records(server, 2)

    assert ISO8601.match(ok["time"]), ok
    assert started - 1 <= ok["unix_time"] <= time.time() + 1
    assert ok["request_id"] == r.header("X-Request-ID")
    assert ok["trace_id"] == TRACE_ID
    assert r.header("traceparent") == f"00-{TRACE_ID}-{ok['span_id']}-01"
    assert re.fullmatch(r"[0-9a-f]{16}", ok["span_id"]) and ok["span_id"] != PARENT_ID
    assert ok["client"] == "127.0.0.1"
    assert (ok["method"], ok["host"], ok["protocol"]) == ("GET", "127.0.0.1", "HTTP/1.1")
    assert ok["path"] == "/api/items"  # the query string (and its token) is not logged
    assert b"s3cret" not in (server.dir / "json.log").read_bytes()
    assert ok["status"] == 200
    assert ok["bytes"] == len(r.body)
    assert 0 <= ok["duration"] < 10
    assert SECONDS.match(ok["upstream_time"]), ok
    assert (ok["rate_limit"], ok["cache"]) == ("", "")  # neither applies to this location
    assert (ok["user_agent"], ok["referer"]) == ("probe/1.0", "https://from.example/")

    assert (error["method"], error["path"], error["status"]) == ("POST", "/status/503", 503)
    assert error["trace_id"] != TRACE_ID and error["request_id"] != ok["request_id"]
    assert error["bytes"] == len(failed.body)


def test_rate_limit_and_cache_decisions(server):
    assert [request(server.port, "/limited/").status for _ in range(2)] == [200, 429]
    first, second = (request(server.port, "/cached/page") for _ in range(2))
    assert (first.header("X-Cache"), second.header("X-Cache")) == ("MISS", "HIT")
    passed, rejected, miss, hit = log_records(server, 4)
    assert (passed["status"], passed["rate_limit"], passed["upstream_time"]) == (200, "PASSED", "")
    assert (rejected["status"], rejected["rate_limit"]) == (429, "REJECTED")
    assert (miss["cache"], miss["status"]) == ("MISS", 200)
    assert SECONDS.match(miss["upstream_time"]), miss
    assert (hit["cache"], hit["status"], hit["upstream_time"]) == ("HIT", 200, "")
    assert hit["bytes"] == miss["bytes"] == len(second.body)
    assert passed["cache"] == miss["rate_limit"] == ""


def test_quotes_backslashes_utf8_and_control_bytes_are_escaped(server):
    user_agent = 'agent "quoted" \\ back é \x01 \x1b \t \x7f'
    status = raw_request(server.port,
                         b'GET /esc/"q"\\b\xc3\xa9%01%22?a="b" HTTP/1.1\r\nHost: esc.example\r\n'
                         b"User-Agent: " + user_agent.encode() + b"\r\n"
                         b'Referer: http://x/"\\\r\nConnection: close\r\n\r\n')
    assert status == 200
    # A control byte in the request line itself: nginx answers 400 with no method or path.
    assert raw_request(server.port, b"GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n") == 400
    escaped, bad = log_records(server, 2)
    assert escaped["path"] == '/esc/"q"\\bé%01%22'  # as sent: not decoded, no query
    assert escaped["host"] == "esc.example"
    assert escaped["user_agent"] == user_agent
    assert escaped["referer"] == 'http://x/"\\'
    line = (server.dir / "json.log").read_bytes().splitlines()[0]
    assert b"\\u0001" in line and b"\\t" in line and "é".encode() in line  # UTF-8 stays as is
    assert (bad["status"], bad["method"], bad["path"]) == (400, "", "")


def test_the_status_is_a_number_when_nginx_zero_pads_it(server):
    """An upstream's status line "050" or "000" reaches $status as sent; the log writes 50
    and 0, since JSON numbers have no leading zeros."""
    assert [raw_request(server.port, b"GET /odd/ HTTP/1.1\r\nHost: x\r\nConnection: close"
                        b"\r\n\r\n") for _ in range(2)] == [50, 0]
    fifty, zero = log_records(server, 2)
    assert (fifty["status"], zero["status"]) == (50, 0)
    assert b'"status":050' not in (server.dir / "json.log").read_bytes()


def test_bytes_that_are_not_utf8_are_logged_as_sent(server):
    """nginx's escape=json escapes quotes, backslashes and bytes below 0x20 only, so a client
    that sends bytes that are not UTF-8 gets them into the line unchanged (README: Access logs
    (JSON)): the line is JSON once read with surrogateescape, and the bytes round-trip."""
    assert raw_request(server.port, b"GET /esc/\xff\xfe HTTP/1.1\r\nHost: x\r\n"
                       b"Connection: close\r\n\r\n") == 200
    path = server.dir / "json.log"
    wait_until(lambda: path.exists() and path.read_bytes().endswith(b"\n"), "the log line")
    line = path.read_bytes().splitlines()[0]
    with pytest.raises(UnicodeDecodeError):
        line.decode()
    record = json.loads(line.decode(errors="surrogateescape"))
    assert record["path"].encode(errors="surrogateescape") == b"/esc/\xff\xfe"
