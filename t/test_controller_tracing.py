"""The controller's own spans, exported as OTLP/HTTP to a real receiver (t/otlp_receiver.py):
each API request is a SERVER span continuing the caller's traceparent, a deploy's stages and
its Docker Engine calls are spans of the same trace, export failures are counted, and SIGTERM
ships what is queued.

Test traffic stays on this machine: the controller, the receiver, nginx and dockerd (the
private engine of t/docker_engine.py, for the deploy) on 127.0.0.1 or unix sockets.
"""

import signal
import time

import pytest

from conftest import free_port, wait_until
from controller_harness import base_env
from otlp_receiver import OtlpReceiver
from test_controller_api import PASSWORD, Api, definition

SERVER, CLIENT, INTERNAL = 2, 3, 1
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
SAMPLED = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"


@pytest.fixture
def receiver():
    r = OtlpReceiver()
    yield r
    r.stop()


@pytest.fixture
def start_traced(start_controller, tmp_path):
    """start(receiver_endpoint, **env) -> a logged-in Api on a controller exporting spans."""
    def start(endpoint, **extra_env):
        port = free_port()
        data = tmp_path / f"data-{port}"
        env = base_env(CAPTAIN_PASSWORD=PASSWORD, CAPTAIN_DATA_DIR=str(data),
                       CAPTAIN_TRACE_EXPORT_ENDPOINT=endpoint,
                       CAPTAIN_TRACE_EXPORT_INTERVAL="1s")
        env.update(extra_env)
        controller = start_controller("--listen", f"127.0.0.1:{port}", env=env)
        controller.wait_connectable(port)
        api = Api(controller, port, data)
        assert api.login()["status"] == 100
        return api
    return start


def server_spans(spans, trace_id=None):
    return [s for s in spans if s["kind"] == SERVER
            and (trace_id is None or s["traceId"] == trace_id)]


def only(spans, **wanted):
    found = [s for s in spans if all(s[k] == v for k, v in wanted.items())]
    assert len(found) == 1, (wanted, [(s["name"], s["spanId"]) for s in spans])
    return found[0]


def response_span_id(api):
    """The span id in the traceparent the controller answered with."""
    return api.last_headers["traceparent"].split("-")[2]


def metric(api, series):
    _, text = api.call("GET", "/metrics")
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{series} not in /metrics:\n{text}")


DROPPED_FAILED = 'captain_controller_trace_spans_dropped_total{reason="export_failed"}'
EXPORTED = "captain_controller_trace_spans_exported_total"


# --------------------------------------------------------------------------------------------


def test_a_sampled_traceparent_is_continued_by_the_requests_server_span(start_traced, receiver):
    api = start_traced(receiver.endpoint)
    envelope = api.v2("GET", "/user/apps/appDefinitions",
                      headers={"traceparent": SAMPLED, "User-Agent": "trace-test/1"})
    assert envelope["status"] == 100
    answered = api.last_headers["traceparent"]
    assert answered.startswith(f"00-{CALLER_TRACE}-") and answered.endswith("-01"), answered

    spans = receiver.wait_for(lambda s: server_spans(s, CALLER_TRACE))
    span = only(server_spans(spans, CALLER_TRACE))
    assert span["name"] == "GET /api/v2/user/apps/appDefinitions"  # the route, not the path
    assert span["parentSpanId"] == CALLER_SPAN
    assert span["spanId"] == response_span_id(api)
    attrs = span["attributes"]
    assert attrs["http.request.method"] == "GET"
    assert attrs["url.path"] == "/api/v2/user/apps/appDefinitions"
    assert attrs["http.route"] == "/api/v2/user/apps/appDefinitions"
    assert attrs["http.response.status_code"] == 200
    assert attrs["captain.status"] == 100
    assert attrs["client.address"] == "127.0.0.1"
    assert attrs["user_agent.original"] == "trace-test/1"
    assert span["status"].get("code", 0) != 2
    assert span["resource"]["service.name"] == "captain-controller"
    assert span["resource"]["service.version"]
    assert span["resource"]["host.name"]
    assert receiver.errors == []

    # The request's JSON log line names the same trace and span.
    line = next(entry for entry in api.controller.log_lines()
                if entry.get("msg") == "request" and entry.get("trace_id") == CALLER_TRACE)
    assert line["span_id"] == span["spanId"]


def test_a_route_with_a_name_in_its_path_is_named_by_its_template(start_traced, receiver):
    api = start_traced(receiver.endpoint)
    api.register("tracedapp")
    api.v2("GET", "/user/apps/appData/tracedapp", headers={"traceparent": SAMPLED})
    span = only(server_spans(receiver.wait_for(lambda s: server_spans(s, CALLER_TRACE)),
                             CALLER_TRACE))
    assert span["name"] == "GET /api/v2/user/apps/appData/:app"
    assert span["attributes"]["http.route"] == "/api/v2/user/apps/appData/:app"
    assert span["attributes"]["url.path"] == "/api/v2/user/apps/appData/tracedapp"


