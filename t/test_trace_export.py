"""captain_trace_export: one SERVER span per sampled request, shipped as OTLP/HTTP (JSON) by
each worker's export thread to a real receiver on loopback (t/otlp_receiver.py)."""

import re
import signal
import subprocess
import time

import pytest

from conftest import echoed, request
from otlp_receiver import OtlpReceiver

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


def conf(endpoint, export_args="batch=8 interval=200ms", extra=""):
    return f"""
    captain_trace on;
    captain_trace_export endpoint={endpoint} {export_args};
    {extra}
    captain_metrics_zone name=m size=1m;
    server {{
        listen 127.0.0.1:@PORT@;
        server_name shop.test;
        location /api/ {{ captain_metrics m route=api; proxy_pass http://@UPSTREAM@; }}
        location / {{ proxy_pass http://@UPSTREAM@; }}
        location /never/ {{ captain_trace_sample_rate 0; proxy_pass http://@UPSTREAM@; }}
        location /broken/ {{ proxy_pass http://127.0.0.1:1; }}
        location /missing/ {{ return 404; }}
        location = /metrics {{ captain_trace off; captain_status; }}
        location = /status.json {{ captain_trace off; captain_status json; }}
    }}
"""


@pytest.fixture
def receiver():
    r = OtlpReceiver()
    yield r
    r.stop()
    assert not r.errors, f"malformed OTLP exports: {r.errors}"


def by_trace(spans, trace_id):
    return [s for s in spans if s["traceId"] == trace_id]


def metric(server, name, labels=""):
    text = request(server.port, "/metrics").body.decode()
    m = re.search(rf"^{re.escape(name + labels)} (\d+)$", text, re.M)
    return int(m.group(1)) if m else None


def test_a_sampled_request_becomes_a_server_span(nginx, receiver):
    server = nginx(conf(receiver.endpoint), workers=1)
    before = time.time_ns()
    r = request(server.port, "/api/items?q=1",
                headers=[("traceparent", f"00-{TRACE_ID}-{PARENT_ID}-01"),
                         ("tracestate", "congo=t61rcWkgMzE"),
                         ("User-Agent", "trace-test/1.0")])
    assert r.status == 200
    spans = receiver.wait_for(lambda s: by_trace(s, TRACE_ID))
    (span,) = by_trace(spans, TRACE_ID)

    # The upstream's parent is this span: nginx -> upstream links up.
    (sent,) = echoed(r, "traceparent")
    assert sent == f"00-{TRACE_ID}-{span['spanId']}-01"
    assert span["parentSpanId"] == PARENT_ID
    assert span["traceState"] == "congo=t61rcWkgMzE"
    assert span["name"] == "GET api"
    assert span["kind"] == 2  # SERVER
    assert before - 1_000_000_000 <= span["start"] <= span["end"] <= time.time_ns() + 1_000_000_000
    a = span["attributes"]
    assert a["http.request.method"] == "GET"
    assert a["url.path"] == "/api/items"
    assert a["url.scheme"] == "http"
    assert a["http.route"] == "api"
    assert a["http.response.status_code"] == 200
    assert a["server.address"] == "127.0.0.1"  # the Host header's name, without the port
    assert a["client.address"] == "127.0.0.1"
    assert a["user_agent.original"] == "trace-test/1.0"
    assert re.fullmatch(r"127\.0\.0\.1:\d+", a["captain.upstream.address"])
    assert 0 <= a["captain.upstream.duration"] < 5
    assert a["captain.request_id"] == r.header("X-Request-ID")
    assert span["status"].get("code", 0) == 0
    assert span["flags"] & 0xff == 0x01  # the caller's flags: sampled, not random
    assert span["flags"] & 0x300 == 0x300  # the parent is remote
    assert span["resource"]["service.name"] == "captain-nginx"
    assert span["resource"]["host.name"]
    assert span["scope"]["name"] == "ngx_http_captain_module"


def test_new_roots_span_and_service_name(nginx, receiver):
    server = nginx(conf(receiver.endpoint, extra="captain_trace_service_name edge-eu;"),
                   workers=1)
    r = request(server.port, "/plain")
    (sent,) = echoed(r, "traceparent")
    trace_id, span_id = sent.split("-")[1:3]
    spans = receiver.wait_for(lambda s: by_trace(s, trace_id))
    (span,) = by_trace(spans, trace_id)
    assert span["spanId"] == span_id
    assert span["parentSpanId"] == ""
    assert span["name"] == "GET /"  # no metrics route: the location's name
    assert span["flags"] & 0xff == 0x03  # a trace we started: sampled and random (Level 2)
    assert span["resource"]["service.name"] == "edge-eu"


def test_server_errors_are_errors_and_client_errors_are_not(nginx, receiver):
    server = nginx(conf(receiver.endpoint), workers=1)
    bad = f"{'1' * 31}2"
    missing = f"{'3' * 31}4"
    assert request(server.port, "/broken/",
                   headers=[("traceparent", f"00-{bad}-{PARENT_ID}-01")]).status == 502
    assert request(server.port, "/missing/",
                   headers=[("traceparent", f"00-{missing}-{PARENT_ID}-01")]).status == 404
    spans = receiver.wait_for(lambda s: by_trace(s, bad) and by_trace(s, missing))
    assert by_trace(spans, bad)[0]["status"]["code"] == 2
    assert by_trace(spans, bad)[0]["attributes"]["http.response.status_code"] == 502
    assert by_trace(spans, missing)[0]["status"].get("code", 0) == 0


