"""The captain-nginx image (docker/captain-nginx/) for real: built from a debootstrapped Debian
base on the tests' private dockerd (t/captain_images.py), run as the Swarm service captain-nginx
with the module loaded, first on a hand-written tree, then on the tree the real controller
renders, proxying a deployed app through Docker's DNS.

Traffic stays on this machine and in containers this test created: nginx's port is published in
host mode in the test engine's own network namespace (reached at engine.published_host); the
only outside traffic is apt's to the Debian archive
while the images are built.
"""

import http.client
import json
import time
import urllib.parse

import pytest

import captain_images
from conftest import Response, free_port, wait_until
from controller_harness import base_env
from docker_engine import API
from test_controller_api import PASSWORD, Api, definition

APP_NETWORK = "captain-overlay-network"
NGINX_SERVICE = "captain-nginx"
MODULE = "/usr/lib/nginx/modules/ngx_http_captain_module.so"
ROOT_DOMAIN = "captain.test"
TEST_LABEL = "com.tyaprover.test=captain-nginx-image"  # what this test removes afterwards
WAIT_S = 90


@pytest.fixture(scope="module")
def nginx_image(docker_engine, tmp_path_factory):
    """captain-nginx built on the private engine; the debootstrapped base stays in this
    session's temp dir."""
    timings = {}
    started = time.monotonic()
    image = captain_images.build_all(docker_engine, tmp_path_factory.mktemp("captain-images"),
                                     timings)
    steps = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in timings.items())
    print(f"\ncaptain-nginx image: {time.monotonic() - started:.1f} s ({steps})")
    return image


@pytest.fixture
def services(docker_engine):
    """create(name, *docker service create args) -> the service; removed at teardown."""
    def create(name, *args):
        docker_engine.docker("service", "create", "--detach", "--no-resolve-image",
                             "--name", name, "--label", TEST_LABEL, *args)
    yield create
    docker_engine.remove_services(label=TEST_LABEL)


def timed(what, started):
    print(f"{what}: {time.monotonic() - started:.1f} s")


def diagnostics(engine, services=(), conf_dir=None, controller=None):
    """What a failure message needs: tasks and logs of the services, the tree, the controller."""
    parts = []
    for name in services:
        ps = engine.docker("service", "ps", "--no-trunc", name, check=False)
        logs = engine.docker("service", "logs", "--raw", "--tail", "30", name, check=False)
        parts.append(f"--- docker service ps {name}:\n{ps.stdout}{ps.stderr}"
                     f"--- docker service logs {name}:\n{logs.stdout}{logs.stderr}")
    if conf_dir is not None:
        listing = sorted(str(p.relative_to(conf_dir)) for p in conf_dir.rglob("*"))
        parts.append(f"--- {conf_dir}: {listing}")
    if controller is not None:
        out = controller.stdout().splitlines()[-40:]
        parts.append("--- controller stdout (last 40 lines):\n" + "\n".join(out) +
                     "\n--- controller stderr:\n" + controller.stderr()[-3000:])
    return "\n".join(parts)


def get(engine, port, host, timeout=5):
    """GET / on <the engine's published host>:<port> with exactly one Host header, `host`."""
    conn = http.client.HTTPConnection(engine.published_host, port, timeout=timeout)
    try:
        conn.putrequest("GET", "/", skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host)
        conn.endheaders()
        resp = conn.getresponse()
        return Response(resp.status, resp.getheaders(), resp.read())
    finally:
        conn.close()


def wait_for_answer(engine, port, host, expect_body, what, **diag):
    """Polls <published host>:<port>/ with Host: <host> until it answers 200 `expect_body`."""
    deadline = time.monotonic() + WAIT_S
    last = None
    while time.monotonic() < deadline:
        try:
            r = get(engine, port, host)
            if r.status == 200 and r.body == expect_body:
                return r
            last = f"{r.status} {r.body[:200]!r}"
        except OSError as e:
            last = repr(e)
        time.sleep(0.5)
    pytest.fail(f"{what}: no 200 {expect_body!r} from {engine.published_host}:{port} "
                f"(Host: {host}) within "
                f"{WAIT_S} s; last answer: {last}\n{diagnostics(engine, **diag)}")


def wait_for(predicate, what, timeout=WAIT_S, interval=0.3):
    return wait_until(predicate, what, timeout, interval)


# --------------------------------------------------------------------------------------------


HAND_WRITTEN_CONF = f"""\
load_module {MODULE};
pid /run/nginx.pid;
error_log /var/log/nginx/error.log notice;
events {{ worker_connections 256; }}
http {{
    client_body_temp_path /var/lib/nginx/captain/client_body;
    proxy_temp_path /var/lib/nginx/captain/proxy;
    fastcgi_temp_path /var/lib/nginx/captain/fastcgi;
    uwsgi_temp_path /var/lib/nginx/captain/uwsgi;
    scgi_temp_path /var/lib/nginx/captain/scgi;
    access_log /var/log/nginx/access.log;
    captain_trace on;
    server {{
        listen 80;
        location / {{ return 200 "@BODY@\\n"; }}
    }}
}}
"""


def write_generation(conf_dir, n, body):
    gen = conf_dir / f"gen-{n}"
    gen.mkdir(parents=True)
    (gen / "nginx.conf").write_text(HAND_WRITTEN_CONF.replace("@BODY@", body))
    tmp = conf_dir / "current.tmp"
    tmp.symlink_to(gen.name)
    tmp.rename(conf_dir / "current")


