"""The controller driving a real Docker Swarm (our own dockerd from t/docker_engine.py): deploy,
redeploy, rollback, scale, delete, crash recovery, a Docker outage, and orphan reporting --
all through the controller's CapRover API, checked against what Docker itself reports.

Test traffic stays on this machine: the controller on 127.0.0.1, dockerd on a unix socket, and
HTTP only inside the containers this run created (docker exec ... wget 127.0.0.1).
"""

import json
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import free_port, wait_until
from controller_harness import base_env
from docker_engine import API
from test_controller_api import PASSWORD, Api, definition

APP_NETWORK = "captain-overlay-network"
ROLLOUT_DEADLINE_S = 90


@pytest.fixture
def start_swarm_api(start_controller, swarm, tmp_path):
    """start(data_dir=None) -> a logged-in Api on a controller managing the private Swarm."""
    def start(data_dir=None, **extra_env):
        port = free_port()
        data = data_dir or tmp_path / f"data-{port}"
        env = base_env(CAPTAIN_PASSWORD=PASSWORD, CAPTAIN_DATA_DIR=str(data),
                       CAPTAIN_DOCKER_SOCKET=swarm.socket,
                       # Short Swarm monitor and breaker reset so rollbacks and recoveries
                       # happen within a test's patience.
                       CAPTAIN_UPDATE_MONITOR="3s", CAPTAIN_DOCKER_BREAKER_RESET="3s",
                       CAPTAIN_DEPLOY_TIMEOUT="120s", **extra_env)
        controller = start_controller("--listen", f"127.0.0.1:{port}", env=env)
        controller.wait_connectable(port)
        api = Api(controller, port, data)
        assert api.login()["status"] == 100
        wait_for(lambda: health(api)["checks"]["docker"]["state"] == "ok", "docker connected",
                 timeout=30)
        return api
    return start


@pytest.fixture
def sapi(start_swarm_api):
    return start_swarm_api()


def wait_for(predicate, what, timeout=ROLLOUT_DEADLINE_S, interval=0.3):
    return wait_until(predicate, what, timeout, interval)


def health(api, path="/health"):
    with urllib.request.urlopen(f"http://127.0.0.1:{api.port}{path}", timeout=10) as r:
        return json.loads(r.read())


def ready_status(api):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{api.port}/health/ready", timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def metrics(api):
    with urllib.request.urlopen(f"http://127.0.0.1:{api.port}/metrics", timeout=10) as r:
        return r.read().decode()


def service(engine, app):
    status, body = engine.api("GET", f"{API}/services/srv-captain--{app}")
    return body if status == 200 else None


def tasks(engine, app):
    filters = json.dumps({"service": [f"srv-captain--{app}"]})
    status, body = engine.api("GET", f"{API}/tasks?filters={urllib.parse.quote(filters)}")
    assert status == 200, body
    return body


def running_tasks(engine, app, image=None):
    return [t for t in tasks(engine, app)
            if t["Status"]["State"] == "running" and t["DesiredState"] == "running"
            and (image is None or t["Spec"]["ContainerSpec"]["Image"] == image)]


def served_body(engine, task):
    """What the app in one task's container answers on its own port 80 (inside the container)."""
    container = task["Status"]["ContainerStatus"]["ContainerID"]
    return engine.docker("exec", container, "/bin/busybox", "wget", "-qO-",
                         "http://127.0.0.1/").stdout


def deploy(api, app, image, request_id=None):
    headers = {"X-Request-ID": request_id} if request_id else None
    envelope = api.v2("POST", f"/user/apps/appData/{app}?detached=1", definition(image),
                      headers=headers)
    assert envelope["status"] == 101, envelope
    return envelope


def finished_build(api, app):
    """Polls GET appData as the caprover CLI does until the deploy is over."""
    def done():
        data = api.v2("GET", f"/user/apps/appData/{app}")["data"]
        return data if not data["isAppBuilding"] else None
    return wait_for(done, f"the deploy of {app} to finish")


def log_text(build):
    return "\n".join(line for line in build["logs"]["lines"] if line)


def audit_actions(api, request_id):
    return [(r["action"], r["result"]) for r in api.audit_rows() if r["request_id"] == request_id]


# --------------------------------------------------------------------------------------------


