"""captain-controller's CapRover-compatible /api/v2 against the real binary and a real SQLite
store in a temp data dir: envelopes, auth, validation errors, app round trips, deploy records,
audit rows, metrics and durability across kill -9.

Run with Debian's interpreter: /usr/bin/python3 -m pytest -q t/test_controller_api.py
"""

import http.client
import json
import re
import socket
import sqlite3
import subprocess
import threading
import time

import pytest

from conftest import free_port
from controller_harness import base_env

PASSWORD = "correct horse battery"


class Api:
    """A client for one controller: JSON in, (HTTP status, envelope or text) out."""

    def __init__(self, controller, port, data_dir):
        self.controller = controller
        self.port = port
        self.data_dir = data_dir
        self.token = None

    def call(self, method, path, body=None, token=None, headers=None, raw_body=None,
             source_ip=None):
        hdrs = {"x-namespace": "captain", "Connection": "close"}
        auth = token if token is not None else self.token
        if auth:
            hdrs["x-captain-auth"] = auth
        data = None
        if raw_body is not None:
            data = raw_body
            hdrs["Content-Type"] = "application/json"
        elif body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        conn = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=30,
            source_address=(source_ip, 0) if source_ip else None)
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            payload = resp.read()
            self.last_headers = dict((k.lower(), v) for k, v in resp.getheaders())
        finally:
            conn.close()
        ctype = self.last_headers.get("content-type", "")
        if ctype.startswith("application/json"):
            return resp.status, json.loads(payload)
        return resp.status, payload.decode(errors="replace")

    def v2(self, method, path, body=None, **kw):
        status, envelope = self.call(method, "/api/v2" + path, body, **kw)
        assert status == 200, (status, envelope)
        assert list(envelope) == ["status", "description", "data"], envelope
        return envelope

    def login(self, password=PASSWORD, **kw):
        envelope = self.v2("POST", "/login", {"password": password}, token="", **kw)
        if envelope["status"] == 100:
            self.token = envelope["data"]["token"]
        return envelope

    def apps(self):
        envelope = self.v2("GET", "/user/apps/appDefinitions")
        assert envelope["status"] == 100, envelope
        return {a["appName"]: a for a in envelope["data"]["appDefinitions"]}

    def register(self, name, **extra):
        return self.v2("POST", "/user/apps/appDefinitions/register", {"appName": name, **extra})

    def update(self, name, **fields):
        return self.v2("POST", "/user/apps/appDefinitions/update", {"appName": name, **fields})

    def audit_rows(self):
        db = sqlite3.connect(f"file:{self.data_dir}/captain.db?mode=ro", uri=True, timeout=10)
        try:
            db.row_factory = sqlite3.Row
            return [dict(r) for r in db.execute("SELECT * FROM audit_events ORDER BY id")]
        finally:
            db.close()


@pytest.fixture
def start_api(start_controller, tmp_path):
    def start(extra_env=None, data_dir=None, login=True):
        port = free_port()
        data = data_dir or tmp_path / f"data-{port}"
        env = base_env(CAPTAIN_PASSWORD=PASSWORD, CAPTAIN_DATA_DIR=str(data),
                       **(extra_env or {}))
        controller = start_controller("--listen", f"127.0.0.1:{port}", env=env)
        controller.wait_connectable(port)
        api = Api(controller, port, data)
        if login:
            assert api.login()["status"] == 100
        return api
    return start


@pytest.fixture
def api(start_api):
    return start_api()


# --------------------------------------------------------------------------------------------
# Envelope, namespace, versions, unknown paths


def test_login_returns_token_in_caprover_envelope(start_api):
    api = start_api(login=False)
    envelope = api.login()
    assert envelope["status"] == 100
    assert envelope["description"] == "Login succeeded"
    token = envelope["data"]["token"]
    assert token.count(".") == 2
    assert api.last_headers["content-type"].startswith("application/json")
    assert api.v2("GET", "/user/system/info")["data"] == {
        "hasRootSsl": False, "forceSsl": False, "rootDomain": "captain.localhost",
        "captainSubDomain": "captain"}


def test_wrong_password_is_1105(start_api):
    api = start_api(login=False)
    assert api.login("wrong")["status"] == 1105
    assert api.login("wrong")["description"] == "Invalid credentials"
    assert api.login("")["status"] == 1000


def test_password_is_stored_hashed_never_plain(api):
    db = sqlite3.connect(f"file:{api.data_dir}/captain.db?mode=ro", uri=True)
    stored = dict(db.execute("SELECT key, value FROM settings").fetchall())
    db.close()
    assert stored["auth.password_hash"].startswith("$y$")
    raw = b"".join(p.read_bytes() for p in api.data_dir.iterdir() if p.is_file())
    assert PASSWORD.encode() not in raw


