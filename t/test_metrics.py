"""captain_metrics_zone, captain_metrics, captain_status and captain_status_token.

Every test runs a real nginx (master + 2 workers, `reuseport` so the new connection of each
`request()` may land on either worker), produces a known request mix, reads the Prometheus text
exposition from the status location and parses it here, so the assertions are on exact numbers.
Counters are updated in nginx's log phase, which runs just after the response went out: the
helpers wait (bounded) until the expected total of a route is visible before comparing.
"""

import http.client
import json
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import request
from test_rate_limit import pipelined, raw_get

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TOKEN = "s3cr3t-T0ken-e7c1d2"

METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER"}
EXACT_STATUSES = {200, 201, 204, 206, 301, 302, 304, 307, 308, 400, 401, 403, 404, 405, 408,
                  409, 413, 422, 429, 499, 500, 502, 503, 504}


# --------------------------------------------------------------------------------------------
# A small parser for the text exposition format 0.0.4


class Exposition:
    def __init__(self, text):
        self.text = text
        self.samples = []  # [(name, {label: value}, float)]
        self.types = {}    # family -> counter/gauge/histogram
        self.helps = {}    # family -> help text
        for number, line in enumerate(text.split("\n"), 1):
            if not line.strip():
                continue
            if line.startswith("#"):
                parts = line.split(" ", 3)
                if len(parts) >= 3 and parts[1] == "TYPE":
                    assert parts[2] not in self.types, f"line {number}: TYPE twice: {line}"
                    self.types[parts[2]] = parts[3]
                elif len(parts) >= 3 and parts[1] == "HELP":
                    self.helps[parts[2]] = parts[3] if len(parts) > 3 else ""
                continue
            self.samples.append(parse_sample(line, number))

    def duplicates(self):
        """Series printed more than once (a scrape with them is not valid exposition)."""
        seen, twice = set(), []
        for name, labels, _ in self.samples:
            key = (name, tuple(sorted(labels.items())))
            if key in seen:
                twice.append(key)
            seen.add(key)
        return twice

    def series(self, name, **match):
        """[(labels, value)] of `name` whose labels include `match`."""
        return [(labels, value) for n, labels, value in self.samples
                if n == name and all(labels.get(k) == v for k, v in match.items())]

    def value(self, name, default=None, **labels):
        """The value of the one series with exactly `labels` (default when absent)."""
        found = [v for n, l, v in self.samples if n == name and l == labels]
        assert len(found) <= 1, f"{name}{labels} printed {len(found)} times"
        return found[0] if found else default

    def requests(self, **match):
        """{(method, status): count} of captain_http_requests_total matching `match`."""
        out = {}
        for labels, value in self.series("captain_http_requests_total", **match):
            key = (labels["method"], labels["status"])
            assert key not in out, f"duplicate series {labels}"
            out[key] = value
        return out

    def histogram(self, name, **labels):
        """({le as float: cumulative count}, sum, count) of one histogram series."""
        buckets = {}
        for l, value in self.series(name + "_bucket", **labels):
            rest = {k: v for k, v in l.items() if k != "le"}
            if rest == labels:
                buckets[float(l["le"])] = value
        return (buckets, self.value(name + "_sum", **labels),
                self.value(name + "_count", **labels))


_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}


def parse_sample(line, number=0):
    m = _NAME.match(line)
    assert m, f"line {number}: no metric name: {line!r}"
    name, pos, labels = m.group(0), m.end(), {}
    if pos < len(line) and line[pos] == "{":
        pos += 1
        while line[pos] != "}":
            m = _LABEL_NAME.match(line, pos)
            assert m, f"line {number}: bad label name at {pos}: {line!r}"
            key, pos = m.group(0), m.end()
            assert line[pos:pos + 2] == '="', f"line {number}: expected =\" at {pos}: {line!r}"
            pos += 2
            value = []
            while line[pos] != '"':
                if line[pos] == "\\":
                    assert line[pos + 1] in _ESCAPES, f"line {number}: bad escape: {line!r}"
                    value.append(_ESCAPES[line[pos + 1]])
                    pos += 2
                else:
                    value.append(line[pos])
                    pos += 1
            pos += 1
            assert key not in labels, f"line {number}: label {key} twice: {line!r}"
            labels[key] = "".join(value)
            if line[pos] == ",":
                pos += 1
        pos += 1
    fields = line[pos:].split()
    assert fields and len(fields) <= 2, f"line {number}: bad value part: {line!r}"
    return name, labels, float(fields[0])


def test_parser_handles_escaped_label_values():
    name, labels, value = parse_sample(r'x_total{a="q\"uo\\te\nnl",b="{,}"} 12')
    assert (name, labels, value) == ("x_total", {"a": 'q"uo\\te\nnl', "b": "{,}"}, 12.0)
    assert parse_sample("up 1 1700000000000") == ("up", {}, 1.0)
    assert parse_sample('h_bucket{le="+Inf"} 3')[1] == {"le": "+Inf"}