def test_without_a_traceparent_the_request_starts_a_new_trace(start_traced, receiver):
    api = start_traced(receiver.endpoint)
    api.v2("GET", "/user/system/info")
    answered = api.last_headers["traceparent"]
    _, trace_id, span_id, flags = answered.split("-")
    assert flags == "03"  # sampled at the default ratio, 1; a random trace id (Level 2)
    spans = receiver.wait_for(lambda s: server_spans(s, trace_id))
    span = only(server_spans(spans, trace_id))
    assert span["spanId"] == span_id
    assert span["parentSpanId"] == ""
    assert span["name"] == "GET /api/v2/user/system/info"


def test_an_unsampled_traceparent_exports_nothing(start_traced, receiver):
    api = start_traced(receiver.endpoint)
    unsampled_trace = "0af7651916cd43dd8448eb211c80319c"
    api.v2("GET", "/user/system/info",
           headers={"traceparent": f"00-{unsampled_trace}-b7ad6b7169203331-00"})
    answered = api.last_headers["traceparent"]
    assert answered.startswith(f"00-{unsampled_trace}-") and answered.endswith("-00")
    # A sampled request after it: once its span is in, the unsampled one would be too.
    api.v2("GET", "/user/system/info", headers={"traceparent": SAMPLED})
    spans = receiver.wait_for(lambda s: server_spans(s, CALLER_TRACE))
    assert [s for s in spans if s["traceId"] == unsampled_trace] == []


def test_a_refused_request_carries_the_envelope_status(start_traced, receiver):
    api = start_traced(receiver.endpoint)
    envelope = api.v2("GET", "/user/apps/appDefinitions", token="not-a-token",
                      headers={"traceparent": SAMPLED})
    assert envelope["status"] == 1106
    span = only(server_spans(receiver.wait_for(lambda s: server_spans(s, CALLER_TRACE)),
                             CALLER_TRACE))
    assert span["attributes"]["captain.status"] == 1106
    assert span["attributes"]["http.response.status_code"] == 200


def test_probes_are_traced_only_when_the_caller_samples_them(start_traced, receiver):
    api = start_traced(receiver.endpoint)
    for _ in range(3):
        api.call("GET", "/health/live")
        api.call("GET", "/metrics")
    api.call("GET", "/health/live", headers={"traceparent": SAMPLED})
    spans = receiver.wait_for(lambda s: server_spans(s, CALLER_TRACE))
    assert only(server_spans(spans, CALLER_TRACE))["name"] == "GET /health/live"
    time.sleep(1.5)  # one more export interval
    probes = [s for s in receiver.spans()
              if s["name"] in ("GET /health/live", "GET /metrics")]
    assert len(probes) == 1, [(s["name"], s["traceId"]) for s in probes]


def test_a_collector_that_is_down_costs_the_api_nothing_and_is_counted(start_traced, receiver):
    endpoint = receiver.endpoint
    receiver.stop()  # nothing listens there any more
    api = start_traced(endpoint)
    started = time.monotonic()
    for _ in range(5):
        assert api.v2("GET", "/user/system/info")["status"] == 100
    assert time.monotonic() - started < 5
    wait_until(lambda: metric(api, DROPPED_FAILED) >= 5, "spans counted as export_failed", 20)
    assert metric(api, EXPORTED) == 0
    assert metric(api, 'captain_controller_trace_spans_dropped_total{reason="queue_full"}') == 0
    assert any(entry.get("msg", "").startswith("trace export failed")
               for entry in api.controller.log_lines())


def test_the_counters_exist_with_export_off(start_controller, tmp_path):
    port = free_port()
    controller = start_controller("--listen", f"127.0.0.1:{port}",
                                  env=base_env(CAPTAIN_PASSWORD=PASSWORD,
                                               CAPTAIN_DATA_DIR=str(tmp_path / "d")))
    controller.wait_connectable(port)
    api = Api(controller, port, tmp_path / "d")
    assert metric(api, EXPORTED) == 0
    assert metric(api, DROPPED_FAILED) == 0


def test_sigterm_ships_the_spans_still_queued(start_traced, receiver):
    # A minute between exports: only the shutdown flush can deliver these spans.
    api = start_traced(receiver.endpoint, CAPTAIN_TRACE_EXPORT_INTERVAL="60s")
    for _ in range(3):
        api.v2("GET", "/user/system/info", headers={"traceparent": SAMPLED})
    time.sleep(1.0)
    assert receiver.spans() == []
    api.controller.proc.send_signal(signal.SIGTERM)
    assert api.controller.wait(15) == 0
    spans = receiver.spans()
    assert len(server_spans(spans, CALLER_TRACE)) == 3, [s["name"] for s in spans]
    login = [s for s in server_spans(spans) if s["name"] == "POST /api/v2/login"]
    assert len(login) == 1
    assert receiver.errors == []