def test_user_routes_need_a_valid_token(api):
    for token in ["", "garbage", api.token[:-2] + ("AA" if not api.token.endswith("AA") else "BB")]:
        envelope = api.v2("GET", "/user/apps/appDefinitions", token=token)
        assert envelope == {"status": 1106, "description": "Auth token corrupted", "data": {}}
    # A token signed by another controller (another secret) is refused too.
    assert api.v2("GET", "/user/system/info")["status"] == 100


def test_token_from_another_controller_is_refused(start_api):
    first, second = start_api(), start_api()
    envelope = second.v2("GET", "/user/system/info", token=first.token)
    assert envelope["status"] == 1106


def test_token_expires(start_api):
    api = start_api(extra_env={"CAPTAIN_TOKEN_TTL": "1s"})
    assert api.v2("GET", "/user/system/info")["status"] == 100
    time.sleep(2.2)
    envelope = api.v2("GET", "/user/system/info")
    assert envelope["status"] == 1106
    assert "expired" in envelope["description"]


def test_token_survives_restart(start_api, tmp_path):
    data = tmp_path / "shared-data"
    first = start_api(data_dir=data)
    first.controller.proc.terminate()
    assert first.controller.wait(10) == 0
    second = start_api(data_dir=data, login=False)
    assert second.v2("GET", "/user/system/info", token=first.token)["status"] == 100


def test_namespace_other_than_captain_is_refused(api):
    envelope = api.v2("GET", "/user/system/info", headers={"x-namespace": "other"})
    assert envelope == {"status": 1000, "description": "Namespace unknown", "data": {}}
    # Missing x-namespace means "captain", as in CapRover.
    status, envelope = api.call("GET", "/api/v2/user/system/info",
                                headers={"x-namespace": "captain"})
    assert envelope["status"] == 100


@pytest.mark.parametrize("path", ["/api/v1/user/system/info", "/api/v3/login"])
def test_other_api_versions_answer_1000(api, path):
    status, envelope = api.call("GET", path)
    assert status == 200
    assert envelope == {"status": 1000, "description": "This captain instance only accepts API v2",
                        "data": {}}


def test_unknown_user_path_checks_token_then_404(api):
    status, body = api.call("GET", "/api/v2/user/no/such/thing", token="")
    assert status == 200 and body["status"] == 1106
    status, body = api.call("GET", "/api/v2/user/no/such/thing")
    assert (status, body) == (404, "Not Found")
    status, body = api.call("GET", "/api/v2/nothing-here")
    assert (status, body) == (404, "Not Found")


def test_request_and_trace_ids_are_returned_and_continued(api):
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    api.call("GET", "/api/v2/user/system/info",
             headers={"X-Request-ID": "my-req-1", "traceparent": f"00-{trace}-00f067aa0ba902b7-01"})
    assert api.last_headers["x-request-id"] == "my-req-1"
    assert api.last_headers["traceparent"].startswith(f"00-{trace}-")
    assert not api.last_headers["traceparent"].startswith(f"00-{trace}-00f067aa0ba902b7")
    lines = [line for line in api.controller.log_lines()
             if line.get("msg") == "request" and line.get("request_id") == "my-req-1"]
    assert lines and lines[0]["trace_id"] == trace
    assert api.last_headers["traceparent"].endswith("-01")  # the caller's flags, kept
    api.call("GET", "/api/v2/user/system/info",
             headers={"traceparent": f"00-{trace}-00f067aa0ba902b7-03"})
    assert api.last_headers["traceparent"].endswith("-03")  # sampled and random (Level 2)
    # A trace started here (export off: nothing sampled) has a random trace id: flag 02.
    api.call("GET", "/api/v2/user/system/info")
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-02", api.last_headers["traceparent"])
    # A malformed id is replaced, never echoed.
    api.call("GET", "/api/v2/user/system/info", headers={"X-Request-ID": "bad id\u00e9"})
    assert api.last_headers["x-request-id"] != "bad id"


# --------------------------------------------------------------------------------------------
# Body handling