# --------------------------------------------------------------------------------------------
# Helpers


def scrape(port, path="/metrics", headers=()):
    r = request(port, path, headers=headers)
    assert r.status == 200, (r.status, r.body[:500])
    assert r.header("Content-Type") == CONTENT_TYPE
    exposition = Exposition(r.body.decode())
    assert exposition.duplicates() == [], "series printed twice"
    for family in exposition.types:
        assert family in exposition.helps, f"{family} has TYPE but no HELP"
    return exposition


def route_total(exposition, **match):
    return sum(v for _, v in exposition.series("captain_http_requests_total", **match))


def scrape_when(port, predicate, path="/metrics", headers=(), timeout=5.0):
    """Scrapes until predicate(exposition) holds (log-phase updates trail the responses)."""
    deadline = time.monotonic() + timeout
    while True:
        exposition = scrape(port, path, headers)
        if predicate(exposition) or time.monotonic() > deadline:
            return exposition
        time.sleep(0.05)


def scrape_totals(port, totals, path="/metrics", headers=()):
    """Scrape once the routes {(server, route): n} show at least n requests each."""
    return scrape_when(port, lambda e: all(route_total(e, server=s, route=r) >= n
                                           for (s, r), n in totals.items()), path, headers)


def send_all(port, jobs, workers=8):
    """jobs: [(method, path, body)] -> responses, each on its own connection, in parallel."""
    def one(job):
        method, path, body = job
        return request(port, path, method=method, body=body)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, jobs))


