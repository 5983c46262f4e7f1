"""conf/prometheus.yml and conf/grafana-dashboard.json against the tools and the real product.

* promtool accepts the scrape configuration, also with its commented bearer-token block enabled.
* Every PromQL expression of the dashboard (panel targets and template variable queries) parses:
  each becomes a recording rule for `promtool check rules`, with Grafana's variables replaced by
  concrete values first.
* Every metric the dashboard and the alert rules read is one the product really exports, with
  the labels and label values the expression selects and groups by: the set comes from scraping
  real nginx (the built module, with a metrics zone, a rate-limit zone, a cache zone and span
  export after a few requests) and the real controller (talking to a fake Docker Engine that
  answers every API call with 503, so its Docker request and circuit-breaker series exist, and
  managing an nginx that is not running, so its nginx series exist).
* conf/alerts.yml passes promtool, and `promtool test rules` shows every alert firing when it
  should and staying quiet when it should.
* The dashboard's panel ids are unique and every panel and target uses the DS_PROMETHEUS
  data source variable.
"""

import http.client
import json
import re
import shutil
import socketserver
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from conftest import MODULE, REPO, free_port, request
from controller_harness import base_env

PROMTOOL = "/usr/bin/promtool"
PROMETHEUS_YML = REPO / "conf" / "prometheus.yml"
ALERTS_YML = REPO / "conf" / "alerts.yml"
# Series only a controller that holds certificates exports: t/test_tls.py checks the dashboard's
# queries of them against one (test_the_dashboards_certificate_panels_read_real_series).
CERTIFICATE_METRICS = ("captain_tls_", "captain_acme_")
DASHBOARD = REPO / "conf" / "grafana-dashboard.json"
DATASOURCE = "${DS_PROMETHEUS}"

# Grafana's variables, replaced before parsing. `route` is a multi-value variable with
# allValue ".*": the "All" selection is the worst case for a regex matcher.
GRAFANA_VARIABLES = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__range": "1h",
    "route": ".*",
}
# Labels Prometheus adds to every scraped series (the target's), which no exposition carries.
TARGET_LABELS = {"instance", "job"}


# ---- the dashboard's expressions ------------------------------------------------------------

def load_dashboard():
    return json.loads(DASHBOARD.read_text())


def dashboard_panels(dashboard):
    """Every panel, rows' nested panels included."""
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(?P<selector>.+?)\s*,\s*)?"
                          r"(?P<label>[a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$", re.S)


def dashboard_queries(dashboard):
    """[(where, expr, grouping labels to check)] for every target and query variable. A
    label_values(selector, label) variable is checked as `selector` grouped by `label`."""
    queries = []
    for panel in dashboard_panels(dashboard):
        for target in panel.get("targets", []):
            if target.get("expr"):
                queries.append((f"panel {panel['id']} ({panel['title']}) target "
                                f"{target.get('refId')}", target["expr"], set()))
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        query = variable["query"]
        text = query["query"] if isinstance(query, dict) else query
        where = f"variable ${variable['name']}"
        match = LABEL_VALUES.match(text)
        assert match and match["selector"], f"{where}: expected label_values(selector, label): {text}"
        queries.append((where, match["selector"], {match["label"]}))
    return queries


def concrete(expr):
    """The expression with Grafana's $var / ${var} replaced by GRAFANA_VARIABLES."""
    def replace(match):
        name = match["braced"] or match["plain"]
        assert name in GRAFANA_VARIABLES, f"unknown Grafana variable ${name} in {expr}"
        return GRAFANA_VARIABLES[name]
    return re.sub(r"\$(?:\{(?P<braced>\w+)\}|(?P<plain>\w+))", replace, expr)


# ---- a small PromQL reader: metric names, label matchers, grouping labels ------------------

TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<duration>(?:\d+(?:ms|[smhdwy]))+)(?![a-zA-Z0-9_:])
  | (?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=,(){}\[\]@])