def test_an_invalid_endpoint_stops_the_start_naming_the_setting(start_controller, tmp_path):
    controller = start_controller(env=base_env(CAPTAIN_DATA_DIR=str(tmp_path / "d"),
                                               CAPTAIN_TRACE_EXPORT_ENDPOINT="otel:4318"))
    assert controller.wait(10) == 2
    assert "CAPTAIN_TRACE_EXPORT_ENDPOINT" in controller.stderr()
    assert "http:// or https://" in controller.stderr()


# ---- a deploy on the private Swarm, through a real nginx -----------------------------------


@pytest.fixture
def traced_stack(start_controller, swarm, tmp_path, receiver):
    """The controller (exporting to `receiver`) driving a real nginx on the private Swarm."""
    from captain_stack import Stack
    s = Stack(start_controller, swarm, tmp_path,
              CAPTAIN_TRACE_EXPORT_ENDPOINT=receiver.endpoint,
              CAPTAIN_TRACE_EXPORT_INTERVAL="1s")
    s.start_controller()
    s.start_nginx()
    yield s
    s.shutdown()


def children(spans, parent):
    return [s for s in spans if s["parentSpanId"] == parent["spanId"]]


def test_a_deploy_is_one_trace_from_the_api_call_to_docker_and_nginx(traced_stack, receiver):
    stack = traced_stack
    stack.api.register("web")
    envelope = stack.api.v2("POST", "/user/apps/appData/web?detached=1",
                            definition("captain-test/web:1"), headers={"traceparent": SAMPLED})
    assert envelope["status"] == 101
    stack.served("web", "web v1\n")

    def complete(spans):
        mine = [s for s in spans if s["traceId"] == CALLER_TRACE]
        names = {s["name"] for s in mine}
        applied = [s for s in mine if s["name"] == "nginx apply"
                   and s["attributes"].get("captain.nginx.outcome") == "applied"]
        return "deploy rollout" in names and applied and \
            {"nginx test", "nginx reload"} <= {c["name"] for c in children(mine, applied[0])}

    spans = [s for s in receiver.wait_for(complete, timeout=60) if s["traceId"] == CALLER_TRACE]
    by_id = {s["spanId"]: s for s in spans}

    api = only(spans, kind=SERVER)
    assert api["name"] == "POST /api/v2/user/apps/appData/:app"
    assert api["parentSpanId"] == CALLER_SPAN
    assert api["attributes"]["captain.status"] == 101
    # Every other span hangs off the API call's: one connected tree.
    for span in spans:
        if span is api:
            continue
        assert span["parentSpanId"] in by_id, (span["name"], span["parentSpanId"])
        root = span
        while root["parentSpanId"] in by_id:
            root = by_id[root["parentSpanId"]]
        assert root is api, span["name"]

    converge = [s for s in children(spans, api) if s["name"] == "deploy converge"]
    assert converge and converge[0]["kind"] == INTERNAL
    assert converge[0]["attributes"]["captain.app"] == "web"
    stages = {s["name"]: s for s in children(spans, converge[0])}
    assert {"deploy pull", "deploy service create", "deploy rollout"} <= set(stages), stages
    assert stages["deploy pull"]["attributes"]["captain.image"] == "captain-test/web:1"

    create_calls = children(spans, stages["deploy service create"])
    call = only(create_calls, name="docker POST /services/create")
    assert call["kind"] == CLIENT
    assert call["attributes"]["http.request.method"] == "POST"
    assert call["attributes"]["url.path"].endswith("/services/create")
    assert call["attributes"]["http.response.status_code"] == 201
    assert call["attributes"]["server.address"] == stack.engine.socket
    pull_calls = {s["name"] for s in children(spans, stages["deploy pull"])}
    assert "docker GET /images/{name}/json" in pull_calls, pull_calls

    rollout = stages["deploy rollout"]
    assert rollout["attributes"]["captain.rollout.phase"] == "converged"
    polls = {s["name"] for s in children(spans, rollout)}
    assert {"docker GET /services/{id}", "docker GET /tasks"} <= polls, polls

    # nginx routed the new task in this trace: render, nginx -t and the reload beneath it.
    applied = [s for s in spans if s["name"] == "nginx apply"
               and s["attributes"].get("captain.nginx.outcome") == "applied"]
    steps = {c["name"]: c for c in children(spans, applied[0])}
    assert {"nginx render", "nginx test", "nginx reload"} <= set(steps) or \
        {"nginx test", "nginx reload"} <= set(steps), steps
    assert steps["nginx reload"]["attributes"]["captain.nginx.reloaded"] is True
    assert all(s["status"].get("code", 0) != 2 for s in spans
               if s["kind"] != CLIENT), [(s["name"], s["status"]) for s in spans]
    assert receiver.errors == []