def test_malformed_json_is_1110_with_position(api):
    status, envelope = api.call("POST", "/api/v2/user/apps/appDefinitions/register",
                                raw_body=b'{"appName": "x",')
    assert status == 200
    assert envelope["status"] == 1110
    # 16 bytes sent; the parser stopped after reading past the end (byte 17, 1-based).
    assert envelope["description"].startswith("malformed JSON body at byte 17: ")
    assert "unexpected end of input" in envelope["description"]
    _, envelope = api.call("POST", "/api/v2/user/apps/appDefinitions/register",
                           raw_body=b'{"appName": x}')
    assert envelope["description"].startswith("malformed JSON body at byte 13: ")


@pytest.mark.parametrize("raw", [b"[]", b"42", b'"str"'])
def test_non_object_body_is_1110(api, raw):
    _, envelope = api.call("POST", "/api/v2/user/apps/appDefinitions/register", raw_body=raw)
    assert envelope == {"status": 1110, "description": "request body must be a JSON object",
                        "data": {}}


def test_body_over_the_limit_is_413(start_api):
    api = start_api(extra_env={"CAPTAIN_MAX_BODY": "1k"})
    status, body = api.call("POST", "/api/v2/user/apps/appDefinitions/update",
                            raw_body=json.dumps({"appName": "a", "description": "x" * 4000}).encode())
    assert status == 413
    assert api.v2("GET", "/user/system/info")["status"] == 100  # still serving


