"""One trace across the product: a client's request through the generated nginx to the
controller's API, and a deploy started that way, arrive at one OTLP receiver as one trace —
nginx's SERVER span, the controller's API span as its child, the deploy's stage spans under
that, Docker's calls under the stages."""

import http.client
import json

from captain_stack import ROOT_DOMAIN, Stack
from docker_engine import IMAGES
from otlp_receiver import OtlpReceiver
from test_controller_api import PASSWORD, definition

CAPTAIN = f"captain.{ROOT_DOMAIN}"
TRACE_ID = "5bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "10f067aa0ba902b7"


def via_nginx(stack, method, path, body=None, token=None, traceparent=None):
    conn = http.client.HTTPConnection("127.0.0.1", stack.nginx_port, timeout=60)
    headers = {"Host": CAPTAIN, "Content-Type": "application/json", "x-namespace": "captain"}
    if token:
        headers["x-captain-auth"] = token
    if traceparent:
        headers["traceparent"] = traceparent
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers=headers)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def service_of(span):
    return span["resource"].get("service.name")


def test_a_deploy_through_nginx_is_one_trace(start_controller, swarm, tmp_path):
    receiver = OtlpReceiver()
    stack = Stack(start_controller, swarm, tmp_path,
                  CAPTAIN_TRACE_EXPORT_ENDPOINT=receiver.endpoint)
    try:
        stack.start_controller()
        stack.start_nginx()
        status, login = via_nginx(stack, "POST", "/api/v2/login", {"password": PASSWORD})
        assert status == 200 and login["status"] == 100, login
        token = login["data"]["token"]
        status, reg = via_nginx(stack, "POST", "/api/v2/user/apps/appDefinitions/register",
                                {"appName": "traced", "hasPersistentData": False}, token)
        assert reg["status"] == 100, reg

        traceparent = f"00-{TRACE_ID}-{CALLER_SPAN}-01"
        status, started = via_nginx(stack, "POST", "/api/v2/user/apps/appData/traced?detached=1",
                                    definition(IMAGES["web1"]), token, traceparent)
        assert started["status"] == 101, started

        def deployed(spans):
            names = {s["name"] for s in spans if s["traceId"] == TRACE_ID}
            return any("rollout" in n for n in names) and any("reload" in n for n in names)

        spans = [s for s in receiver.wait_for(deployed, timeout=120) if s["traceId"] == TRACE_ID]
        assert not receiver.errors, receiver.errors
        by_id = {s["spanId"]: s for s in spans}

        # nginx's span is the caller's child; the controller's API span is nginx's child.
        (edge,) = [s for s in spans if service_of(s) == "captain-nginx"]
        assert edge["parentSpanId"] == CALLER_SPAN
        assert edge["kind"] == 2
        assert edge["attributes"]["url.path"] == "/api/v2/user/apps/appData/traced"
        api_spans = [s for s in spans if service_of(s) == "captain-controller" and s["kind"] == 2]
        assert len(api_spans) == 1, [s["name"] for s in api_spans]
        (api,) = api_spans
        assert api["parentSpanId"] == edge["spanId"]
        assert api["attributes"]["http.request.method"] == "POST"

        # Every other span of the trace descends from the API span.
        def root_of(span):
            seen = 0
            while span["parentSpanId"] in by_id and seen < 100:
                span = by_id[span["parentSpanId"]]
                seen += 1
            return span

        for s in spans:
            if s is edge:
                continue
            assert root_of(s) is edge, (s["name"], s["parentSpanId"])
        stage_names = {s["name"] for s in spans if s["kind"] == 1}
        docker_calls = [s for s in spans if s["kind"] == 3]
        assert any("rollout" in n for n in stage_names), stage_names
        assert docker_calls, "no Docker call was traced"
        assert all(by_id.get(s["parentSpanId"]) is not None for s in docker_calls)
    finally:
        stack.shutdown()
        receiver.stop()
