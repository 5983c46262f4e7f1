"""The status endpoint as Prometheus's own tools see it: promtool's linter, and a real Prometheus
server (Debian's /usr/bin/prometheus, scripts/setup installs it) scraping nginx on loopback.
"""

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import free_port, request, wait_for_port
from test_metrics import TOKEN, scrape_totals

PROMTOOL = "/usr/bin/promtool"
PROMETHEUS = "/usr/bin/prometheus"
AUTH = [("Authorization", f"Bearer {TOKEN}")]

CONF = f"""
    captain_metrics_zone name=m size=4m buckets=0.01 0.1 0.5 1;
    captain_limit_zone name=api size=1m key=$binary_remote_addr rate=3r/h;
    server {{
        listen 127.0.0.1:@PORT@ reuseport;
        server_name prom.example;
        location /api/ {{ captain_metrics m; proxy_pass http://@UPSTREAM@/; }}
        location /limited/ {{ captain_metrics m route=limited; captain_limit api; empty_gif; }}
        location /static/ {{ captain_metrics m "route=static \\"files\\""; return 200 "s\\n"; }}
        location = /metrics {{ captain_status; captain_status_token {TOKEN}; }}
    }}
"""


def mixed_load(srv):
    """A known mix over all kinds of series; returns the expected request total of /api/."""
    statuses = []
    for _ in range(7):
        statuses.append(request(srv.port, "/api/x").status)
    for code in (201, 404, 418, 503):
        statuses.append(request(srv.port, f"/api/status/{code}", method="POST", body=b"{}").status)
    statuses.append(request(srv.port, "/api/slow/0.2").status)
    assert statuses == [200] * 7 + [201, 404, 418, 503, 200]
    assert [request(srv.port, "/limited/").status for _ in range(5)] == [200] * 3 + [429] * 2
    assert [request(srv.port, "/static/a", method=m).status
            for m in ("GET", "HEAD", "OPTIONS")] == [200] * 3
    return scrape_totals(srv.port, {("prom.example", "/api/"): 12,
                                    ("prom.example", "limited"): 5,
                                    ("prom.example", 'static "files"'): 3}, headers=AUTH)


def test_promtool_accepts_the_live_output(nginx):
    assert shutil.which(PROMTOOL), "promtool is missing: run ./scripts/setup"
    srv = nginx(CONF)
    e = mixed_load(srv)
    assert e.requests(server="prom.example", route='static "files"') == {
        ("GET", "200"): 1, ("HEAD", "200"): 1, ("OPTIONS", "200"): 1}
    r = request(srv.port, "/metrics", headers=AUTH)
    assert r.status == 200
    check = subprocess.run([PROMTOOL, "check", "metrics"], input=r.body, capture_output=True,
                           timeout=60)
    output = (check.stdout + check.stderr).decode(errors="replace").strip()
    assert check.returncode == 0, output
    assert output == "", output


def api(port, path, **params):
    url = f"http://127.0.0.1:{port}{path}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=5) as resp:
        body = json.load(resp)
    assert body["status"] == "success", body
    return body["data"]


@pytest.fixture
def prometheus(tmp_path):
    """prometheus(target_port) -> its HTTP port; stopped after the test."""
    assert shutil.which(PROMETHEUS), "prometheus is missing: run ./scripts/setup"
    started = []

    def start(target_port):
        directory = tmp_path / "prometheus"
        directory.mkdir()
        config = directory / "prometheus.yml"
        config.write_text(f"""\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: captain
    metrics_path: /metrics
    authorization:
      type: Bearer
      credentials: "{TOKEN}"
    static_configs:
      - targets: ["127.0.0.1:{target_port}"]
""")
        port = free_port()
        log = open(directory / "prometheus.log", "wb")
        process = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}",
             f"--storage.tsdb.path={directory / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=log, stderr=subprocess.STDOUT, cwd=directory)
        started.append((process, log))
        assert wait_for_port(port, time.monotonic() + 30, process), \
            (directory / "prometheus.log").read_text(errors="replace")[-3000:]
        return port, directory / "prometheus.log"

    yield start
    for process, log in started:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.close()


def test_a_real_prometheus_scrapes_the_status_location(nginx, prometheus):
    srv = nginx(CONF)
    mixed_load(srv)
    port, log = prometheus(srv.port)

    deadline = time.monotonic() + 40
    targets = []
    while time.monotonic() < deadline:
        try:
            targets = api(port, "/api/v1/targets")["activeTargets"]
        except urllib.error.HTTPError as error:  # 503 until its storage is ready
            assert error.code == 503, error
            targets = []
        if targets and targets[0]["health"] == "up":
            break
        time.sleep(0.5)
    assert targets and targets[0]["health"] == "up", (targets, log.read_text()[-3000:])
    assert targets[0]["lastError"] == ""

    def query(expr):
        result = api(port, "/api/v1/query", query=expr)["result"]
        return {tuple(sorted((k, v) for k, v in r["metric"].items()
                             if k not in ("job", "instance"))): float(r["value"][1])
                for r in result}

    got = query('captain_http_requests_total{route="/api/"}')
    want = {"200": 8, "201": 1, "404": 1, "4xx": 1, "503": 1}
    by_status = {dict(k)["status"]: v for k, v in got.items()}
    assert by_status == want, got
    post_201 = query('captain_http_requests_total{route="/api/",method="POST",status="201"}')
    assert list(post_201.values()) == [1.0], post_201

    # A label value with a quote survived the escaping into Prometheus.
    static = query('sum(captain_http_requests_total{route="static \\"files\\""})')
    assert list(static.values()) == [3.0], static

    # The histogram is usable as one, also by histogram_quantile().
    count = query('captain_http_request_duration_seconds_count{route="/api/"}')
    assert list(count.values()) == [12.0], count
    fast = query('captain_http_request_duration_seconds_bucket{route="/api/",le="0.1"}')
    assert list(fast.values())[0] <= 11.0, "the 0.2 s request is above 0.1"
    median = query('histogram_quantile(0.5, captain_http_request_duration_seconds_bucket'
                   '{route="/api/"})')
    assert 0 < list(median.values())[0] <= 0.1, median

    decisions = query('captain_ratelimit_requests_total{zone="api"}')
    assert {dict(k)["decision"]: v for k, v in decisions.items()
            if v} == {"passed": 3.0, "rejected": 2.0}, decisions
    assert TOKEN not in srv.access_log() and TOKEN not in srv.error_log()