def test_source_uploads_are_read_from_disk_and_refused_precisely(api):
    """What the caprover CLI sends for a tar deploy (fields sourceFile and gitHash), spooled to
    disk by the listener; the deploy itself is t/test_source_deploy.py's."""
    api.register("tar-app")
    uploads = api.data_dir / "builds" / "uploads"

    def upload(body, boundary="x"):
        return api.call("POST", "/api/v2/user/apps/appData/tar-app?detached=1", raw_body=body,
                        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})

    tar_part = (b'--x\r\nContent-Disposition: form-data; name="sourceFile"; filename="a.tar"\r\n'
                b'Content-Type: application/octet-stream\r\n\r\nTAR\r\n')
    # No Docker here: refused with the reason, nothing kept.
    status, envelope = upload(tar_part + b'--x\r\nContent-Disposition: form-data; '
                                         b'name="gitHash"\r\n\r\n\r\n--x--\r\n')
    assert status == 200 and envelope["status"] == 1000, envelope
    assert "Docker" in envelope["description"], envelope
    # A body cut short, or both a file and a definition: 1110 / 1108 with the reason.
    status, envelope = upload(tar_part)
    assert envelope["status"] == 1110, envelope
    assert "ends before its closing boundary" in envelope["description"], envelope
    status, envelope = upload(tar_part + b'--x\r\nContent-Disposition: form-data; '
                                         b'name="captainDefinitionContent"\r\n\r\n{}\r\n--x--')
    assert envelope["status"] == 1108, envelope
    assert "Either sourceFile or captainDefinitionContent" in envelope["description"]
    assert list(uploads.iterdir()) == []
    assert api.apps()["tar-app"]["versions"] == []
    # multipart anywhere else is refused.
    status, envelope = api.call("POST", "/api/v2/user/apps/appDefinitions/update",
                                raw_body=tar_part + b"--x--",
                                headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert envelope["status"] == 1108 and "only by uploads" in envelope["description"], envelope


# --------------------------------------------------------------------------------------------
# Apps


def test_register_list_update_delete_round_trip(api):
    assert api.register("web")["description"] == "App Definition Saved"
    app = api.apps()["web"]
    assert app["instanceCount"] == 1
    assert app["containerHttpPort"] == 80
    assert app["captainDefinitionRelativeFilePath"] == "./captain-definition"
    assert app["isAppBuilding"] is False
    assert app["hasPersistentData"] is False

    envelope = api.update("web", instanceCount=3, containerHttpPort=8080, websocketSupport=True,
                          envVars=[{"key": "DB_URL", "value": "postgres://db/x"}],
                          ports=[{"containerPort": 53, "hostPort": 5353}],
                          description="front end")
    assert envelope == {"status": 100, "description": "Updated App Definition Saved", "data": {}}
    app = api.apps()["web"]
    assert app["instanceCount"] == 3
    assert app["containerHttpPort"] == 8080
    assert app["websocketSupport"] is True
    assert app["envVars"] == [{"key": "DB_URL", "value": "postgres://db/x"}]
    assert app["ports"] == [{"containerPort": 53, "hostPort": 5353}]
    assert app["description"] == "front end"

    envelope = api.v2("POST", "/user/apps/appDefinitions/delete", {"appName": "web"})
    assert envelope["status"] == 100 and envelope["description"] == "App is deleted"
    assert "web" not in api.apps()


def test_register_twice_is_1103(api):
    assert api.register("dup")["status"] == 100
    envelope = api.register("dup")
    assert envelope["status"] == 1103
    assert envelope["description"] == "App Name already exists. Please use a different name"


@pytest.mark.parametrize("name", ["", "UPPER", "-lead", "trail-", "dou--ble", "a" * 50, "sp ace",
                                  "captain", "captain-nginx", "dot.ted", "ünï"])
def test_bad_app_names_are_1104(api, name):
    envelope = api.register(name)
    assert envelope["status"] in (1104, 1110), envelope
    assert envelope["status"] == 1104 or name == ""
    assert envelope["description"]
    assert name not in api.apps()


def test_longest_allowed_name_is_accepted(api):
    assert api.register("a" * 49)["status"] == 100


@pytest.mark.parametrize("fields, message_part", [
    ({"instanceCount": 51}, "instanceCount"),
    ({"instanceCount": -1}, "instanceCount"),
    ({"instanceCount": 2.5}, "instanceCount"),
    ({"instanceCount": "3"}, "instanceCount"),
    ({"envVars": [{"key": "1BAD", "value": "x"}]}, "envVars"),
    ({"envVars": [{"key": "OK", "value": "nul\u0000byte"}]}, "envVars"),
    ({"ports": [{"containerPort": 0, "hostPort": 80}]}, "containerPort"),
    ({"ports": [{"containerPort": 80, "hostPort": 65536}]}, "hostPort"),
    ({"containerHttpPort": 70000}, "containerHttpPort"),
    ({"volumes": [{"containerPath": "/data/../etc", "volumeName": "v"}]}, "volumes"),
    ({"volumes": [{"containerPath": "relative", "volumeName": "v"}]}, "volumes"),
    ({"websocketSupport": "yes"}, "websocketSupport"),
])
def test_invalid_updates_are_1110_and_change_nothing(api, fields, message_part):
    api.register("strict")
    before = api.apps()["strict"]
    envelope = api.update("strict", **fields)
    assert envelope["status"] == 1110, envelope
    assert message_part in envelope["description"], envelope
    assert api.apps()["strict"] == before


def test_boundary_values_are_accepted(api):
    api.register("edge", hasPersistentData=True)
    assert api.update("edge", instanceCount=0)["status"] == 100
    assert api.update("edge", instanceCount=50)["status"] == 100
    assert api.update("edge", ports=[{"containerPort": 1, "hostPort": 65535}])["status"] == 100
    assert api.update("edge", volumes=[{"containerPath": "/var/lib/x", "volumeName": "x-data"}],
                      envVars=[{"key": "_A1", "value": ""}])["status"] == 100
    app = api.apps()["edge"]
    assert app["instanceCount"] == 50
    assert app["volumes"][0]["containerPath"] == "/var/lib/x"


def test_unknown_app_is_1111(api):
    assert api.update("ghost", instanceCount=1)["status"] == 1111
    envelope = api.v2("POST", "/user/apps/appDefinitions/delete", {"appName": "ghost"})
    assert envelope["status"] == 1111
    assert "ghost" in envelope["description"]
    assert api.update("", instanceCount=1)["status"] in (1110, 1111)
    assert api.v2("POST", "/user/apps/appDefinitions/update", {})["description"] == \
        "appName is required"


def test_delete_many_is_all_or_nothing(api):
    api.register("one")
    api.register("two")
    envelope = api.v2("POST", "/user/apps/appDefinitions/delete",
                      {"appNames": ["one", "ghost", "two"]})
    assert envelope["status"] == 1111
    assert {"one", "two"} <= set(api.apps())
    envelope = api.v2("POST", "/user/apps/appDefinitions/delete", {"appNames": ["one", "two"]})
    assert envelope["status"] == 100
    assert not {"one", "two"} & set(api.apps())


def test_custom_domains(api):
    api.register("site")
    api.register("other")
    envelope = api.v2("POST", "/user/apps/appDefinitions/customdomain",
                      {"appName": "site", "customDomain": "WWW.Example.COM"})
    assert envelope == {"status": 100, "description":
                        "Custom domain is enabled for: site at www.example.com", "data": {}}
    assert api.apps()["site"]["customDomain"] == [{"publicDomain": "www.example.com",
                                                   "hasSsl": False}]
    taken = api.v2("POST", "/user/apps/appDefinitions/customdomain",
                   {"appName": "other", "customDomain": "www.example.com"})
    assert taken["status"] == 1110 and "attached to app site" in taken["description"]
    for bad in ["exa mple.com", "-x.example.com", "a" * 64 + ".com", "x..y.com", "nodot"]:
        envelope = api.v2("POST", "/user/apps/appDefinitions/customdomain",
                          {"appName": "site", "customDomain": bad})
        assert envelope["status"] == 1104, (bad, envelope)
    envelope = api.v2("POST", "/user/apps/appDefinitions/removecustomdomain",
                      {"appName": "site", "customDomain": "www.example.com"})
    assert envelope["status"] == 100
    assert api.apps()["site"]["customDomain"] == []
    envelope = api.v2("POST", "/user/apps/appDefinitions/removecustomdomain",
                      {"appName": "site", "customDomain": "www.example.com"})
    assert envelope["status"] == 1111


# --------------------------------------------------------------------------------------------
# Deploy


def definition(image):
    return {"captainDefinitionContent": json.dumps({"schemaVersion": 2, "imageName": image}),
            "gitHash": ""}


def test_deploy_without_docker_is_refused_clearly(api):
    # This controller's Docker socket does not exist (t/test_swarm_deploy.py has a real one).
    api.register("svc")
    envelope = api.v2("POST", "/user/apps/appData/svc?detached=1", definition("nginx:1.25-alpine"),
                      headers={"X-Request-ID": "deploy-no-docker"})
    assert envelope["status"] == 1000, envelope
    assert envelope["description"].startswith("Docker is unavailable: "), envelope
    assert "no-docker.sock" in envelope["description"], envelope
    assert api.apps()["svc"]["versions"] == []  # nothing recorded
    assert api.v2("GET", "/user/apps/appData/svc")["data"]["isAppBuilding"] is False
    rows = [(r["action"], r["result"]) for r in api.audit_rows()
            if r["request_id"] == "deploy-no-docker"]
    assert rows == [("apps.deploy", "error:1000")]
    # An app that was never deployed has no service: updating and deleting it need no Docker.
    assert api.update("svc", instanceCount=2)["status"] == 100
    assert api.v2("POST", "/user/apps/appDefinitions/delete", {"appName": "svc"})["status"] == 100


@pytest.mark.parametrize("content, code", [
    (json.dumps({"schemaVersion": 2, "imageName": "Nginx"}), 1110),
    (json.dumps({"schemaVersion": 2, "imageName": "nginx:bad tag"}), 1110),
    (json.dumps({"schemaVersion": 2, "imageName": "nginx:" + "t" * 129}), 1110),
    (json.dumps({"schemaVersion": 1, "imageName": "nginx"}), 1110),
    (json.dumps({"schemaVersion": 2, "templateId": "node/18"}), 1110),
    (json.dumps({"schemaVersion": 2}), 1110),
    (json.dumps({"schemaVersion": 2, "dockerfilePath": "./Dockerfile"}), 1110),
    ("{not json", 1110),
])
def test_bad_captain_definitions_are_refused(api, content, code):
    api.register("bad-deploy")
    envelope = api.v2("POST", "/user/apps/appData/bad-deploy?detached=1",
                      {"captainDefinitionContent": content, "gitHash": ""})
    assert envelope["status"] == code, envelope
    assert api.apps()["bad-deploy"]["versions"] == []


def test_deploy_to_unknown_app_is_1111(api):
    envelope = api.v2("POST", "/user/apps/appData/nope?detached=1", definition("nginx"))
    assert envelope["status"] == 1111
    assert api.v2("GET", "/user/apps/appData/nope")["status"] == 1111


# --------------------------------------------------------------------------------------------
# Back-off, audit, health, metrics, backups


def test_login_back_off_per_client_ip(start_api):
    api = start_api(login=False)
    for _ in range(5):
        assert api.login("wrong")["status"] == 1105
    blocked = api.login(PASSWORD)  # even the right password: the block stands
    assert blocked["status"] == 1113
    assert "Wait" in blocked["description"]
    # Another client address (still loopback) is not affected.
    assert api.login(PASSWORD, source_ip="127.0.0.2")["status"] == 100


def test_success_does_not_count_toward_back_off(start_api):
    api = start_api(login=False)
    for _ in range(8):
        assert api.login(PASSWORD)["status"] == 100
    for _ in range(4):
        assert api.login("wrong")["status"] == 1105
    assert api.login(PASSWORD)["status"] == 100


def test_audit_rows_match_the_calls(api):
    api.register("audited")
    api.update("audited", instanceCount=60)          # refused
    api.update("audited", instanceCount=2)
    api.v2("POST", "/user/apps/appDefinitions/delete", {"appName": "audited"},
           headers={"X-Request-ID": "delete-1"})
    api.login("wrong")
    rows = api.audit_rows()
    summary = [(r["action"], r["resource"], r["result"]) for r in rows]
    assert summary == [
        ("auth.login", "session", "ok"),
        ("apps.register", "app:audited", "ok"),
        ("apps.update", "app:audited", "error:1110"),
        ("apps.update", "app:audited", "ok"),
        ("apps.delete", "app:audited", "ok"),
        ("auth.login", "session", "error:1105"),
    ]
    for row in rows:
        assert row["ip"] == "127.0.0.1"
        assert len(row["trace_id"]) == 32
        assert row["request_id"]
        assert row["at"].endswith("Z")
    assert rows[4]["request_id"] == "delete-1"
    assert rows[2]["detail"].startswith("instanceCount")
    logged = [line for line in api.controller.log_lines() if line.get("msg") == "audit"]
    assert [(line["action"], line["result"]) for line in logged] == \
        [(a, r) for a, _, r in summary]
    assert PASSWORD not in api.controller.stdout()


def test_health_endpoints(api):
    """Typed checks; without Docker /health says degraded (and why) and /health/ready is 503."""
    status, body = api.call("GET", "/health/live")
    assert (status, body) == (200, {"status": "ok"})
    # This controller's Docker socket does not exist: the API serves, deploys cannot.
    status, health = api.call("GET", "/health")
    assert status == 200 and api.last_headers["content-type"].startswith("application/json")
    assert list(health) == ["status", "ready", "version", "checks"], health
    assert health["status"] == "degraded" and health["ready"] is False, health
    assert health["version"] == "0.1.0"
    checks = health["checks"]
    assert list(checks) == ["store", "docker", "nginx"], checks
    assert all(set(check) == {"state", "reason"} for check in checks.values()), checks
    assert checks["store"] == {"state": "ok", "reason": ""}
    assert checks["docker"]["state"] == "degraded", checks
    assert checks["docker"]["reason"].startswith("unreachable: cannot connect to "), checks
    assert checks["docker"]["reason"].endswith("no-docker.sock: No such file or directory"), checks
    # nginx_reload=off: nothing to check, said so, and not a reason to be unready.
    assert checks["nginx"]["state"] == "ok", checks
    assert checks["nginx"]["reason"].startswith("not managed"), checks
    # /health/ready: the same body, and 503 because the status is not ok.
    status, ready = api.call("GET", "/health/ready")
    assert status == 503 and ready == health, (status, ready)


def test_checkhealth_answers_200_with_the_instance_id_as_caprover_does(start_api):
    """CapRover's GET /checkhealth (src/app.ts): 200 and the instance's health-check UUID as
    text/html, whatever its dependencies say (this controller has no Docker)."""
    api = start_api(login=False)
    status, first = api.call("GET", "/checkhealth")
    assert status == 200, (status, first)
    assert api.last_headers["content-type"] == "text/html; charset=utf-8"
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                        first), first
    assert api.call("GET", "/checkhealth/")[1] == first  # the same instance, the same id
    other = start_api(login=False)
    assert other.call("GET", "/checkhealth")[1] != first