def test_deploy_creates_the_service_with_the_expected_spec(sapi, swarm):
    sapi.register("hello")
    sapi.update("hello", instanceCount=1, envVars=[{"key": "GREETING", "value": "hi there"}])
    deploy(sapi, "hello", swarm.images["web1"], request_id="deploy-hello-1")
    build = finished_build(sapi, "hello")
    assert build["isBuildFailed"] is False, log_text(build)
    assert "Deployed version 0" in log_text(build)

    spec = service(swarm, "hello")["Spec"]
    container = spec["TaskTemplate"]["ContainerSpec"]
    assert container["Image"] == swarm.images["web1"]
    assert "GREETING=hi there" in container["Env"]
    assert spec["Labels"]["com.caprover.managed"] == "true"
    assert spec["Mode"]["Replicated"]["Replicas"] == 1
    assert spec["UpdateConfig"]["Order"] == "start-first"  # no volumes
    assert spec["UpdateConfig"]["FailureAction"] == "rollback"
    status, network = swarm.api("GET", f"{API}/networks/{APP_NETWORK}")
    assert status == 200 and network["Attachable"] is True and network["Driver"] == "overlay"
    attached = spec["TaskTemplate"]["Networks"][0]
    assert attached["Target"] == network["Id"]
    assert "srv-captain--hello" in attached["Aliases"]

    running = running_tasks(swarm, "hello", swarm.images["web1"])
    assert len(running) == 1
    assert served_body(swarm, running[0]) == "web v1\n"

    app = sapi.apps()["hello"]
    assert app["deployedVersion"] == 0
    assert app["versions"][0]["deployedImageName"] == swarm.images["web1"]
    # The deploy and its outcome are audited under the client's request id.
    assert audit_actions(sapi, "deploy-hello-1") == [("apps.deploy", "ok"),
                                                     ("apps.deploy.converged", "ok")]