""", re.X)

AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count",
                "count_values", "bottomk", "topk", "quantile", "limitk", "limit_ratio"}
GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
KEYWORDS = AGGREGATIONS | GROUPING | {"bool", "and", "or", "unless", "offset", "atan2",
                                      "inf", "nan", "start", "end"}


def tokenize(expr):
    tokens, pos = [], 0
    while pos < len(expr):
        match = TOKEN.match(expr, pos)
        assert match, f"cannot read {expr[pos:]!r} in {expr}"
        pos = match.end()
        if match.lastgroup != "space":
            tokens.append((match.lastgroup, match.group()))
    return tokens


def unquote(text):
    if text[0] == "`":
        return text[1:-1]
    if text[0] == "'":
        text = '"' + text[1:-1].replace('\\\'', "'").replace('"', '\\"') + '"'
    return json.loads(text)


def references(expr):
    """(selectors, grouping): selectors is [(metric, [(label, op, value)])], grouping the label
    names in by/without/on/ignoring/group_left/group_right clauses."""
    tokens = tokenize(expr)
    selectors, grouping = [], set()

    def text_at(i):
        return tokens[i][1] if i < len(tokens) else None

    def matchers(i):
        """Reads `{label op "value", ...}` from tokens[i] == '{'; returns (matchers, next i)."""
        found = []
        i += 1
        while text_at(i) != "}":
            label, op, value = tokens[i], tokens[i + 1], tokens[i + 2]
            assert label[0] == "ident" and op[1] in ("=", "!=", "=~", "!~") and \
                value[0] == "string", f"bad label matcher at {tokens[i:i + 3]} in {expr}"
            found.append((label[1], op[1], unquote(value[1])))
            i += 3
            if text_at(i) == ",":
                i += 1
        return found, i + 1

    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        if text == "[":  # a range or subquery duration
            while text_at(i) != "]":
                i += 1
            i += 1
        elif kind == "ident" and text in GROUPING and text_at(i + 1) == "(":
            i += 2
            while text_at(i) != ")":
                if tokens[i][0] == "ident":
                    grouping.add(tokens[i][1])
                i += 1
            i += 1
        elif kind == "ident" and (text in KEYWORDS or text_at(i + 1) == "("):
            i += 1  # an operator, aggregation or function
        elif kind == "ident":
            if text_at(i + 1) == "{":
                found, i = matchers(i + 1)
            else:
                found, i = [], i + 1
            selectors.append((text, found))
        elif text == "{":
            found, i = matchers(i)
            names = [v for label, op, v in found if label == "__name__" and op == "="]
            assert names, f"a selector without a metric name in {expr}"
            selectors.append((names[0], [m for m in found if m[0] != "__name__"]))
        else:
            i += 1
    return selectors, grouping


def test_the_promql_reader():
    selectors, grouping = references(
        'histogram_quantile(0.95, sum by (route, le) (rate(a_bucket{route=~".*", x!="y"}[5m])))'
        ' / on(route) group_left sum without (m) (b offset 5m) + 2 * {__name__="c", d="e"}')
    assert selectors == [("a_bucket", [("route", "=~", ".*"), ("x", "!=", "y")]),
                         ("b", []), ("c", [("d", "=", "e")])]
    assert grouping == {"route", "le", "m"}


# ---- what the product exports ---------------------------------------------------------------

SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})?\s+\S+(?:\s+\S+)?$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')


def parse_exposition(text):
    """{sample name: [labels dict, ...]} from Prometheus text format."""
    series = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, f"unexpected exposition line: {line!r}"
        labels = {k: json.loads(f'"{v}"') for k, v in LABEL.findall(match["labels"] or "")}
        series.setdefault(match["name"], []).append(labels)
    return series


NGINX_CONF = """
    captain_metrics_zone name=m size=4m buckets=0.005 0.05 0.5 5;
    captain_trace_export endpoint=http://@COLLECTOR@ timeout=1s;
    captain_limit_zone name=api size=1m key=$binary_remote_addr rate=2r/h;
    captain_cache_zone name=c size=4m;
    server {
        listen 127.0.0.1:@PORT@ reuseport;
        server_name monitoring.example;
        captain_metrics m;
        location /api/ { proxy_pass http://@UPSTREAM@/; }
        location /limited/ { captain_metrics m route=limited; captain_limit api; empty_gif; }
        location /cached/ { captain_metrics m route=cached; captain_cache c;
                            proxy_pass http://@UPSTREAM@/; }
        location = /metrics { captain_metrics off; captain_status; allow 127.0.0.1; deny all; }
    }
"""


def nginx_exports(nginx):
    # Span export's counters exist once it is configured; nothing listens at the collector's
    # address, and no span is sampled (captain_trace is off) anyway.
    srv = nginx(NGINX_CONF.replace("@COLLECTOR@", f"127.0.0.1:{free_port()}"))
    assert [request(srv.port, "/api/x").status for _ in range(3)] == [200] * 3
    assert request(srv.port, "/api/status/503").status == 503
    assert request(srv.port, "/api/status/500", method="POST", body=b"{}").status == 500
    assert [request(srv.port, "/limited/").status for _ in range(3)] == [200, 200, 429]
    assert [request(srv.port, "/cached/c").status for _ in range(2)] == [200] * 2
    response = request(srv.port, "/metrics")
    assert response.status == 200, response.body
    series = parse_exposition(response.body.decode())
    # The requests above are in the output the names are checked against.
    assert {"route": "/api/", "status": "503"}.items() <= \
        next(s for s in series["captain_http_requests_total"] if s.get("status") == "503").items()
    return series


class FakeDockerEngine(BaseHTTPRequestHandler):
    """Answers /_ping (so the controller tries to connect) and 503 to every API call."""

    def log_message(self, *args):
        pass

    def address_string(self):
        return "docker.sock"

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.path.split("?")[0] == "/_ping":
            status, body, kind = 200, b"OK", "text/plain"
        else:
            status, body, kind = 503, b'{"message":"fake engine: unavailable"}', "application/json"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = answer


@pytest.fixture
def fake_docker_socket():
    directory = Path(tempfile.mkdtemp(prefix="captain-mon-"))  # short: sun_path is 108 bytes
    path = directory / "docker.sock"
    server = socketserver.ThreadingUnixStreamServer(str(path), FakeDockerEngine)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield path
    server.shutdown()
    server.server_close()
    shutil.rmtree(directory, ignore_errors=True)


def http_get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def controller_exports(start_controller, docker_socket, directory):
    """The controller's series. It manages an nginx (nginx_reload pid) whose configuration it
    writes under `directory` and which is not running, so its nginx series exist too."""
    port = free_port()
    env = base_env(CAPTAIN_NGINX_RELOAD="pid",
                   CAPTAIN_NGINX_CONF_DIR=str(directory / "nginx-conf"),
                   CAPTAIN_NGINX_PID_FILE=str(directory / "no-nginx.pid"),
                   CAPTAIN_NGINX_MODULE=str(MODULE),
                   CAPTAIN_NGINX_LOG_DIR=str(directory / "nginx-logs"),
                   CAPTAIN_NGINX_TEMP_DIR=str(directory / "nginx-temp"),
                   CAPTAIN_NGINX_LISTEN=f"127.0.0.1:{free_port()}")
    controller = start_controller("--listen", f"127.0.0.1:{port}",
                                  "--docker-socket", str(docker_socket), env=env)
    controller.wait_connectable(port)
    assert http_get(port, "/health/live")[0] == 200
    deadline = time.monotonic() + 15
    while True:
        status, text = http_get(port, "/metrics")
        assert status == 200, text
        series = parse_exposition(text)
        if "captain_docker_requests_total" in series or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert "captain_docker_requests_total" in series, \
        f"the controller made no Docker call within 15 s:\n{text}\n{controller.stdout()}"
    return series


# ---- the tests ------------------------------------------------------------------------------

def promtool(*args):
    assert shutil.which(PROMTOOL), "promtool is missing: run ./scripts/setup"
    run = subprocess.run([PROMTOOL, *map(str, args)], capture_output=True, text=True, timeout=60)
    return run.returncode, run.stdout + run.stderr


def test_prometheus_config_passes_promtool():
    code, output = promtool("check", "config", PROMETHEUS_YML)
    assert code == 0, output
    assert "alerts.yml" in output and f"SUCCESS: {len(alert_names())} rules found" in output, \
        output
    text = PROMETHEUS_YML.read_text()
    for job in ("captain-nginx", "captain-controller"):
        assert re.search(rf"^\s*- job_name: {job}$", text, re.M), job
    assert re.search(r'targets: \["127\.0\.0\.1:3000"\]', text)


def test_prometheus_config_with_the_bearer_token_enabled(tmp_path):
    """The commented authorization block is valid once uncommented (credentials_file must
    name an existing file, so it points at a temporary one here)."""
    token = tmp_path / "captain-status.token"
    token.write_text("s3cret\n")
    lines = PROMETHEUS_YML.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "# authorization:")
    indent = lines[start].index("#")
    enabled = list(lines)
    for i in range(start, start + 3):
        assert lines[i][:indent].strip() == "" and lines[i][indent:indent + 2] == "# ", lines[i]
        enabled[i] = lines[i][:indent] + lines[i][indent + 2:]
    assert enabled[start + 2].strip().startswith("credentials_file: "), enabled[start + 2]
    enabled[start + 2] = enabled[start + 2].split("credentials_file:")[0] + \
        f"credentials_file: {token}"
    config = tmp_path / "prometheus.yml"
    config.write_text("\n".join(enabled) + "\n")
    shutil.copy(ALERTS_YML, tmp_path / "alerts.yml")
    code, output = promtool("check", "config", config)
    assert code == 0, output + "\n" + config.read_text()


# ---- the alerts -----------------------------------------------------------------------------

def alert_names():
    return re.findall(r"^\s*- alert: (\w+)$", ALERTS_YML.read_text(), re.M)


def description(alert, **labels):
    """The alert's description as Prometheus sends it: the folded (`>-`) text of conf/alerts.yml
    with {{ $labels.NAME }} filled in, the only template the descriptions use."""
    lines = ALERTS_YML.read_text().splitlines()
    start = lines.index(f"      - alert: {alert}")
    at = next(i for i in range(start, len(lines)) if lines[i].strip() == "description: >-")
    indent = len(lines[at]) - len(lines[at].lstrip())
    text = []
    for line in lines[at + 1:]:
        if not line.strip() or len(line) - len(line.lstrip()) <= indent:
            break
        text.append(line.strip())
    folded = " ".join(text)

    def fill(match):
        assert match["name"] in labels, f"{alert}: no value for $labels.{match['name']}"
        return labels[match["name"]]
    filled = re.sub(r"\{\{ \$labels\.(?P<name>\w+) \}\}", fill, folded)
    assert "{{" not in filled, f"{alert}: a template description() does not fill: {filled}"
    return filled


def counter(per_minute, minutes=90, start=0):
    """promtool series values: a counter rising by per_minute each minute."""
    return f"{start}+{per_minute}x{minutes}"


DAY = 86400
# One promtool test group per file section. Each alert has a case where it fires (labels and
# annotations checked) and one where it must not (too early for its `for:`, or series that
# stay below a threshold); test_every_alert_is_tested checks that.
ALERT_TESTS = {
    # A certificate 10 days from expiry alerts after an hour; one 60 days away never does;
    # failing orders alert, successful ones do not.
    "tls": {
        "interval": "1m",
        "input_series": [
            {"series": 'captain_tls_certificate_expiry_timestamp_seconds{domain="soon.example.com"}',
             "values": f"{10 * DAY}x90"},
            {"series": 'captain_tls_certificate_expiry_timestamp_seconds{domain="fine.example.com"}',
             "values": f"{60 * DAY}x90"},
            {"series": 'captain_acme_orders_total{instance="c",outcome="refused"}',
             "values": "0+0.1x90"},
            {"series": 'captain_acme_orders_total{instance="c",outcome="success"}',
             "values": "0+1x90"},
        ],
        "alert_rule_test": [
            {"eval_time": "30m", "alertname": "CaptainCertificateExpiresSoon", "exp_alerts": []},
            {"eval_time": "70m", "alertname": "CaptainCertificateExpiresSoon", "exp_alerts": [{
                "exp_labels": {"severity": "warning", "domain": "soon.example.com"},
                "exp_annotations": {
                    "summary": "The certificate for soon.example.com expires in 9d 22h 50m 0s",
                    "description": (
                        "Renewal should have replaced it long ago. The controller logs why it "
                        "did not (\"certificate renewal failed\"): usually the name no longer "
                        "resolves to this server, port 80 is not reachable from the CA, or the "
                        "CA is rate-limiting. Once it expires, soon.example.com is served over "
                        "plain HTTP only.")}}]},
            # One refusal in 10 minutes is not "keeps failing".
            {"eval_time": "10m", "alertname": "CaptainCertificateOrdersFailing", "exp_alerts": []},
            {"eval_time": "60m", "alertname": "CaptainCertificateOrdersFailing", "exp_alerts": [{
                "exp_labels": {"severity": "info", "instance": "c", "outcome": "refused"},
                "exp_annotations": {
                    "summary": "6 certificate orders failed (refused) in 6 hours",
                    "description": (
                        "refused: the CA said no (failed challenge, rate limit); unreachable: "
                        "the CA could not be reached; failed: the ACME client itself. The "
                        "controller log has each message.")}}]},
        ]},

    # The module's series, as nginx exports them (status labels exact or a class).
    "http": {
        "interval": "1m",
        "input_series": [
            # shop: 1 request/s, of which 0.1/s fail with 502: 9 % errors.
            {"series": 'captain_http_requests_total{server="shop.example.com",route="shop",'
                       'method="GET",status="200"}', "values": counter(60)},
            {"series": 'captain_http_requests_total{server="shop.example.com",route="shop",'
                       'method="GET",status="502"}', "values": counter(6)},
            # blog: 1.6 % errors ("5xx": a status without its own label value).
            {"series": 'captain_http_requests_total{server="blog.example.com",route="blog",'
                       'method="GET",status="200"}', "values": counter(60)},
            {"series": 'captain_http_requests_total{server="blog.example.com",route="blog",'
                       'method="POST",status="5xx"}', "values": counter(1)},
            # quiet: every request fails, but there are 3 an hour.
            {"series": 'captain_http_requests_total{server="quiet.example.com",route="quiet",'
                       'method="GET",status="500"}', "values": counter(0.05)},

            # slow: 60 requests/min, 90 % of them between 2.5 and 5 s: p95 4.861 s.
            *({"series": 'captain_http_request_duration_seconds_bucket{server="shop.example.com",'
                         f'route="slow",le="{le}"}}', "values": counter(n)}
              for le, n in (("0.5", 0), ("1", 0), ("2.5", 6), ("5", 60), ("+Inf", 60))),
            {"series": 'captain_http_request_duration_seconds_count{server="shop.example.com",'
                       'route="slow"}', "values": counter(60)},
            # fast: everything under 0.5 s.
            *({"series": 'captain_http_request_duration_seconds_bucket{server="shop.example.com",'
                         f'route="fast",le="{le}"}}', "values": counter(60)}
              for le in ("0.5", "1", "2.5", "5", "+Inf")),
            {"series": 'captain_http_request_duration_seconds_count{server="shop.example.com",'
                       'route="fast"}', "values": counter(60)},
            # rare: every request over 5 s, 3 an hour.
            *({"series": 'captain_http_request_duration_seconds_bucket{server="shop.example.com",'
                         f'route="rare",le="{le}"}}', "values": counter(n)}
              for le, n in (("0.5", 0), ("1", 0), ("2.5", 0), ("5", 0), ("+Inf", 0.05))),
            {"series": 'captain_http_request_duration_seconds_count{server="shop.example.com",'
                       'route="rare"}', "values": counter(0.05)},

            # apps: 10 % hits at 1 lookup/s; assets: 80 %; tiny: no hits at 0.1 lookup/s.
            *({"series": f'captain_cache_requests_total{{zone="{zone}",status="{status}"}}',
               "values": counter(n)}
              for zone, status, n in (("apps", "hit", 6), ("apps", "miss", 54),
                                      ("apps", "bypass", 600), ("assets", "hit", 48),
                                      ("assets", "miss", 12), ("tiny", "hit", 0),
                                      ("tiny", "miss", 6))),

            # app_shop: 2 rejections/s, 17 % of its decisions; captain_api: 33 % but 0.5/s;
            # app_big: 2/s but 2 % of its traffic.
            *({"series": f'captain_ratelimit_requests_total{{zone="{zone}",decision="{d}"}}',
               "values": counter(n)}
              for zone, d, n in (("app_shop", "passed", 600), ("app_shop", "rejected", 120),
                                 ("app_shop", "dry_run", 0), ("app_shop", "bypass", 0),
                                 ("captain_api", "passed", 60),
                                 ("captain_api", "rejected", 30),
                                 ("app_big", "passed", 6000), ("app_big", "rejected", 120))),

            # nginx-1 cannot reach its collector: 0.5 spans/s dropped; nginx-2 dropped a few in
            # its first 5 minutes, then none.
            {"series": 'captain_trace_spans_dropped_total{instance="nginx-1:80",'
                       'reason="export_failed"}', "values": counter(30)},
            {"series": 'captain_trace_spans_dropped_total{instance="nginx-1:80",'
                       'reason="queue_full"}', "values": counter(0)},
            {"series": 'captain_trace_spans_dropped_total{instance="nginx-2:80",'
                       'reason="queue_full"}', "values": "0+10x5 50x85"},
        ],
        "alert_rule_test": [
            {"eval_time": "8m", "alertname": "CaptainRouteErrorRatioHigh", "exp_alerts": []},
            {"eval_time": "30m", "alertname": "CaptainRouteErrorRatioHigh", "exp_alerts": [{
                "exp_labels": {"severity": "critical", "server": "shop.example.com",
                               "route": "shop"},
                "exp_annotations": {
                    "summary": "9.091% of the requests to route shop (shop.example.com) fail "
                               "with 5xx",
                    "description": description("CaptainRouteErrorRatioHigh", route="shop")}}]},

            {"eval_time": "12m", "alertname": "CaptainRouteLatencyHigh", "exp_alerts": []},
            {"eval_time": "30m", "alertname": "CaptainRouteLatencyHigh", "exp_alerts": [{
                "exp_labels": {"severity": "warning", "server": "shop.example.com",
                               "route": "slow"},
                "exp_annotations": {
                    "summary": "Route slow (shop.example.com): 95 % of requests take up to "
                               "4.861s",
                    "description": description("CaptainRouteLatencyHigh")}}]},

            {"eval_time": "25m", "alertname": "CaptainCacheHitRatioLow", "exp_alerts": []},
            {"eval_time": "60m", "alertname": "CaptainCacheHitRatioLow", "exp_alerts": [{
                "exp_labels": {"severity": "info", "zone": "apps"},
                "exp_annotations": {
                    "summary": "Cache zone apps answers only 10% of lookups",
                    "description": description("CaptainCacheHitRatioLow", zone="apps")}}]},

            {"eval_time": "8m", "alertname": "CaptainRateLimitRejectionsHigh", "exp_alerts": []},
            {"eval_time": "30m", "alertname": "CaptainRateLimitRejectionsHigh", "exp_alerts": [{
                "exp_labels": {"severity": "warning", "zone": "app_shop"},
                "exp_annotations": {
                    "summary": "Rate-limit zone app_shop rejects 16.67% of its requests",
                    "description": description("CaptainRateLimitRejectionsHigh")}}]},

            {"eval_time": "8m", "alertname": "CaptainTraceSpansDropped", "exp_alerts": []},
            {"eval_time": "30m", "alertname": "CaptainTraceSpansDropped", "exp_alerts": [{
                "exp_labels": {"severity": "warning", "instance": "nginx-1:80",
                               "reason": "export_failed"},
                "exp_annotations": {
                    "summary": "nginx nginx-1:80 drops 0.5 spans/s (export_failed)",
                    "description": description("CaptainTraceSpansDropped")}}]},
        ]},

    # The controller's series.
    "controller": {
        "interval": "1m",
        "input_series": [
            # services: Docker down; the breaker cycles open -> half_open (a failed trial)
            # -> open. tasks: closed. containers: open for 2 minutes, then closed again.
            *({"series": 'captain_docker_circuit_breaker_state{instance="controller:3000",'
                         f'family="{family}",state="{state}"}}', "values": values}
              for family, state, values in (
                  ("services", "closed", "0x60"),
                  ("services", "open", " ".join(["1 0"] * 30)),
                  ("services", "half_open", " ".join(["0 1"] * 30)),
                  ("tasks", "closed", "1x60"), ("tasks", "open", "0x60"),
                  ("tasks", "half_open", "0x60"),
                  ("containers", "closed", "0 0 1x58"), ("containers", "open", "1 1 0x58"),
                  ("containers", "half_open", "0x60"))),

            # c1: nginx -t keeps refusing the tree (a retry every 5 minutes), nothing applied.
            # c2: refused 3 times, then a tree applied.
            *({"series": 'captain_nginx_config_applies_total{instance="' + instance +
                         f'",outcome="{outcome}"}}', "values": values}
              for instance, outcome, values in (
                  ("c1", "refused", counter(0.2, 60)), ("c1", "applied", "4x60"),
                  ("c1", "unchanged", counter(20, 60)), ("c1", "failed", "0x60"),
                  ("c2", "refused", "0 1 2 3x57"), ("c2", "applied", "4 4 4 4 5x56"),
                  ("c2", "unchanged", counter(20, 60)), ("c2", "failed", "0x60"))),
        ],
        "alert_rule_test": [
            {"eval_time": "3m", "alertname": "CaptainDockerCircuitBreakerOpen", "exp_alerts": []},
            {"eval_time": "20m", "alertname": "CaptainDockerCircuitBreakerOpen", "exp_alerts": [{
                "exp_labels": {"severity": "critical", "instance": "controller:3000",
                               "family": "services"},
                "exp_annotations": {
                    "summary": "The controller's Docker circuit breaker for services has been "
                               "open for 5 minutes",
                    "description": description("CaptainDockerCircuitBreakerOpen",
                                                family="services")}}]},

            {"eval_time": "3m", "alertname": "CaptainNginxConfigRefused", "exp_alerts": []},
            {"eval_time": "8m", "alertname": "CaptainNginxConfigRefused", "exp_alerts": [{
                "exp_labels": {"severity": "warning", "instance": "c1"},
                "exp_annotations": {
                    "summary": "nginx has not taken the controller's configuration for 5 minutes",
                    "description": description("CaptainNginxConfigRefused")}}]},
            {"eval_time": "40m", "alertname": "CaptainNginxConfigRefused", "exp_alerts": [{
                "exp_labels": {"severity": "warning", "instance": "c1"},
                "exp_annotations": {
                    "summary": "nginx has not taken the controller's configuration for 5 minutes",
                    "description": description("CaptainNginxConfigRefused")}}]},
        ]},
}


def test_alert_rules_pass_promtool_check():
    code, output = promtool("check", "rules", ALERTS_YML)
    assert code == 0 and f"SUCCESS: {len(alert_names())} rules found" in output, output


def test_every_alert_is_tested():
    """Each alert of conf/alerts.yml has a case in ALERT_TESTS where it fires and one where it
    must not, and every case names an alert that exists."""
    names = alert_names()
    assert len(names) == len(set(names)) >= 9, names
    cases = [case for group in ALERT_TESTS.values() for case in group["alert_rule_test"]]
    assert {case["alertname"] for case in cases} <= set(names)
    for name in names:
        mine = [case for case in cases if case["alertname"] == name]
        assert any(case["exp_alerts"] for case in mine), f"{name} is never tested firing"
        assert any(not case["exp_alerts"] for case in mine), f"{name} is never tested quiet"


@pytest.mark.parametrize("group", sorted(ALERT_TESTS))
def test_alert_rules_fire_when_they_should(tmp_path, group):
    """promtool's rule unit tests (ALERT_TESTS): made-up series, the alerts expected at each
    evaluation time with their labels and annotations."""
    tests = {"rule_files": [str(ALERTS_YML)], "evaluation_interval": "1m",
             "tests": [ALERT_TESTS[group]]}
    path = tmp_path / "alerts_test.yml"
    path.write_text(json.dumps(tests, indent=2))  # JSON is YAML
    code, output = promtool("test", "rules", path)
    assert code == 0 and "SUCCESS" in output, output


def test_dashboard_structure():
    dashboard = load_dashboard()
    assert 36 <= dashboard["schemaVersion"] <= 41
    assert any(i["name"] == "DS_PROMETHEUS" and i["type"] == "datasource"
               and i["pluginId"] == "prometheus" for i in dashboard["__inputs"])
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"
    route = variables["route"]
    assert route["type"] == "query" and route["datasource"]["uid"] == DATASOURCE
    assert LABEL_VALUES.match(route["definition"])

    panels = list(dashboard_panels(dashboard))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), f"duplicate panel ids: {ids}"
    for panel in panels:
        if panel["type"] == "row":
            continue
        where = f"panel {panel['id']} ({panel['title']})"
        assert panel["datasource"] == {"type": "prometheus", "uid": DATASOURCE}, where
        assert panel["targets"], where
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), where
        for target in panel["targets"]:
            assert target.get("datasource", panel["datasource"])["uid"] == DATASOURCE, where
            assert target["expr"].strip(), where


def test_dashboard_expressions_parse(tmp_path):
    queries = dashboard_queries(load_dashboard())
    assert len(queries) >= 10
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{n}", "expr": concrete(expr)}
        for n, (_, expr, _) in enumerate(queries)]}]}
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(json.dumps(rules, indent=2))  # JSON is YAML
    code, output = promtool("check", "rules", path)
    names = "\n".join(f"dashboard:query_{n}: {where}" for n, (where, _, _) in enumerate(queries))
    assert code == 0, f"{output}\n{names}"
    assert f"SUCCESS: {len(queries)} rules found" in output, output


def alert_queries():
    """[(where, expr, set())] for every alert rule of conf/alerts.yml (`expr: |` blocks or one
    line)."""
    lines = ALERTS_YML.read_text().splitlines()
    queries, alert = [], None
    for i, line in enumerate(lines):
        if match := re.match(r"^\s*- alert: (\w+)$", line):
            alert = match[1]
        elif match := re.match(r"^(\s*)expr: (.*)$", line):
            indent, expr = len(match[1]), match[2]
            if expr == "|":
                block = []
                for more in lines[i + 1:]:
                    if more.strip() and len(more) - len(more.lstrip()) <= indent:
                        break
                    block.append(more)
                expr = "\n".join(block).strip()
            queries.append((f"alert {alert}", expr, set()))
    assert len(queries) == len(alert_names()), queries
    return queries


def unexported(queries, exported):
    """(problems, metrics used): what the queries select that `exported` does not have."""
    problems = []
    used = set()
    for where, expr, extra_grouping in queries:
        selectors, grouping = references(concrete(expr))
        grouping |= extra_grouping
        assert selectors, f"{where}: no metric in {expr}"
        labels_seen = set(TARGET_LABELS)
        if all(m.startswith(CERTIFICATE_METRICS) for m, _ in selectors):
            # Only a controller holding certificates has these: t/test_tls.py checks the
            # dashboard's queries of them, which read the same series and labels as the two
            # certificate alerts.
            continue
        for metric, matchers in selectors:
            used.add(metric)
            if metric not in exported:
                problems.append(f"{where}: {metric} is not exported")
                continue
            series = exported[metric]
            labels_seen |= {label for s in series for label in s}
            for label, op, value in matchers:
                values = {s[label] for s in series if label in s}
                if not values:
                    problems.append(f"{where}: {metric} has no label {label}")
                elif op == "=" and value not in values:
                    problems.append(f"{where}: {metric}{{{label}={value!r}}} matches nothing "
                                    f"(values: {sorted(values)})")
                elif op == "=~" and not any(re.fullmatch(value, v) for v in values):
                    problems.append(f"{where}: {metric}{{{label}=~{value!r}}} matches nothing "
                                    f"(values: {sorted(values)})")
        for label in grouping - labels_seen:
            problems.append(f"{where}: groups by {label}, which none of its metrics has")
    return problems, used


def test_dashboard_and_alerts_read_only_what_the_product_exports(nginx, start_controller,
                                                                 fake_docker_socket, tmp_path):
    exported = nginx_exports(nginx)
    controller = controller_exports(start_controller, fake_docker_socket, tmp_path)
    assert not exported.keys() & controller.keys(), "nginx and the controller share a name"
    exported.update(controller)

    problems, used = unexported(dashboard_queries(load_dashboard()), exported)
    alert_problems, used_by_alerts = unexported(alert_queries(), exported)
    assert not problems + alert_problems, "\n".join(problems + alert_problems)

    # The panels the dashboard promises, each backed by the series it needs.
    for metric in ("captain_http_requests_total", "captain_http_request_duration_seconds_bucket",
                   "captain_http_upstream_response_seconds_bucket",
                   "captain_ratelimit_requests_total", "captain_cache_requests_total",
                   "captain_http_connections", "captain_docker_circuit_breaker_state",
                   "captain_docker_requests_total"):
        assert metric in used, f"the dashboard does not use {metric}"
    # And the alerts (the certificate ones are checked in t/test_tls.py).
    for metric in ("captain_http_requests_total", "captain_http_request_duration_seconds_bucket",
                   "captain_cache_requests_total", "captain_ratelimit_requests_total",
                   "captain_docker_circuit_breaker_state", "captain_nginx_config_applies_total",
                   "captain_trace_spans_dropped_total"):
        assert metric in used_by_alerts, f"no alert uses {metric}"
