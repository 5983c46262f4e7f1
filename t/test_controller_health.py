"""captain-controller, first cut: serves GET /health/live, answers JSON errors, stops cleanly.

Every test starts the real binary on 127.0.0.1 with an ephemeral port. The binary is
$CAPTAIN_BUILD_DIR/captain-controller (default <repo>/build). Run with Debian's interpreter:
    /usr/bin/python3 -m pytest -q t/test_controller_health.py
"""

import http.client
import json
import re
import signal
import socket
import time

import pytest

from conftest import free_port
from controller_harness import STOP_DEADLINE_S, base_env

RFC3339_UTC_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")

def http_get(port, path, method="GET"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request(method, path, headers={"Connection": "close"})
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        conn.close()


def assert_not_connectable(port):
    with pytest.raises(OSError):
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            pass


def test_serves_health_live_on_ephemeral_loopback_port(start_controller):
    port = free_port()
    controller = start_controller("--listen", f"127.0.0.1:{port}")
    controller.wait_connectable(port)

    status, content_type, body = http_get(port, "/health/live")

    assert status == 200
    assert content_type.split(";")[0].strip() == "application/json"
    assert json.loads(body) == {"status": "ok"}
    listening = [line for line in controller.log_lines() if line["msg"] == "listening"]
    assert listening and listening[0]["address"] == f"127.0.0.1:{port}"


def test_unknown_path_answers_404_json(start_controller):
    port = free_port()
    controller = start_controller("--listen", f"127.0.0.1:{port}")
    controller.wait_connectable(port)

    status, content_type, body = http_get(port, "/no/such/thing")

    assert status == 404
    assert content_type.split(";")[0].strip() == "application/json"
    assert json.loads(body) == {"status": "error", "description": "not found: /no/such/thing"}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_exits_0_promptly_and_logs_stop_line(start_controller, sig):
    port = free_port()
    controller = start_controller("--listen", f"127.0.0.1:{port}")
    controller.wait_connectable(port)
    assert http_get(port, "/health/live")[0] == 200

    controller.proc.send_signal(sig)
    started = time.monotonic()
    assert controller.wait(timeout=STOP_DEADLINE_S) == 0
    assert time.monotonic() - started < STOP_DEADLINE_S

    lines = controller.log_lines()  # every stdout line is one JSON object
    for line in lines:
        assert RFC3339_UTC_MS.match(line["ts"]), line
        assert line["level"] in ("debug", "info", "warn", "error"), line
    assert lines[-1]["msg"] == "stopped"
    assert any(line["msg"] == "stopping" and line.get("signal") == sig.name for line in lines)
    assert_not_connectable(port)


def test_sigterm_with_idle_keep_alive_client_exits_0_promptly(start_controller):
    # An idle keep-alive connection is waited out, not cut; the keep-alive timeout bounds it.
    port = free_port()
    controller = start_controller("--listen", f"127.0.0.1:{port}")
    controller.wait_connectable(port)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/health/live")
        response = conn.getresponse()
        assert response.status == 200
        assert response.getheader("Connection", "").lower() != "close"
        response.read()

        controller.proc.send_signal(signal.SIGTERM)
        assert controller.wait(timeout=STOP_DEADLINE_S) == 0
    finally:
        conn.close()


def test_sigterm_right_after_start_still_exits_0(start_controller):
    # The signal may land before the accept loop runs; it must not be lost.
    port = free_port()
    controller = start_controller("--listen", f"127.0.0.1:{port}")
    controller.wait_connectable(port)  # only bound, possibly not yet accepting
    controller.proc.send_signal(signal.SIGTERM)
    assert controller.wait(timeout=STOP_DEADLINE_S) == 0


def test_captain_listen_env_is_honoured(start_controller):
    port = free_port()
    controller = start_controller(env=base_env(CAPTAIN_LISTEN=f"127.0.0.1:{port}"))
    controller.wait_connectable(port)

    assert http_get(port, "/health/live")[0] == 200


def test_listen_flag_overrides_captain_listen_env(start_controller):
    env_port = free_port()
    flag_port = free_port()
    while flag_port == env_port:
        flag_port = free_port()
    controller = start_controller("--listen", f"127.0.0.1:{flag_port}",
                                  env=base_env(CAPTAIN_LISTEN=f"127.0.0.1:{env_port}"))
    controller.wait_connectable(flag_port)

    assert http_get(flag_port, "/health/live")[0] == 200
    assert_not_connectable(env_port)


@pytest.mark.parametrize("value", ["127.0.0.1:99999", "nohost", "127.0.0.1:", ":3000",
                                   "127.0.0.1:0", "::1:3000", "127.0.0.1:30a0"])
def test_invalid_listen_flag_exits_2_naming_the_value(start_controller, value):
    controller = start_controller("--listen", value)

    assert controller.wait(timeout=STOP_DEADLINE_S) == 2
    assert f'"{value}"' in controller.stderr()


def test_invalid_captain_listen_env_exits_2_naming_the_value(start_controller):
    controller = start_controller(env=base_env(CAPTAIN_LISTEN="nohost"))

    assert controller.wait(timeout=STOP_DEADLINE_S) == 2
    stderr = controller.stderr()
    assert "CAPTAIN_LISTEN" in stderr and '"nohost"' in stderr


def test_unknown_flag_exits_2(start_controller):
    controller = start_controller("--no-such-flag")

    assert controller.wait(timeout=STOP_DEADLINE_S) == 2
    assert "--no-such-flag" in controller.stderr()


def test_help_exits_0_with_usage(start_controller):
    controller = start_controller("--help")

    assert controller.wait(timeout=STOP_DEADLINE_S) == 0
    assert "--listen" in controller.stdout()


def test_port_already_in_use_exits_1_naming_the_address(start_controller):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        controller = start_controller("--listen", f"127.0.0.1:{port}")

        assert controller.wait(timeout=STOP_DEADLINE_S) == 1
    assert f"127.0.0.1:{port}" in controller.stderr()


def test_second_controller_on_the_same_port_exits_1(start_controller):
    # Guards against SO_REUSEPORT, which would let two controllers share one port silently.
    port = free_port()
    first = start_controller("--listen", f"127.0.0.1:{port}")
    first.wait_connectable(port)

    second = start_controller("--listen", f"127.0.0.1:{port}")

    assert second.wait(timeout=STOP_DEADLINE_S) == 1
    assert f"127.0.0.1:{port}" in second.stderr()
    assert first.proc.poll() is None