def test_redeploy_rolls_the_new_image_out(sapi, swarm):
    sapi.register("roll")
    deploy(sapi, "roll", swarm.images["web1"])
    assert finished_build(sapi, "roll")["isBuildFailed"] is False
    deploy(sapi, "roll", swarm.images["web2"])
    build = finished_build(sapi, "roll")
    assert build["isBuildFailed"] is False, log_text(build)
    assert "Deployed version 1" in log_text(build)

    assert service(swarm, "roll")["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] == \
        swarm.images["web2"]
    running = running_tasks(swarm, "roll")
    assert [t["Spec"]["ContainerSpec"]["Image"] for t in running] == [swarm.images["web2"]]
    assert served_body(swarm, running[0]) == "web v2\n"
    app = sapi.apps()["roll"]
    assert [(v["version"], v.get("deployedImageName")) for v in app["versions"]] == [
        (0, swarm.images["web1"]), (1, swarm.images["web2"])]
    assert app["deployedVersion"] == 1


def test_a_failing_image_is_rolled_back_and_reported(sapi, swarm):
    sapi.register("flaky")
    deploy(sapi, "flaky", swarm.images["web1"])
    assert finished_build(sapi, "flaky")["isBuildFailed"] is False
    deploy(sapi, "flaky", swarm.images["broken"], request_id="deploy-flaky-broken")
    build = finished_build(sapi, "flaky")
    assert build["isBuildFailed"] is True
    text = log_text(build)
    assert "Version 1 failed and Swarm rolled back to the previous version" in text, text
    assert "non-zero exit (1)" in text, text

    # Swarm runs version 0 again and the app still says so.
    assert service(swarm, "flaky")["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] == \
        swarm.images["web1"]
    running = wait_for(lambda: running_tasks(swarm, "flaky", swarm.images["web1"]),
                       "version 0 running again")
    assert served_body(swarm, running[0]) == "web v1\n"
    app = sapi.apps()["flaky"]
    assert app["deployedVersion"] == 0
    assert "deployedImageName" not in app["versions"][1]
    assert ("apps.deploy.rolled_back", "error:rolled_back") in \
        audit_actions(sapi, "deploy-flaky-broken")


def test_a_failing_first_deploy_fails_without_leaving_a_service(sapi, swarm):
    sapi.register("never")
    deploy(sapi, "never", swarm.images["broken"])
    build = finished_build(sapi, "never")
    assert build["isBuildFailed"] is True
    assert "Deploy of version 0 failed" in log_text(build)
    wait_for(lambda: service(swarm, "never") is None, "the failed service to be removed")


def test_scale_to_three_and_to_zero(sapi, swarm):
    sapi.register("scaled")
    deploy(sapi, "scaled", swarm.images["web1"])
    assert finished_build(sapi, "scaled")["isBuildFailed"] is False

    assert sapi.update("scaled", instanceCount=3)["status"] == 100
    wait_for(lambda: len(running_tasks(swarm, "scaled")) == 3, "3 running tasks")
    assert service(swarm, "scaled")["Spec"]["Mode"]["Replicated"]["Replicas"] == 3

    assert sapi.update("scaled", instanceCount=0)["status"] == 100
    wait_for(lambda: not [t for t in tasks(swarm, "scaled") if t["Status"]["State"] == "running"],
             "no running task")
    assert service(swarm, "scaled")["Spec"]["Mode"]["Replicated"]["Replicas"] == 0


def test_delete_removes_the_service_and_the_volumes_asked_for(sapi, swarm):
    sapi.register("keeper", hasPersistentData=True)
    sapi.update("keeper", volumes=[{"containerPath": "/data", "volumeName": "keeper-data"}])
    deploy(sapi, "keeper", swarm.images["web1"])
    assert finished_build(sapi, "keeper")["isBuildFailed"] is False
    spec = service(swarm, "keeper")["Spec"]
    assert spec["UpdateConfig"]["Order"] == "stop-first"  # two tasks must not share a volume
    assert spec["TaskTemplate"]["ContainerSpec"]["Mounts"][0]["Source"] == "captain--keeper-data"
    assert swarm.api("GET", f"{API}/volumes/captain--keeper-data")[0] == 200

    envelope = sapi.v2("POST", "/user/apps/appDefinitions/delete",
                       {"appName": "keeper", "volumes": ["keeper-data"]})
    assert envelope["status"] == 100, envelope
    wait_for(lambda: service(swarm, "keeper") is None, "the service to be removed")
    wait_for(lambda: swarm.api("GET", f"{API}/volumes/captain--keeper-data")[0] == 404,
             "the volume to be removed", timeout=60)
    # Deleting again is a clean 1111, and nothing of ours is left in Swarm.
    again = sapi.v2("POST", "/user/apps/appDefinitions/delete", {"appName": "keeper"})
    assert again["status"] == 1111


def test_a_controller_killed_mid_deploy_finishes_after_restart(start_swarm_api, swarm, tmp_path):
    data = tmp_path / "crash-data"
    api = start_swarm_api(data_dir=data)
    api.register("phoenix")
    deploy(api, "phoenix", swarm.images["web1"])
    api.controller.proc.kill()  # SIGKILL: no cleanup, no graceful stop
    api.controller.proc.wait(timeout=10)

    restarted = start_swarm_api(data_dir=data)
    build = finished_build(restarted, "phoenix")
    assert build["isBuildFailed"] is False, log_text(build)
    assert restarted.apps()["phoenix"]["deployedVersion"] == 0
    running = running_tasks(swarm, "phoenix", swarm.images["web1"])
    assert len(running) == 1 and served_body(swarm, running[0]) == "web v1\n"


def breaker_state(api, family):
    for line in metrics(api).splitlines():
        if line.startswith("captain_docker_circuit_breaker_state{") and \
                f'family="{family}"' in line and line.endswith(" 1"):
            return line.split('state="')[1].split('"')[0]
    return None


def test_docker_outage_readiness_errors_breaker_and_recovery(sapi, swarm):
    sapi.register("steady")
    deploy(sapi, "steady", swarm.images["web1"])
    assert finished_build(sapi, "steady")["isBuildFailed"] is False
    assert ready_status(sapi)[0] == 200

    swarm.stop()
    status, body = wait_for(lambda: (lambda r: r if r[0] == 503 else None)(ready_status(sapi)),
                            "readiness to fail", timeout=20)
    assert body["status"] == "degraded" and body["checks"]["docker"]["state"] == "degraded", body
    assert body["checks"]["docker"]["reason"].startswith("unreachable"), body

    # Changes Swarm must follow are refused clearly, and nothing is stored.
    for _ in range(4):
        envelope = sapi.v2("POST", "/user/apps/appDefinitions/update",
                           {"appName": "steady", "instanceCount": 2})
        assert envelope["status"] == 1000, envelope
        assert envelope["description"].startswith("Docker is unavailable"), envelope
    assert sapi.apps()["steady"]["instanceCount"] == 1
    assert breaker_state(sapi, "system") == "open"
    envelope = sapi.v2("POST", "/user/apps/appData/steady?detached=1",
                       definition(swarm.images["web2"]))
    assert envelope["status"] == 1000 and "circuit breaker open" in envelope["description"]
    assert [v["version"] for v in sapi.apps()["steady"]["versions"]] == [0]

    swarm.start()
    wait_for(lambda: ready_status(sapi)[0] == 200, "readiness to recover", timeout=30)
    # After the reset timeout a trial call goes through and closes the breaker.
    wait_for(lambda: sapi.update("steady", instanceCount=2)["status"] == 100,
             "the API to accept changes again", timeout=30)
    assert breaker_state(sapi, "system") == "closed"
    wait_for(lambda: len(running_tasks(swarm, "steady")) == 2, "2 running tasks")


def test_orphan_services_are_reported_and_left_alone(start_swarm_api, swarm):
    spec = {"Name": "srv-captain--stray",
            "Labels": {"com.caprover.managed": "true", "captain.app": "stray"},
            "TaskTemplate": {"ContainerSpec": {"Image": swarm.images["web1"]}},
            "Mode": {"Replicated": {"Replicas": 0}}}
    status, body = swarm.api("POST", f"{API}/services/create", spec)
    assert status == 201, body

    api = start_swarm_api()
    wait_for(lambda: any(line.get("msg", "").startswith("orphan service")
                         and line.get("service") == "srv-captain--stray"
                         for line in api.controller.log_lines()), "the orphan report")
    assert "captain_swarm_orphan_services 1" in metrics(api)
    assert service(swarm, "stray") is not None  # never deleted silently
