"""The production topology for real: docker/captain-stack.yml deployed with `docker stack
deploy` on the tests' private Swarm, both images built from docker/ (captain-nginx publishing
its HTTP and HTTPS ports, captain-controller driving it through the Docker API), an app
deployed through it and served over HTTPS with a certificate from the test CA (pebble); then
the same `docker stack deploy` again, as an operator re-runs it, with no password anywhere.

Where things are: the test engine runs in a network namespace of its own (t/docker_engine.py);
nginx publishes its ports in host mode there, on the namespace's address that this machine
reaches (engine.published_host). pebble runs in that namespace too: its ACME API on the
engine's docker_gwbridge gateway, which the controller's container reaches, and its validation
requests go to nginx's published port (pebble-challtestsrv answers every name with it). The
engine has no iptables, hence CAPTAIN_NGINX_UPSTREAM=docker-dns-tasks (docker/README.md).
The only outside traffic is apt's to the Debian archive while the images are built.
"""

import http.client
import json
import os
import ssl
import subprocess
import time

import pytest

import captain_images
from acme_ca import Pebble
from captain_stack import _SniConnection
from conftest import REPO, free_port, wait_until
from docker_engine import DOCKER_CLI

STACK = "captain"
ROOT = "captain.test"
CAPTAIN = f"captain.{ROOT}"
PASSWORD = "stack first-run password"
EMAIL = "ops@example.org"