def test_versioninfo_reports_our_version_and_no_update(api):
    """CapRover's GET /api/v2/user/system/versionInfo, offline: our version, nothing newer.
    The caprover CLI asks for /versioninfo (ApiManager.getVersionInfo); both spellings work."""
    expected = {"currentVersion": "0.1.0", "latestVersion": "0.1.0", "changeLogMessage": "",
                "canUpdate": False}
    for path in ("/user/system/versioninfo", "/user/system/versionInfo/"):
        envelope = api.v2("GET", path)
        assert envelope["status"] == 100 and envelope["description"] == "Version Info Retrieved"
        assert envelope["data"] == expected and list(envelope["data"]) == list(expected)
    # Behind the token, like every /user route.
    assert api.v2("GET", "/user/system/versioninfo", token="nope")["status"] == 1106


def test_metrics_count_requests_and_logins_and_pass_promtool(api):
    api.register("m1")
    api.login("wrong")
    status, text = api.call("GET", "/metrics")
    assert status == 200
    assert api.last_headers["content-type"].startswith("text/plain; version=0.0.4")
    assert ('captain_controller_api_requests_total{route="/user/apps/appDefinitions/register",'
            'method="POST",status="200",api_status="100"} 1') in text
    assert 'captain_controller_logins_total{result="wrong_password"} 1' in text
    assert 'captain_controller_logins_total{result="success"} 1' in text
    assert 'captain_controller_api_request_duration_seconds_count{route="/login"} 2' in text
    check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr


def test_backup_export_import_round_trip(start_api):
    source = start_api()
    source.register("keep-me")
    source.update("keep-me", instanceCount=4, envVars=[{"key": "K", "value": "v"}])
    backup = source.v2("GET", "/user/system/backup")
    assert backup["status"] == 100
    assert set(backup["data"]["appDefinitions"]) == {"keep-me"}

    target = start_api()
    envelope = target.v2("POST", "/user/system/backup", backup["data"])
    assert envelope["status"] == 100 and envelope["data"] == {"imported": 1}
    assert target.apps()["keep-me"]["instanceCount"] == 4
    again = target.v2("POST", "/user/system/backup", backup["data"])
    assert again["status"] == 1103
    broken = {"appDefinitions": {"Bad Name": {"appName": "Bad Name"}, "fine": {"appName": "fine"}}}
    refused = target.v2("POST", "/user/system/backup", broken)
    assert refused["status"] == 1110
    assert "fine" not in target.apps()


# --------------------------------------------------------------------------------------------
# Durability


def test_kill_9_during_updates_loses_no_acknowledged_write(start_api, tmp_path):
    data = tmp_path / "crash-data"
    api = start_api(data_dir=data)
    apps = [f"crash-{i}" for i in range(4)]
    for name in apps:
        assert api.register(name)["status"] == 100

    acknowledged = {name: 0 for name in apps}
    stop = threading.Event()

    def writer(name):
        count = 0
        while not stop.is_set() and count < 10_000:
            count += 1
            try:
                envelope = api.update(name, instanceCount=count % 51,
                                      description=f"update {count}")
            except (OSError, http.client.HTTPException, AssertionError, ValueError):
                return
            if envelope["status"] == 100:
                acknowledged[name] = count

    threads = [threading.Thread(target=writer, args=(n,)) for n in apps]
    for t in threads:
        t.start()
    time.sleep(1.5)
    api.controller.proc.kill()  # SIGKILL mid-burst
    api.controller.proc.wait(10)
    stop.set()
    for t in threads:
        t.join(30)
    assert all(v > 0 for v in acknowledged.values()), acknowledged

    db = sqlite3.connect(str(data / "captain.db"))
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()

    restarted = start_api(data_dir=data)
    stored = restarted.apps()
    for name, count in acknowledged.items():
        description = stored[name]["description"]
        assert description.startswith("update ")
        # Every acknowledged write is there; at most one more (committed, reply lost) too.
        assert int(description.split()[1]) in (count, count + 1), (name, count, description)


