"""The private Docker engine harness itself (t/docker_engine.py): a swarm in a network namespace
of its own that runs the locally imported test images. Traffic stays inside the containers and
the namespace we create."""

import json
import os
import socket
import time
import urllib.parse

import pytest

from conftest import free_port, wait_until
from docker_engine import API, MANAGED_LABEL

NETWORK = "cdk-test-net"


def tasks_of(engine, service):
    filters = urllib.parse.quote(json.dumps({"service": [service]}))
    status, tasks = engine.api("GET", f"{API}/tasks?filters={filters}")
    assert status == 200, tasks
    return tasks


def wait_for_task(engine, service, predicate, timeout=20):
    """Polls the service's tasks until one satisfies `predicate`; returns that task."""
    deadline = time.monotonic() + timeout
    tasks = []
    while time.monotonic() < deadline:
        tasks = tasks_of(engine, service)
        for task in tasks:
            if predicate(task):
                return task
        time.sleep(0.2)
    states = [(t["Status"]["State"], t["Status"].get("Err")) for t in tasks]
    raise AssertionError(f"no matching task of {service} within {timeout} s: {states}")


def create_service(engine, name, image, *options):
    engine.docker("service", "create", "--detach", "--name", name, "--label", MANAGED_LABEL,
                  *options, image)


@pytest.fixture
def overlay(swarm):
    swarm.docker("network", "create", "--driver", "overlay", "--attachable", NETWORK)
    yield NETWORK
    swarm.remove_services()  # endpoints must be gone before the network can go
    swarm.remove_network(NETWORK)


def test_engine_answers_with_swarm_active(swarm):
    status, version = swarm.api("GET", f"{API}/version")
    assert status == 200, version
    assert tuple(map(int, version["ApiVersion"].split("."))) >= (1, 41)
    status, info = swarm.api("GET", f"{API}/info")
    assert status == 200
    assert info["Swarm"]["LocalNodeState"] == "active"
    assert info["Swarm"]["ControlAvailable"] is True


def test_web_service_serves_its_page(swarm, overlay):
    create_service(swarm, "cdk-web", swarm.images["web1"], "--replicas", "1",
                   "--network", overlay)
    task = wait_for_task(swarm, "cdk-web", lambda t: t["Status"]["State"] == "running")
    container = task["Status"]["ContainerStatus"]["ContainerID"]
    # httpd may need a moment after the task turned running; ask from inside the container.
    deadline = time.monotonic() + 10
    while True:
        run = swarm.docker("exec", container, "/bin/busybox", "wget", "-qO-",
                           "http://127.0.0.1/", check=False, timeout=15)
        if run.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "web v1\n"


def test_broken_image_task_fails_with_exit_code_1(swarm):
    create_service(swarm, "cdk-broken", swarm.images["broken"], "--restart-condition", "none")
    task = wait_for_task(swarm, "cdk-broken",
                         lambda t: t["Status"]["State"] in ("failed", "shutdown", "complete")
                         and t["Status"].get("ContainerStatus", {}).get("ExitCode") is not None)
    assert task["Status"]["State"] in ("failed", "shutdown"), task["Status"]
    assert task["Status"]["ContainerStatus"]["ExitCode"] == 1, task["Status"]


def test_restart_keeps_swarm_and_services(swarm):
    create_service(swarm, "cdk-survivor", swarm.images["web2"], "--replicas", "1")
    swarm.stop()
    assert not swarm.running()
    swarm.start()
    status, info = swarm.api("GET", f"{API}/info")
    assert info["Swarm"]["LocalNodeState"] == "active"
    status, service = swarm.api("GET", f"{API}/services/cdk-survivor")
    assert status == 200, service
    assert service["Spec"]["Labels"]["com.caprover.managed"] == "true"


def listening_ports(net_tcp_text):
    """Ports in LISTEN state in a /proc/net/tcp text."""
    ports = set()
    for line in net_tcp_text.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 3 and fields[3] == "0A":
            ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def test_the_engine_lives_in_a_network_namespace_of_its_own(swarm, overlay):
    """Its swarm ports and what its tasks publish are in its own namespace (another swarm on
    this machine cannot collide with it on 7946), reached from here at engine.published_host."""
    dockerd = swarm.process.pid
    assert os.readlink(f"/proc/{dockerd}/ns/net") != os.readlink("/proc/self/ns/net")
    inside = listening_ports(open(f"/proc/{dockerd}/net/tcp").read())
    assert 7946 in inside, sorted(inside)  # Swarm's gossip, in the engine's namespace ...
    assert 7946 not in listening_ports(open("/proc/self/net/tcp").read())  # ... not the host's

    port = free_port()
    # On an overlay network, as the controller's services are: host-mode ports are mapped
    # through docker_gwbridge (there is no default bridge).
    create_service(swarm, "cdk-published", swarm.images["web1"], "--replicas", "1",
                   "--network", overlay, "--publish", f"mode=host,target=80,published={port}")
    wait_for_task(swarm, "cdk-published", lambda t: t["Status"]["State"] == "running")

    def fetch(host):
        with socket.create_connection((host, port), timeout=2) as conn:
            conn.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
            response = b""
            while chunk := conn.recv(4096):  # HTTP/1.0: the server closes after the body
                response += chunk
            return response
    body = wait_until(lambda: _quietly(fetch, swarm.published_host), "the published port", 20)
    assert body.endswith(b"web v1\n"), body
    with pytest.raises(OSError):
        fetch("127.0.0.1")


def _quietly(fn, *args):
    try:
        return fn(*args)
    except OSError:
        return None