@pytest.fixture(scope="module")
def images(docker_engine, tmp_path_factory):
    timings = {}
    workdir = tmp_path_factory.mktemp("captain-images")
    captain_images.ensure_base(docker_engine, workdir, timings)
    nginx = captain_images.build_captain_nginx(docker_engine, workdir, timings)
    controller = captain_images.build_captain_controller(docker_engine, workdir, timings)
    print("\nimages: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
    return nginx, controller


def gateway(engine):
    nets = json.loads(engine.docker("network", "inspect", "docker_gwbridge").stdout)
    return nets[0]["IPAM"]["Config"][0]["Gateway"]


def stack_deploy(engine, env, *files):
    command = [DOCKER_CLI, "-H", engine.host, "stack", "deploy", "--resolve-image", "never"]
    for f in files:
        command += ["-c", str(f)]
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("CAPTAIN_", "DOCKER_"))}
    environment.update(env)
    run = subprocess.run([*command, STACK], capture_output=True, text=True, env=environment,
                         timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout + run.stderr


def api(engine, port, path, body=None, token=None):
    conn = http.client.HTTPConnection(engine.published_host, port, timeout=30)
    try:
        headers = {"Host": CAPTAIN, "Content-Type": "application/json", "Connection": "close"}
        if token:
            headers["x-captain-auth"] = token
        conn.request("POST" if body is not None else "GET", "/api/v2" + path,
                     body=json.dumps(body) if body is not None else None, headers=headers)
        resp = conn.getresponse()
        text = resp.read().decode(errors="replace")
        return json.loads(text) if resp.status == 200 and text.startswith("{") else None
    finally:
        conn.close()


def https_get(engine, port, name, cafile):
    conn = _SniConnection(engine.published_host, port, name,
                          ssl.create_default_context(cafile=str(cafile)))
    try:
        conn.request("GET", "/", headers={"Connection": "close"})
        resp = conn.getresponse()
        return resp.status, resp.read().decode(errors="replace")
    finally:
        conn.close()


def diagnostics(engine):
    out = [engine.docker("service", "ls", check=False).stdout]
    for service in (f"{STACK}_controller", f"{STACK}_nginx"):
        out.append(engine.docker("service", "ps", "--no-trunc", service, check=False).stdout)
        logs = engine.docker("service", "logs", "--raw", "--tail", "60", service, check=False)
        out.append(f"--- {service}:\n{logs.stdout}{logs.stderr}")
    return "\n".join(out)


def test_the_stack_serves_an_app_over_https_and_redeploys_without_the_password(
        docker_engine, images, tmp_path):
    engine = docker_engine
    nginx_image, controller_image = images
    http_port, https_port = free_port(), free_port()
    ca = Pebble(tmp_path / "pebble", http_port=http_port, netns=engine.netns,
                listen_host=gateway(engine), address=engine.published_host)
    ca.start()
    if engine.docker("network", "inspect", "captain-overlay-network", check=False).returncode:
        engine.docker("network", "create", "--driver", "overlay", "--attachable",
                      "captain-overlay-network")
    secret = tmp_path / "password"
    secret.write_text(PASSWORD)
    engine.docker("secret", "create", "captain-password", secret)
    # What this test adds to the stack: trust pebble's TLS certificate.
    override = tmp_path / "test-override.yml"
    override.write_text(json.dumps({
        "version": "3.8",
        "services": {"controller": {
            "environment": {"CAPTAIN_ACME_CA_BUNDLE": "/run/secrets/acme-ca"},
            "secrets": ["captain-password", "acme-ca"]}},
        "secrets": {"acme-ca": {"file": str(ca.listener_cert)}}}))
    env = {"CAPTAIN_NGINX_IMAGE": nginx_image, "CAPTAIN_CONTROLLER_IMAGE": controller_image,
           "CAPTAIN_HTTP_PORT": str(http_port), "CAPTAIN_HTTPS_PORT": str(https_port),
           "CAPTAIN_NGINX_UPSTREAM": "docker-dns-tasks", "CAPTAIN_ROOT_DOMAIN": ROOT,
           "CAPTAIN_ACME_DIRECTORY": ca.directory,
           # This engine's socket, not the machine's /var/run/docker.sock.
           "CAPTAIN_DOCKER_SOCKET_HOST": engine.socket}
    files = (REPO / "docker" / "captain-stack.yml", override)
    try:
        started = time.monotonic()
        stack_deploy(engine, env, *files)

        def logged_in():
            try:
                envelope = api(engine, http_port, "/login", {"password": PASSWORD})
            except OSError:
                return None
            return envelope["data"]["token"] if envelope and envelope["status"] == 100 else None
        try:
            token = wait_until(logged_in, "the API through the stack's nginx", 180)
        except BaseException:
            print(diagnostics(engine))
            raise
        print(f"\nstack up (login through nginx) in {time.monotonic() - started:.1f} s")

        assert api(engine, http_port, "/user/apps/appDefinitions/register", {"appName": "web"},
                   token)["status"] == 100
        definition = {"captainDefinitionContent": json.dumps(
            {"schemaVersion": 2, "imageName": "captain-test/web:1"})}
        assert api(engine, http_port, "/user/apps/appData/web?detached=1", definition,
                   token)["status"] == 101
        wait_until(lambda: not api(engine, http_port, "/user/apps/appData/web", None, token)["data"][
            "isAppBuilding"], "the deploy", 180)
        envelope = api(engine, http_port, "/user/system/enablessl", {"emailAddress": EMAIL}, token)
        assert envelope["status"] == 100, (envelope, diagnostics(engine))
        envelope = api(engine, http_port, "/user/apps/appDefinitions/enablebasedomainssl",
                       {"appName": "web"}, token)
        assert envelope["status"] == 100, (envelope, diagnostics(engine))
        root = ca.root_file()
        wait_until(lambda: https_get(engine, https_port, f"web.{ROOT}", root) == (200, "web v1\n"),
                   "web over HTTPS through the stack", 120)
        # The API over HTTPS too, with its own certificate.
        conn = _SniConnection(engine.published_host, https_port, CAPTAIN,
                              ssl.create_default_context(cafile=str(root)))
        conn.request("GET", "/api/v2/user/system/info", headers={"x-captain-auth": token})
        info = json.loads(conn.getresponse().read())
        conn.close()
        assert info["data"]["hasRootSsl"] is True

        # Re-deploying, as an operator re-runs the same command: no password to give, nothing
        # lost, still served over HTTPS.
        stack_deploy(engine, env, *files)
        time.sleep(5)
        wait_until(lambda: https_get(engine, https_port, f"web.{ROOT}", root) == (200, "web v1\n"),
                   "web over HTTPS after the re-deploy", 120)
        assert logged_in()
    finally:
        engine.docker("stack", "rm", STACK, check=False)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and engine.docker(
                "service", "ls", "-q", "--filter", f"label=com.docker.stack.namespace={STACK}",
                check=False).stdout.strip():
            time.sleep(0.5)
        engine.remove_services()
        while time.monotonic() < deadline and engine.docker(
                "ps", "-aq", "--filter", f"label=com.docker.stack.namespace={STACK}",
                check=False).stdout.strip():
            time.sleep(0.5)
        for volume in ("captain-data", "captain-nginx-conf"):
            engine.docker("volume", "rm", f"{STACK}_{volume}", check=False)
        for name in ("captain-password", f"{STACK}_acme-ca"):
            engine.docker("secret", "rm", name, check=False)
        ca.stop()