def raw_method(port, method, path):
    """A request with any method token (http.client sends it as given)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def le_values(exposition, name):
    """Every le label value printed for the histogram `name`."""
    return {labels["le"] for n, labels, _ in exposition.samples if n == name + "_bucket"}


# --------------------------------------------------------------------------------------------
# Counting


def test_request_counts_are_exact_across_both_workers(nginx):
    srv = nginx("""
    captain_metrics_zone name=m size=4m;
    server {
        listen 127.0.0.1:@PORT@ reuseport;
        server_name api.example;
        add_header X-Pid $pid always;
        location /api/ { captain_metrics m; proxy_pass http://@UPSTREAM@/; }
        location /static/ { captain_metrics m route=assets; return 200 "static\\n"; }
        location = /metrics { captain_status; }
    }
""")
    body = b"x" * 100
    jobs = ([("GET", "/api/x", None)] * 37 + [("POST", "/api/status/201", body)] * 5
            + [("GET", "/api/status/404", None)] * 3 + [("GET", "/api/status/418", None)] * 2
            + [("PUT", "/api/x", body)] * 4 + [("DELETE", "/api/status/204", None)]
            + [("GET", "/static/a.css", None)] * 6 + [("HEAD", "/static/b.js", None)] * 2)
    responses = send_all(srv.port, jobs)
    expected_status = ([200] * 37 + [201] * 5 + [404] * 3 + [418] * 2 + [200] * 4 + [204]
                       + [200] * 8)
    assert [r.status for r in responses] == expected_status
    assert {int(r.header("X-Pid")) for r in responses} == set(srv.worker_pids()), \
        "both workers must have served part of the mix"

    e = scrape_totals(srv.port, {("api.example", "/api/"): 52, ("api.example", "assets"): 8})
    assert e.requests(server="api.example", route="/api/") == {
        ("GET", "200"): 37, ("POST", "201"): 5, ("GET", "404"): 3, ("GET", "4xx"): 2,
        ("PUT", "200"): 4, ("DELETE", "204"): 1}
    assert e.requests(server="api.example", route="assets") == {
        ("GET", "200"): 6, ("HEAD", "200"): 2}
    # Nothing else is counted: the status location has no captain_metrics.
    others = [l for l, _ in e.series("captain_http_requests_total")
              if l["route"] not in ("/api/", "assets")]
    assert others == []
    assert e.types["captain_http_requests_total"] == "counter"
    for labels, _ in e.series("captain_http_requests_total"):
        assert set(labels) == {"server", "route", "method", "status"}, labels
        assert labels["method"] in METHODS

    # Response bytes: at least the bodies; the HEADs and GETs of /static/ send known bodies.
    assert e.types["captain_http_response_bytes_total"] == "counter"
    assets_bytes = e.value("captain_http_response_bytes_total", server="api.example",
                           route="assets")
    assert 6 * len(b"static\n") + 8 * 100 < assets_bytes < 8 * 1000, assets_bytes

    # Both workers read the same shared counters; the scrapes themselves are not counted.
    scrapers = set()
    for _ in range(12):
        r = request(srv.port, "/metrics")
        scrapers.add(int(r.header("X-Pid")))
        again = Exposition(r.body.decode())
        assert again.requests(server="api.example", route="/api/") == \
            e.requests(server="api.example", route="/api/")
        assert again.requests(server="api.example", route="assets") == \
            e.requests(server="api.example", route="assets")
        assert [l for l, _ in again.series("captain_http_requests_total")
                if l["route"] not in ("/api/", "assets")] == []
    assert scrapers == set(srv.worker_pids()), "both workers must have answered a scrape"


def test_counts_stay_exact_under_concurrent_load(nginx):
    srv = nginx("""
    captain_metrics_zone name=m size=4m;
    server {
        listen 127.0.0.1:@PORT@ reuseport;
        add_header X-Pid $pid always;
        location /hot/ { captain_metrics m; return 200 "hot\\n"; }
        location = /metrics { captain_status; }
    }
""")
    single = send_all(srv.port, [("GET", "/hot/one", None)] * 40)
    assert {int(r.header("X-Pid")) for r in single} == set(srv.worker_pids())
    statuses = pipelined(srv.port, [raw_get(f"/hot/{i}") for i in range(4000)],
                         connections=16, batch=100)
    assert statuses == [200] * 4000
    total = 4000 + 40
    e = scrape_totals(srv.port, {("_", "/hot/"): total})
    assert e.requests(server="_", route="/hot/") == {("GET", "200"): total}
    buckets, _, count = e.histogram("captain_http_request_duration_seconds",
                                    server="_", route="/hot/")
    assert count == total and buckets[float("inf")] == total


def test_label_values_are_escaped(nginx):
    srv = nginx(r"""
    captain_metrics_zone name=m size=4m;
    server {
        listen 127.0.0.1:@PORT@ reuseport;
        location /odd/ { captain_metrics m "route=q\"uo\\te\nline"; return 200; }
        location = /metrics { captain_status; }
    }
""")
    assert request(srv.port, "/odd/").status == 200
    e = scrape_totals(srv.port, {("_", 'q"uo\\te\nline'): 1})
    assert e.requests(server="_", route='q"uo\\te\nline') == {("GET", "200"): 1}
    assert r'route="q\"uo\\te\nline"' in e.text


def test_response_bytes_equal_bytes_sent(nginx):
    srv = nginx("""
    captain_metrics_zone name=m size=4m;
    log_format sent "$uri $bytes_sent";
    server {
        listen 127.0.0.1:@PORT@ reuseport;
        access_log @DIR@/sent.log sent;
        location /api/ { captain_metrics m; proxy_pass http://@UPSTREAM@/; }
        location /gif/ { captain_metrics m; empty_gif; }
        location = /metrics { captain_status; }
    }
""")
    jobs = ([("GET", "/api/x?set=X-Extra:" + "v" * 300, None)] * 5
            + [("HEAD", "/api/y", None)] * 2 + [("GET", "/api/status/404", None)] * 3
            + [("GET", "/gif/1", None)] * 4)
    send_all(srv.port, jobs)
    e = scrape_totals(srv.port, {("_", "/api/"): 10, ("_", "/gif/"): 4})
    srv.stop()
    sent = {"/api/": 0, "/gif/": 0}
    for line in (srv.dir / "sent.log").read_text().splitlines():
        uri, count = line.split()
        for prefix in sent:
            if uri.startswith(prefix):
                sent[prefix] += int(count)
    for route, expected in sent.items():
        assert e.value("captain_http_response_bytes_total", server="_", route=route) == \
            expected, (route, sent)


def test_build_info_and_connection_gauges(nginx):
    srv = nginx("""
    captain_metrics_zone name=m size=4m;
    server {
        listen 127.0.0.1:@PORT@ reuseport;
        location = /metrics { captain_status; }
    }
""")
    idle = [socket.create_connection(("127.0.0.1", srv.port)) for _ in range(3)]
    try:
        idle[0].sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # a request still being read
        # Until the workers accepted all three (under load that can trail the connect).
        e = scrape_when(srv.port, lambda e: (
            e.value("captain_http_connections", state="reading") == 1
            and e.value("captain_http_connections", state="active") >= 4))
    finally:
        for sock in idle:
            sock.close()
    [(labels, value)] = e.series("captain_build_info")
    assert value == 1 and labels["nginx"] == "1.22.1" and labels["version"], labels
    assert e.types["captain_build_info"] == "gauge"
    assert e.types["captain_http_connections"] == "gauge"
    states = {l["state"]: v for l, v in e.series("captain_http_connections")}
    assert set(states) == {"active", "reading", "writing", "waiting"}, states
    assert states["reading"] == 1, states
    assert states["writing"] >= 1, "the scrape itself"
    assert states["active"] >= 4, states
    assert states["active"] >= states["reading"] + states["writing"], states


# --------------------------------------------------------------------------------------------
# Histograms


def assert_histogram_consistent(buckets, total, count):
    bounds = sorted(buckets)
    assert bounds[-1] == float("inf"), bounds
    values = [buckets[b] for b in bounds]
    assert values == sorted(values), f"buckets not cumulative: {buckets}"
    assert buckets[float("inf")] == count, (buckets, count)
    assert total >= 0


def test_histograms_are_cumulative_and_count_only_their_requests(nginx):
    srv = nginx("""
    captain_metrics_zone name=m size=4m buckets=0.05 0.25 0.5 1 7.5;
    server {
        listen 127.0.0.1:@PORT@ reuseport;
        server_name h.example;
        location /api/ {
            captain_metrics m;
            client_max_body_size 10;
            proxy_pass http://@UPSTREAM@/;
        }
        location = /metrics { captain_status; }
    }
""")
    fast = [request(srv.port, "/api/fast").status for _ in range(5)]
    # Rejected before any upstream is asked: 413 from the location's client_max_body_size.
    too_big = [request(srv.port, "/api/up", method="POST", body=b"y" * 200).status
               for _ in range(2)]
    started = time.monotonic()
    slow = request(srv.port, "/api/slow/0.3")
    slow_seconds = time.monotonic() - started
    assert fast == [200] * 5 and too_big == [413] * 2 and slow.status == 200
    assert slow_seconds < 0.5, "the machine is too slow for this test's bucket choice"

    e = scrape_totals(srv.port, {("h.example", "/api/"): 8})
    assert e.requests(server="h.example", route="/api/") == {("GET", "200"): 6,
                                                              ("POST", "413"): 2}

    name = "captain_http_request_duration_seconds"
    assert e.types[name] == "histogram"
    assert le_values(e, name) >= {"0.05", "0.25", "0.5", "1", "7.5", "+Inf"}
    buckets, total, count = e.histogram(name, server="h.example", route="/api/")
    assert set(buckets) == {0.05, 0.25, 0.5, 1.0, 7.5, float("inf")}
    assert_histogram_consistent(buckets, total, count)
    assert count == 8, "_count is every request of the route"
    assert buckets[0.25] == 7 and buckets[0.5] == 8, f"the 0.3 s request: {buckets}"
    assert 0.3 <= total < 0.3 + 7 * 0.25, total

    name = "captain_http_upstream_response_seconds"
    assert e.types[name] == "histogram"
    buckets, total, count = e.histogram(name, server="h.example", route="/api/")
    assert set(buckets) == {0.05, 0.25, 0.5, 1.0, 7.5, float("inf")}
    assert_histogram_consistent(buckets, total, count)
    assert count == 6, "only the proxied requests, not the two 413s"
    assert buckets[0.25] == 5 and buckets[0.5] == 6, buckets
    assert 0.3 <= total < 0.3 + 5 * 0.25, total


def test_default_buckets(nginx):
    srv = nginx("""
    captain_metrics_zone name=m size=4m;
    server {
        listen 127.0.0.1:@PORT@ reuseport;
        location / { captain_metrics m; return 200; }
        location = /metrics { captain_status; }
    }
""")
    assert request(srv.port, "/").status == 200
    e = scrape_totals(srv.port, {("_", "/"): 1})
    buckets, total, count = e.histogram("captain_http_request_duration_seconds",
                                        server="_", route="/")
    assert sorted(buckets) == [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
                               float("inf")]
    assert_histogram_consistent(buckets, total, count)
    assert count == 1
    # No upstream was asked: no upstream histogram series for the route, or an empty one.
    _, _, upstream_count = e.histogram("captain_http_upstream_response_seconds",
                                       server="_", route="/")
    assert upstream_count in (None, 0)


# --------------------------------------------------------------------------------------------
# Labels


def test_status_classes_and_methods(nginx):
    srv = nginx("""
    captain_metrics_zone name=m size=4m;
    server {
        listen 127.0.0.1:@PORT@ reuseport;
        server_name s.example;
        location /up/ { captain_metrics m; proxy_pass http://@UPSTREAM@/; }
        location /any/ { captain_metrics m; return 200 "any\\n"; }
        location = /metrics { captain_status; }
    }
""")
    codes = {202: "2xx", 303: "3xx", 418: "4xx", 507: "5xx", 500: "500", 503: "503",
             429: "429", 301: "301", 206: "206", 422: "422", 451: "4xx"}
    for code in codes:
        assert request(srv.port, f"/up/status/{code}").status == code
    for method in ("BREW", "PROPFIND", "PATCH", "OPTIONS", "HEAD", "PROPFIND"):
        assert raw_method(srv.port, method, "/any/x") == 200

    e = scrape_totals(srv.port, {("s.example", "/up/"): len(codes),
                                 ("s.example", "/any/"): 6})
    expected = {}
    for label in codes.values():
        expected[("GET", label)] = expected.get(("GET", label), 0) + 1
    assert e.requests(server="s.example", route="/up/") == expected
    assert e.requests(server="s.example", route="/any/") == {
        ("OTHER", "200"): 3, ("PATCH", "200"): 1, ("OPTIONS", "200"): 1, ("HEAD", "200"): 1}
    for labels, _ in e.series("captain_http_requests_total"):
        status = labels["status"]
        assert (status.isdigit() and int(status) in EXACT_STATUSES) or \
            re.fullmatch(r"[1-5]xx", status), labels


def test_route_and_server_labels(nginx):
    srv = nginx("""
    captain_metrics_zone name=m size=4m;
    server {
        listen 127.0.0.1:@PORT@ reuseport;
        server_name a.example www.a.example;
        captain_metrics m;
        location /api/ { return 200; }
        location = /exact { return 200; }
        location ^~ /pre/ { return 200; }
        location ~ ^/v[0-9]+/ { return 200; }
        location /img/ { captain_metrics m route=assets; return 200; }
        location /quiet/ { captain_metrics off; return 200; }
        location = /metrics { captain_metrics off; captain_status; }
    }
    server {
        listen 127.0.0.1:@PORT@;
        server_name b.example;
        location / { captain_metrics m route=b-root; return 200; }
    }
""")

    def get(path, host):
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        try:
            conn.putrequest("GET", path, skip_host=True)
            conn.putheader("Host", host)
            conn.endheaders()
            resp = conn.getresponse()
            resp.read()
            return resp.status
        finally:
            conn.close()

    assert get("/api/1", "a.example") == 200
    assert get("/api/2", "www.a.example") == 200, "an alias still counts as the first name"
    assert get("/exact", "a.example") == 200
    assert get("/pre/z", "a.example") == 200
    assert get("/v2/items", "a.example") == 200
    assert get("/img/logo.png", "a.example") == 200
    assert get("/quiet/1", "a.example") == 200
    # No location matches: nginx's static handler answers from the server's config (a 404, or
    # a 403 when the prefix is not readable by the worker user).
    unmatched = get("/nothing-matches", "a.example")
    assert unmatched in (403, 404)
    assert get("/", "b.example") == 200
    assert get("/x/1", "unknown.example") == unmatched, "the default server is the first one"

    e = scrape_when(srv.port, lambda e: route_total(e) >= 9)
    got = {(l["server"], l["route"], l["method"], l["status"]): v
           for l, v in e.series("captain_http_requests_total")}
    assert got == {
        ("a.example", "/api/", "GET", "200"): 2,
        ("a.example", "/exact", "GET", "200"): 1,
        ("a.example", "/pre/", "GET", "200"): 1,
        ("a.example", "^/v[0-9]+/", "GET", "200"): 1,
        ("a.example", "assets", "GET", "200"): 1,
        ("a.example", "_", "GET", str(unmatched)): 2,  # no location matched: server level
        ("b.example", "b-root", "GET", "200"): 1,
    }, got


def test_server_without_server_name_is_underscore_and_http_level_is_inherited(nginx):
    srv = nginx("""
    captain_metrics_zone name=m size=4m;
    captain_metrics m;
    server {
        listen 127.0.0.1:@PORT@ reuseport;
        location /x/ { return 200; }
        location = /metrics { captain_metrics off; captain_status; }
    }
""")
    assert request(srv.port, "/x/1").status == 200
    e = scrape_totals(srv.port, {("_", "/x/"): 1})
    assert e.requests(server="_", route="/x/") == {("GET", "200"): 1}


def test_status_location_is_counted_only_with_captain_metrics(nginx):
    srv = nginx("""
    captain_metrics_zone name=m size=4m;
    server {
        listen 127.0.0.1:@PORT@ reuseport;
        location = /metrics { captain_metrics m; captain_status; }
        location = /quiet-metrics { captain_status; }
    }
""")
    for _ in range(3):
        scrape(srv.port, "/quiet-metrics")
    for _ in range(2):
        scrape(srv.port)
    e = scrape_when(srv.port, lambda e: route_total(e, route="/metrics") >= 2,
                    path="/quiet-metrics")
    assert e.requests(server="_", route="/metrics") == {("GET", "200"): 2}
    assert [l for l, _ in e.series("captain_http_requests_total")
            if l["route"] != "/metrics"] == []


def test_client_that_gives_up_is_counted_as_499(nginx):
    srv = nginx("""
    captain_metrics_zone name=m size=4m;
    server {
        listen 127.0.0.1:@PORT@ reuseport;
        location /api/ { captain_metrics m; proxy_pass http://@UPSTREAM@/; }
        location = /metrics { captain_status; }
    }
""")
    with pytest.raises(OSError):  # socket.timeout is an OSError
        request(srv.port, "/api/slow/2", timeout=0.3)
    e = scrape_when(srv.port, lambda e: route_total(e, route="/api/") >= 1, timeout=10)
    assert e.requests(server="_", route="/api/") == {("GET", "499"): 1}


# --------------------------------------------------------------------------------------------
# Access to the status location


def test_status_token_is_required_and_never_logged(nginx):
    srv = nginx(f"""
    captain_metrics_zone name=m size=4m;
    server {{
        listen 127.0.0.1:@PORT@ reuseport;
        location / {{ captain_metrics m; return 200; }}
        location = /metrics {{ captain_status; captain_status_token {TOKEN}; }}
    }}
""")
    assert request(srv.port, "/").status == 200
    for headers in ([], [("Authorization", "Bearer wrong")],
                    [("Authorization", f"Bearer {TOKEN}x")],
                    [("Authorization", f"Bearer {TOKEN[:-1]}")],
                    [("Authorization", f"Basic {TOKEN}")],
                    [("Authorization", TOKEN)]):
        r = request(srv.port, "/metrics", headers=headers)
        assert r.status == 401, (headers, r.status)
        assert (r.header("WWW-Authenticate") or "").startswith("Bearer"), r.headers
        assert b"captain_http_requests_total" not in r.body

    auth = [("Authorization", f"Bearer {TOKEN}")]
    e = scrape_totals(srv.port, {("_", "/"): 1}, headers=auth)
    assert e.requests(server="_", route="/") == {("GET", "200"): 1}
    srv.stop()
    assert TOKEN not in srv.error_log()
    assert TOKEN not in srv.access_log()


def test_allow_and_deny_guard_the_status_location(nginx):
    srv = nginx("""
    captain_metrics_zone name=m size=4m;
    server {
        listen 127.0.0.1:@PORT@ reuseport;
        location = /metrics { allow 127.0.0.1; deny all; captain_status; }
        location = /closed { deny all; captain_status; }
    }
""")
    r = request(srv.port, "/metrics")
    assert r.status == 200 and b"captain_build_info" in r.body
    r = request(srv.port, "/closed")
    assert r.status == 403
    assert b"captain_build_info" not in r.body


# --------------------------------------------------------------------------------------------
# Reload


def test_reload_keeps_counters_and_a_new_route_starts_at_zero(nginx):
    conf = """
    captain_metrics_zone name=m size=4m buckets=0.1 1;
    server {
        listen 127.0.0.1:@PORT@ reuseport;
        location /a/ { captain_metrics m; return 200; }
        location /b/ { captain_metrics m; return 204; }
        location = /metrics { captain_status; }
    }
"""
    srv = nginx(conf)
    for _ in range(3):
        assert request(srv.port, "/a/").status == 200
    for _ in range(2):
        assert request(srv.port, "/b/").status == 204
    before = scrape_totals(srv.port, {("_", "/a/"): 3, ("_", "/b/"): 2})
    assert before.requests(route="/a/") == {("GET", "200"): 3}
    assert before.requests(route="/b/") == {("GET", "204"): 2}

    srv.reload()
    after = scrape(srv.port)
    assert after.requests(route="/a/") == {("GET", "200"): 3}
    assert after.requests(route="/b/") == {("GET", "204"): 2}
    assert after.histogram("captain_http_request_duration_seconds", server="_", route="/a/") \
        == before.histogram("captain_http_request_duration_seconds", server="_", route="/a/")
    assert request(srv.port, "/a/").status == 200
    after = scrape_totals(srv.port, {("_", "/a/"): 4})
    assert after.requests(route="/a/") == {("GET", "200"): 4}

    # A new location: the old routes keep their counts, the new one starts from nothing.
    text = srv.conf.read_text().replace(
        "location = /metrics", "location /c/ { captain_metrics m; return 200; }\n"
        "        location = /metrics")
    srv.conf.write_text(text)
    srv.reload()
    e = scrape(srv.port)
    assert e.requests(route="/a/") == {("GET", "200"): 4}
    assert e.requests(route="/b/") == {("GET", "204"): 2}
    assert e.requests(route="/c/") == {}
    assert request(srv.port, "/c/").status == 200
    e = scrape_totals(srv.port, {("_", "/c/"): 1})
    assert e.requests(route="/c/") == {("GET", "200"): 1}
    assert e.requests(route="/a/") == {("GET", "200"): 4}

    # Removing a location keeps the routes that still exist.
    srv.conf.write_text(text.replace("location /b/ { captain_metrics m; return 204; }", ""))
    srv.reload()
    e = scrape(srv.port)
    assert e.requests(route="/a/") == {("GET", "200"): 4}
    assert e.requests(route="/c/") == {("GET", "200"): 1}
    assert "[emerg]" not in srv.error_log()


def test_request_in_flight_during_a_reload_counts_to_its_route(nginx):
    srv = nginx("""
    captain_metrics_zone name=m size=4m;
    server {
        listen 127.0.0.1:@PORT@ reuseport;
        location /b/ { captain_metrics m; proxy_pass http://@UPSTREAM@/; }
        location /a/ { captain_metrics m; proxy_pass http://@UPSTREAM@/; }
        location = /metrics { captain_status; }
    }
""")
    results = []
    slow = threading.Thread(target=lambda: results.append(request(srv.port, "/a/slow/1.5")))
    slow.start()
    time.sleep(0.4)
    # New routes ahead of /a/, /b/ gone: the old worker finishing the slow request must still
    # count it for /a/, not for whatever route the new configuration lists at its place.
    srv.conf.write_text(srv.conf.read_text().replace(
        "location /b/ { captain_metrics m; proxy_pass http://@UPSTREAM@/; }",
        "location /new1/ { captain_metrics m; return 200; }\n"
        "        location /new2/ { captain_metrics m; return 200; }"))
    srv.reload()
    slow.join(timeout=10)
    assert [r.status for r in results] == [200]
    e = scrape_totals(srv.port, {("_", "/a/"): 1})
    assert e.requests(route="/a/") == {("GET", "200"): 1}
    assert route_total(e) == 1, e.text
    _, _, count = e.histogram("captain_http_upstream_response_seconds", server="_", route="/a/")
    assert count == 1


# --------------------------------------------------------------------------------------------
# Rate-limit series


def test_rate_limit_series(nginx):
    srv = nginx("""
    captain_metrics_zone name=m size=4m;
    captain_limit_zone name=api size=1m key=$binary_remote_addr rate=2r/h;
    captain_limit_zone name=idle size=1m key=$binary_remote_addr rate=5r/m;
    server {
        listen 127.0.0.1:@PORT@ reuseport;
        location / { captain_limit api; captain_metrics m; empty_gif; }
        location = /metrics { captain_status; }
    }
""")
    assert [request(srv.port, "/").status for _ in range(3)] == [200, 200, 429]
    e = scrape_totals(srv.port, {("_", "/"): 3})
    assert e.requests(route="/") == {("GET", "200"): 2, ("GET", "429"): 1}

    assert e.types["captain_ratelimit_requests_total"] == "counter"
    assert e.types["captain_ratelimit_keys"] == "gauge"
    assert e.types["captain_ratelimit_evictions_total"] == "counter"
    decisions = {l["decision"]: v for l, v in e.series("captain_ratelimit_requests_total",
                                                       zone="api")}
    assert set(decisions) <= {"passed", "rejected", "dry_run", "bypass"}, decisions
    assert decisions.get("passed") == 2 and decisions.get("rejected") == 1, decisions
    assert decisions.get("dry_run", 0) == 0 and decisions.get("bypass", 0) == 0
    assert e.value("captain_ratelimit_keys", zone="api") == 1
    assert e.value("captain_ratelimit_evictions_total", zone="api") == 0
    # Every zone is listed, also one no request used.
    assert e.value("captain_ratelimit_keys", zone="idle") == 0
    assert sum(v for _, v in e.series("captain_ratelimit_requests_total", zone="idle")) == 0


# --------------------------------------------------------------------------------------------
# Configuration errors


def metrics_server(http_directives, location_directives="return 200;"):
    return f"""
    {http_directives}
    server {{
        listen 127.0.0.1:@PORT@;
        location / {{ {location_directives} }}
    }}
"""


@pytest.mark.parametrize("conf, tokens", [
    (metrics_server("captain_metrics_zone name=m size=4m;", "captain_metrics nope; return 200;"),
     ['"captain_metrics"', '"nope"']),
    (metrics_server("captain_metrics_zone name=m size=4m;",
                    "captain_metrics m path=/x; return 200;"),
     ['"captain_metrics"', '"path=/x"']),
    (metrics_server("captain_metrics_zone name=m size=4m buckets=0.5 0.1;"),
     ['"captain_metrics_zone"', '"0.1"', "increasing"]),
    (metrics_server("captain_metrics_zone name=m size=4m buckets=0.1 abc;"),
     ['"captain_metrics_zone"', '"abc"']),
    (metrics_server("captain_metrics_zone name=m size=4m buckets=-1 0.5;"),
     ['"captain_metrics_zone"', '"-1"']),
    (metrics_server("captain_metrics_zone name=m size=4m buckets=0.1 0.1;"),
     ['"captain_metrics_zone"', '"0.1"', "increasing"]),
    (metrics_server("captain_metrics_zone size=4m;"),
     ['"captain_metrics_zone"', "name="]),
    (metrics_server("captain_metrics_zone name=m;"),
     ['"captain_metrics_zone"', "size="]),
    (metrics_server("captain_metrics_zone name=m size=lots;"),
     ['"captain_metrics_zone"', '"lots"']),
    (metrics_server("captain_metrics_zone name=m size=4m bogus=1;"),
     ['"captain_metrics_zone"', '"bogus=1"']),
    (metrics_server("captain_metrics_zone name=m size=4m; captain_metrics_zone name=m size=1m;"),
     ["captain_metrics_zone", '"m"', "duplicate"]),
    (metrics_server("captain_metrics_zone name=m size=4m;",
                    'captain_status; captain_status_token "";'),
     ['"captain_status_token"', '""']),
    (metrics_server("captain_metrics_zone name=m size=4m;",
                    "captain_metrics m; captain_metrics m; return 200;"),
     ['"captain_metrics" directive is duplicate']),
    (metrics_server("captain_metrics_zone name=m size=4m; captain_status_token abc;"),
     ['"captain_status_token" directive is not allowed here']),
])
def test_bad_arguments_are_rejected_by_nginx_t(nginx_config, conf, tokens):
    server = nginx_config(conf)
    code, output = server.test_config()
    assert code != 0, output
    assert "[emerg]" in output and "nginx.conf:" in output, output
    for token in tokens:
        assert token in output, (token, output)


def test_metrics_zone_outside_http_is_rejected(nginx_config):
    server = nginx_config("server { listen 127.0.0.1:@PORT@; }")
    conf = server.conf.read_text().replace("events {",
                                           "captain_metrics_zone name=m size=4m;\nevents {")
    server.conf.write_text(conf)
    code, output = server.test_config()
    assert code != 0
    assert '"captain_metrics_zone" directive is not allowed here' in output, output


def test_metrics_zone_in_server_is_rejected(nginx_config):
    server = nginx_config("""
    server {
        listen 127.0.0.1:@PORT@;
        captain_metrics_zone name=m size=4m;
    }
""")
    code, output = server.test_config()
    assert code != 0
    assert '"captain_metrics_zone" directive is not allowed here' in output, output


def test_good_metrics_configuration_passes(nginx_config):
    server = nginx_config("""
    captain_metrics_zone name=m size=4m buckets=0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10;
    captain_metrics m;
    server {
        listen 127.0.0.1:@PORT@;
        captain_metrics m route=site;
        location / { return 200; }
        location /off/ { captain_metrics off; return 200; }
        location = /metrics { captain_status; captain_status_token abc; }
    }
""")
    code, output = server.test_config()
    assert code == 0, output
    assert "[warn]" not in output, output


def test_one_route_in_two_zones_is_refused(nginx_config):
    # The series carry no zone label: the same server and route in two zones would come out
    # as two identical series, so the configuration is refused instead.
    srv = nginx_config("""
    captain_metrics_zone name=m size=4m;
    captain_metrics_zone name=m2 size=1m;
    server {
        listen 127.0.0.1:@PORT@ reuseport;
        location /a/ { captain_metrics m route=shared; return 200; }
        location /b/ { captain_metrics m2 route=shared; return 200; }
        location = /metrics { captain_status; }
    }
""")
    code, output = srv.test_config()
    assert code != 0, output
    assert 'route "shared" of server "_" is already counted in captain_metrics_zone "m"' \
        in output, output
    assert "nginx.conf:" in output, output


def test_json_status_carries_the_same_numbers_as_prometheus(nginx):
    srv = nginx("""
    captain_metrics_zone name=m size=4m buckets=0.005 0.1 1;
    captain_limit_zone name=api size=1m key=$binary_remote_addr rate=2r/h;
    server {
        listen 127.0.0.1:@PORT@ reuseport;
        server_name app.test;
        location /api/ { captain_metrics m; captain_limit api; proxy_pass http://@UPSTREAM@; }
        location = /metrics { captain_status; }
        location = /status.json { captain_status json; }
    }
""")
    codes = [request(srv.port, "/api/x").status for _ in range(3)]
    assert codes == [200, 200, 429]
    prom = scrape_totals(srv.port, {("app.test", "/api/"): 3})

    r = request(srv.port, "/status.json")
    assert r.status == 200
    assert r.header("Content-Type") == "application/json"
    data = json.loads(r.body)
    assert data["build"]["nginx"] == "1.22.1"
    [route] = [x for x in data["routes"] if x["route"] == "/api/"]
    assert (route["zone"], route["server"]) == ("m", "app.test")
    assert {(x["method"], x["status"]): x["count"] for x in route["requests"]} == \
        prom.requests(server="app.test", route="/api/") == {("GET", "200"): 2, ("GET", "429"): 1}
    buckets, total_sum, count = prom.histogram("captain_http_request_duration_seconds",
                                                server="app.test", route="/api/")
    duration = route["request_duration_seconds"]
    assert [b["le"] for b in duration["buckets"]] == ["0.005", "0.1", "1", "+Inf"]
    assert {float(b["le"]): b["count"] for b in duration["buckets"]} == buckets
    assert duration["count"] == count == 3
    assert route["upstream_response_seconds"]["count"] == 2
    [limit] = data["ratelimit"]
    assert limit["zone"] == "api"
    assert limit["decisions"] == {"passed": 2, "rejected": 1, "dry_run": 0, "bypass": 0}
    assert limit["keys"] == 1 and limit["evictions"] == 0


def test_status_format_must_be_prometheus_or_json(nginx_config):
    srv = nginx_config("""
    server { listen 127.0.0.1:@PORT@; location = /s { captain_status xml; } }
""")
    code, output = srv.test_config()
    assert code != 0
    assert 'invalid format "xml" in "captain_status" directive' in output, output