def test_image_waits_for_its_tree_then_serves_and_reloads_it(docker_engine, nginx_image,
                                                             services, tmp_path):
    """The image alone: the entrypoint waits for current/nginx.conf, nginx loads the module,
    a HUP through Docker (what the controller sends) makes it serve the next generation."""
    engine = docker_engine
    network = "captain-image-test-net"
    engine.docker("network", "create", "--driver", "overlay", "--attachable", network)
    try:
        conf_dir = tmp_path / "generated"
        conf_dir.mkdir()
        port = free_port()
        started = time.monotonic()
        services("captain-nginx-alone", "--network", network,
                 "--mount", f"type=bind,source={conf_dir},target={conf_dir}",
                 "--env", f"CAPTAIN_NGINX_CONF_DIR={conf_dir}",
                 "--publish", f"mode=host,target=80,published={port}", nginx_image)
        diag = {"services": ["captain-nginx-alone"], "conf_dir": conf_dir}

        def waiting_logged():
            logs = engine.docker("service", "logs", "--raw", "captain-nginx-alone", check=False)
            return "waiting for" in logs.stdout + logs.stderr
        wait_for(waiting_logged, "the entrypoint to say it waits for the tree", timeout=WAIT_S)
        timed("captain-nginx task up and waiting", started)

        write_generation(conf_dir, 1, "generation 1")
        r = wait_for_answer(engine, port, "anything", b"generation 1\n", "first tree", **diag)
        assert r.header("X-Request-ID"), r.headers
        assert r.header("traceparent"), r.headers
        timed("serving the first tree", started)

        write_generation(conf_dir, 2, "generation 2")
        status, tasks = engine.api(
            "GET", f"{API}/tasks?filters=" + urllib.parse.quote(
                json.dumps({"service": ["captain-nginx-alone"], "desired-state": ["running"]})))
        assert status == 200, tasks
        for task in tasks:
            container = task["Status"]["ContainerStatus"]["ContainerID"]
            engine.docker("kill", "--signal", "HUP", container)
        wait_for_answer(engine, port, "anything", b"generation 2\n", "reloaded tree", **diag)
        timed("serving the second tree after HUP", started)
    finally:
        docker_engine.remove_services(label=TEST_LABEL)
        engine.remove_network(network)


def test_controller_renders_and_nginx_proxies_an_app_by_docker_dns(
        swarm, nginx_image, services, start_controller, tmp_path):
    """The whole path: the controller (docker reload mode) renders the tree into the shared
    directory, captain-nginx starts on it, a deployed app is reachable through nginx by its
    Swarm service name resolved by Docker's DNS, with the module's X-Request-ID."""
    engine = swarm
    conf_dir = tmp_path / "generated-nginx"
    conf_dir.mkdir()
    api_port, http_port = free_port(), free_port()
    started = time.monotonic()
    env = base_env(
        CAPTAIN_PASSWORD=PASSWORD, CAPTAIN_DATA_DIR=str(tmp_path / "data"),
        CAPTAIN_DOCKER_SOCKET=engine.socket, CAPTAIN_UPDATE_MONITOR="3s",
        CAPTAIN_DOCKER_BREAKER_RESET="3s", CAPTAIN_DEPLOY_TIMEOUT="120s",
        CAPTAIN_ROOT_DOMAIN=ROOT_DOMAIN,
        CAPTAIN_NGINX_RELOAD="docker", CAPTAIN_NGINX_SERVICE=NGINX_SERVICE,
        # Task addresses through Docker's DNS (tasks.srv-captain--web): the service's virtual
        # IP needs iptables (IPVS), which this test engine runs without.
        CAPTAIN_NGINX_UPSTREAM="docker-dns-tasks", CAPTAIN_NGINX_CONF_DIR=str(conf_dir),
        CAPTAIN_NGINX_LISTEN="80", CAPTAIN_NGINX_MODULE=MODULE,
        CAPTAIN_NGINX_LOG_DIR="/var/log/nginx", CAPTAIN_NGINX_TEMP_DIR="/var/lib/nginx/captain")
    controller = start_controller("--listen", f"127.0.0.1:{api_port}", env=env)
    controller.wait_connectable(api_port)
    api = Api(controller, api_port, tmp_path / "data")
    assert api.login()["status"] == 100
    diag = {"services": [NGINX_SERVICE, "srv-captain--web"], "conf_dir": conf_dir,
            "controller": controller}

    def network_exists():
        return engine.api("GET", f"{API}/networks/{APP_NETWORK}")[0] == 200
    wait_for(network_exists, f"the controller to create {APP_NETWORK}", timeout=30)
    timed("controller up, overlay network there", started)

    services(NGINX_SERVICE, "--network", APP_NETWORK,
             "--mount", f"type=bind,source={conf_dir},target={conf_dir}",
             "--env", f"CAPTAIN_NGINX_CONF_DIR={conf_dir}",
             "--publish", f"mode=host,target=80,published={http_port}", nginx_image)

    assert api.register("web")["status"] == 100
    envelope = api.v2("POST", "/user/apps/appData/web?detached=1",
                      definition(engine.images["web1"]))
    assert envelope["status"] == 101, envelope

    def deployed():
        data = api.v2("GET", "/user/apps/appData/web")["data"]
        return data if not data["isAppBuilding"] else None
    build = wait_for(deployed, "the deploy of web to finish")
    assert not build["isBuildFailed"], (build, diagnostics(engine, **diag))
    timed("web deployed", started)

    r = wait_for_answer(engine, http_port, f"web.{ROOT_DOMAIN}", b"web v1\n",
                        "web through captain-nginx", **diag)
    assert r.header("X-Request-ID"), r.headers
    timed("web answers through captain-nginx", started)
    # A Host nobody claims gets the default server's 404, never some app.
    assert get(engine, http_port, "nobody.example").status == 404
