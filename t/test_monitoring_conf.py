"""conf/prometheus.yml and conf/grafana-dashboard.json against the tools and the real product.

* promtool accepts the scrape configuration, also with its commented bearer-token block enabled.
* Every PromQL expression of the dashboard (panel targets and template variable queries) parses:
  each becomes a recording rule for `promtool check rules`, with Grafana's variables replaced by
  concrete values first.
* Every metric the dashboard reads is one the product really exports, with the labels and label
  values the expression selects and groups by: the set comes from scraping real nginx (the built
  module, with a metrics zone, a rate-limit zone and a cache zone after a few requests) and the
  real controller (talking to a fake Docker Engine that answers every API call with 503, so its
  Docker request and circuit-breaker series exist).
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

from conftest import REPO, free_port, request

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
    srv = nginx(NGINX_CONF)
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


def controller_exports(start_controller, docker_socket):
    port = free_port()
    controller = start_controller("--listen", f"127.0.0.1:{port}",
                                  "--docker-socket", str(docker_socket))
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
    assert "alerts.yml" in output and "SUCCESS: 2 rules found" in output, output
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


def test_alert_rules_fire_when_they_should(tmp_path):
    """promtool's rule unit tests: a certificate 10 days from expiry alerts after an hour; one
    60 days away never does; failing orders alert, successful ones do not."""
    code, output = promtool("check", "rules", ALERTS_YML)
    assert code == 0 and "SUCCESS: 2 rules found" in output, output
    day = 86400
    tests = {"rule_files": [str(ALERTS_YML)], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [
            {"series": 'captain_tls_certificate_expiry_timestamp_seconds{domain="soon.example.com"}',
             "values": f"{10 * day}x90"},
            {"series": 'captain_tls_certificate_expiry_timestamp_seconds{domain="fine.example.com"}',
             "values": f"{60 * day}x90"},
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
            {"eval_time": "60m", "alertname": "CaptainCertificateOrdersFailing", "exp_alerts": [{
                "exp_labels": {"severity": "info", "instance": "c", "outcome": "refused"},
                "exp_annotations": {
                    "summary": "6 certificate orders failed (refused) in 6 hours",
                    "description": (
                        "refused: the CA said no (failed challenge, rate limit); unreachable: "
                        "the CA could not be reached; failed: the ACME client itself. The "
                        "controller log has each message.")}}]},
        ]}]}
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


def test_dashboard_reads_only_what_the_product_exports(nginx, start_controller,
                                                       fake_docker_socket):
    exported = nginx_exports(nginx)
    controller = controller_exports(start_controller, fake_docker_socket)
    assert not exported.keys() & controller.keys(), "nginx and the controller share a name"
    exported.update(controller)

    problems = []
    used = set()
    for where, expr, extra_grouping in dashboard_queries(load_dashboard()):
        selectors, grouping = references(concrete(expr))
        grouping |= extra_grouping
        assert selectors, f"{where}: no metric in {expr}"
        labels_seen = set()
        if all(m.startswith(CERTIFICATE_METRICS) for m, _ in selectors):
            continue  # checked against a controller with certificates, in t/test_tls.py
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
    assert not problems, "\n".join(problems)

    # The panels the dashboard promises, each backed by the series it needs.
    for metric in ("captain_http_requests_total", "captain_http_request_duration_seconds_bucket",
                   "captain_http_upstream_response_seconds_bucket",
                   "captain_ratelimit_requests_total", "captain_cache_requests_total",
                   "captain_http_connections", "captain_docker_circuit_breaker_state",
                   "captain_docker_requests_total"):
        assert metric in used, f"the dashboard does not use {metric}"