def test_unsampled_traces_record_no_span(nginx, receiver):
    server = nginx(conf(receiver.endpoint), workers=1)
    unsampled = f"{'5' * 31}6"
    request(server.port, "/", headers=[("traceparent", f"00-{unsampled}-{PARENT_ID}-00")])
    for _ in range(5):
        request(server.port, "/never/")
    marker = f"{'7' * 31}8"
    request(server.port, "/", headers=[("traceparent", f"00-{marker}-{PARENT_ID}-01")])
    spans = receiver.wait_for(lambda s: by_trace(s, marker))
    assert len(spans) == 1, [s["name"] for s in spans]
    assert metric(server, "captain_trace_spans_queued_total") == 1


def test_collector_down_leaves_requests_alone_and_counts_drops(nginx, receiver):
    # Nothing listens on the receiver's port once it is stopped.
    endpoint = receiver.endpoint
    receiver.stop()
    server = nginx(conf(endpoint, "batch=4 interval=50ms timeout=200ms queue=64"), workers=1)
    start = time.monotonic()
    for _ in range(40):
        assert request(server.port, "/").status == 200
    assert time.monotonic() - start < 10
    # Every span is accounted for as dropped: its batch failed (or, on a slow machine, the
    # queue was full while the thread was failing to connect).
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        failed = metric(server, "captain_trace_spans_dropped_total", '{reason="export_failed"}')
        full = metric(server, "captain_trace_spans_dropped_total", '{reason="queue_full"}')
        if failed + full == 40:
            break
        time.sleep(0.1)
    assert failed + full == 40 and failed >= 4
    assert metric(server, "captain_trace_export_requests_total", '{result="failure"}') >= 1
    assert metric(server, "captain_trace_spans_exported_total") == 0
    assert metric(server, "captain_trace_queue_spans") == 0


def test_a_slow_collector_fills_the_queue_and_spans_are_dropped_not_waited_for(nginx, receiver):
    receiver.delay = 1.5
    server = nginx(conf(receiver.endpoint, "batch=1 interval=10ms queue=4 timeout=10s"),
                   workers=1)
    start = time.monotonic()
    for _ in range(30):
        assert request(server.port, "/").status == 200
    # 30 requests behind a collector that takes 1.5 s per batch: they did not wait for it.
    assert time.monotonic() - start < 5
    full = metric(server, "captain_trace_spans_dropped_total", '{reason="queue_full"}')
    queued = metric(server, "captain_trace_spans_queued_total")
    assert full >= 20 and full + queued == 30
    status = request(server.port, "/status.json").json()
    assert status["trace_export"]["dropped_queue_full"] == full
    receiver.delay = 0


def test_reload_and_graceful_stop_flush_what_is_queued(nginx, receiver):
    # A long interval and a large batch: only a flush makes spans leave.
    server = nginx(conf(receiver.endpoint, "batch=1000 interval=1h"), workers=2)
    first = [echoed(request(server.port, "/"), "traceparent")[0].split("-")[1] for _ in range(6)]
    time.sleep(0.5)
    assert receiver.spans() == []
    server.reload()
    receiver.wait_for(lambda s: all(by_trace(s, t) for t in first), timeout=10)

    second = [echoed(request(server.port, "/"), "traceparent")[0].split("-")[1] for _ in range(6)]
    server.process.send_signal(signal.SIGQUIT)
    server.process.wait(timeout=15)
    receiver.wait_for(lambda s: all(by_trace(s, t) for t in second), timeout=5)
    assert len(receiver.spans()) == 12


def test_status_endpoint_exposition_passes_promtool(nginx, receiver):
    server = nginx(conf(receiver.endpoint), workers=1)
    request(server.port, "/")
    receiver.wait_for(lambda s: len(s) == 1)
    deadline = time.monotonic() + 5
    while metric(server, "captain_trace_spans_exported_total") != 1:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    text = request(server.port, "/metrics").body
    check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert metric(server, "captain_trace_export_requests_total", '{result="success"}') == 1


@pytest.mark.parametrize("args, message", [
    ("batch=8", 'needs endpoint=URL'),
    ("endpoint=127.0.0.1:4318", 'invalid endpoint "endpoint=127.0.0.1:4318" in '
                                '"captain_trace_export" directive, must start with http://'),
    ("endpoint=http://127.0.0.1:4318 batch=0", 'invalid batch "batch=0"'),
    ("endpoint=http://127.0.0.1:4318 queue=lots", 'invalid queue "queue=lots"'),
    ("endpoint=http://127.0.0.1:4318 interval=soon", 'invalid interval "interval=soon"'),
    ("endpoint=http://127.0.0.1:4318 compress=yes", 'invalid parameter "compress=yes"'),
])
def test_bad_export_settings_are_refused_by_nginx_t(nginx_config, args, message):
    server = nginx_config(f"""
        captain_trace_export {args};
        server {{ listen 127.0.0.1:@PORT@; }}
    """)
    code, output = server.test_config()
    assert code != 0
    assert message in output, output


def test_export_is_http_level_only(nginx_config):
    server = nginx_config("""
        server { listen 127.0.0.1:@PORT@;
                 location / { captain_trace_export endpoint=http://127.0.0.1:4318; } }
    """)
    code, output = server.test_config()
    assert code != 0
    assert '"captain_trace_export" directive is not allowed here' in output