def test_store_dir_that_cannot_be_created_fails_clearly(start_controller, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a dir")
    port = free_port()
    controller = start_controller("--listen", f"127.0.0.1:{port}",
                                  env=base_env(CAPTAIN_PASSWORD=PASSWORD,
                                               CAPTAIN_DATA_DIR=str(blocker / "data")))
    assert controller.wait(10) == 1
    assert "data directory" in controller.stderr()


def test_first_run_without_password_fails_clearly(start_controller):
    port = free_port()
    controller = start_controller("--listen", f"127.0.0.1:{port}", password=None)
    assert controller.wait(10) == 1
    assert "CAPTAIN_PASSWORD" in controller.stderr()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()


def test_example_controller_yaml_starts_the_controller(start_controller, tmp_path):
    # conf/controller.yaml documents every key with its default: it must stay loadable.
    from conftest import REPO
    port = free_port()
    controller = start_controller("--config", str(REPO / "conf" / "controller.yaml"),
                                  "--listen", f"127.0.0.1:{port}",
                                  "--data-dir", str(tmp_path / "yaml-data"))
    controller.wait_connectable(port)
    typo = tmp_path / "typo.yaml"
    typo.write_text("listen: 127.0.0.1:1\ndata_dri: /x\n")
    bad = start_controller("--config", str(typo))
    assert bad.wait(10) == 2
    assert f'{typo}:2: unknown setting "data_dri"' in bad.stderr()


@pytest.mark.parametrize("key, value, words", [
    ("CAPTAIN_NGINX_LISTEN", "80; evil", "httpListen"),
    ("CAPTAIN_METRICS_ALLOW", "10.0.0.0/8,not-an-address", "metrics.allow[1]"),
    ("CAPTAIN_METRICS_TOKEN", "short", "metrics.bearerToken"),
])
def test_bad_nginx_settings_stop_the_start(start_controller, tmp_path, key, value, words):
    port = free_port()
    controller = start_controller("--listen", f"127.0.0.1:{port}", env=base_env(
        CAPTAIN_PASSWORD=PASSWORD, CAPTAIN_DATA_DIR=str(tmp_path / "data"),
        CAPTAIN_NGINX_RELOAD="pid", CAPTAIN_NGINX_CONF_DIR=str(tmp_path / "conf"),
        CAPTAIN_NGINX_LOG_DIR=str(tmp_path / "logs"), CAPTAIN_NGINX_TEMP_DIR=str(tmp_path / "tmp"),
        **{key: value}))
    assert controller.wait(10) == 2
    assert "nginx settings: " in controller.stderr() and words in controller.stderr(), \
        controller.stderr()
    assert not (tmp_path / "conf").exists()  # nothing rendered


def test_deeply_nested_json_is_answered_not_crashed(api):
    # A million levels of nesting: parsed, refused and freed without recursion blowing the stack.
    deep = b"[" * 1_000_000 + b"]" * 1_000_000
    _, envelope = api.call("POST", "/api/v2/user/apps/appDefinitions/register", raw_body=deep)
    assert envelope["status"] == 1110
    _, envelope = api.call("POST", "/api/v2/user/apps/appDefinitions/register",
                           raw_body=b"[" * 3_000_000)
    assert envelope["status"] == 1110 and "malformed JSON" in envelope["description"]
    assert api.v2("GET", "/user/system/info")["status"] == 100


def test_changepassword_as_caprover_answers_it(api):
    path = "/user/changepassword"
    assert api.v2("POST", path, {"oldPassword": PASSWORD, "newPassword": "short"}) == {
        "status": 1000, "description": "Password is too small.", "data": {}}
    assert api.v2("POST", path, {"oldPassword": "not it", "newPassword": "long enough 1"}) == {
        "status": 1105, "description": "Old password is incorrect.", "data": {}}
    old_token = api.token
    assert api.v2("POST", path, {"oldPassword": PASSWORD, "newPassword": "long enough 1"}) == {
        "status": 100, "description": "Password changed.", "data": {}}
    # Every token issued before is void, as in CapRover; the new password logs in.
    assert api.v2("GET", "/user/system/info", token=old_token)["status"] == 1106
    assert api.login(PASSWORD)["status"] == 1105
    assert api.login("long enough 1")["status"] == 100
    assert api.v2("GET", "/user/system/info")["status"] == 100
    rows = [(r["action"], r["result"]) for r in api.audit_rows()
            if r["action"] == "auth.changepassword"]
    assert rows == [("auth.changepassword", "error:1000"), ("auth.changepassword", "error:1105"),
                    ("auth.changepassword", "ok")]


def test_out_of_range_numbers_nulls_and_wrong_types_are_1110_never_1000(api):
    api.register("typed")
    body = b'{"appName":"typed","instanceCount":1e400}'
    status, envelope = api.call("POST", "/api/v2/user/apps/appDefinitions/update", raw_body=body)
    assert envelope["status"] == 1110, envelope
    assert envelope["description"].startswith("malformed JSON body at byte 36: "), envelope
    assert "1e400" in envelope["description"]
    for path, raw in (("/login", b'{"password": -1e400}'),
                      ("/user/system/forcessl", b'{"isEnabled": [1e999]}')):
        status, envelope = api.call("POST", "/api/v2" + path, raw_body=raw)
        assert envelope["status"] == 1110 and "number overflow" in envelope["description"], (
            path, envelope)
    assert api.v2("POST", "/login", {"password": None}, token="") == {
        "status": 1110, "description": "password must be a string, not null", "data": {}}
    for fields in ({"instanceCount": None, "envVars": [None]},
                   {"envVars": [{"key": None, "value": "x"}]},
                   {"instanceCount": 1e308}, {"ports": [{"containerPort": "80"}]},
                   {"volumes": {"a": None}}):
        envelope = api.update("typed", **fields)
        assert envelope["status"] == 1110, (fields, envelope)


def test_login_back_off_survives_a_restart(start_api, tmp_path):
    data = tmp_path / "back-off-data"
    api = start_api(data_dir=data, login=False)
    for _ in range(5):
        assert api.login("wrong")["status"] == 1105
    api.controller.proc.terminate()  # SIGTERM: a clean stop, then a new process on the same store
    assert api.controller.proc.wait(10) == 0
    restarted = start_api(data_dir=data, login=False)
    # The failures were in the store: the same address is still refused, even the right password.
    blocked = restarted.login(PASSWORD)
    assert blocked["status"] == 1113, blocked
    assert "Wait" in blocked["description"]
    assert restarted.login(PASSWORD, source_ip="127.0.0.2")["status"] == 100
