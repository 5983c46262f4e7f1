"""Starting the real captain-controller binary in tests: one process per call, its stdout (JSON
log lines) and stderr captured in files, killed at teardown whatever the outcome. Each process
gets its own data directory (CAPTAIN_DATA_DIR) under the test's tmp_path unless the test passes
one, so no test ever touches /captain/data.
"""

import json
import os
import subprocess
import time

import pytest

from conftest import BUILD_DIR, wait_for_port

BINARY = BUILD_DIR / "captain-controller"

START_DEADLINE_S = 10.0  # generous: the machine is shared and may be busy
STOP_DEADLINE_S = 5.0


# The first-run password the controller needs before it starts serving.
TEST_PASSWORD = "test-password"


def base_env(**extra):
    """The inherited environment without any CAPTAIN_* setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAPTAIN_")}
    env.update(extra)
    return env


class Controller:
    """One captain-controller process with its stdout/stderr captured in files."""

    def __init__(self, args, env, workdir, name):
        self.stdout_path = workdir / f"{name}.stdout"
        self.stderr_path = workdir / f"{name}.stderr"
        self._stdout = open(self.stdout_path, "wb")
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            [str(BINARY), *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._stdout,
            stderr=self._stderr,
        )

    def stdout(self):
        return self.stdout_path.read_text(errors="replace")

    def stderr(self):
        return self.stderr_path.read_text(errors="replace")

    def log_lines(self):
        return [json.loads(line) for line in self.stdout().splitlines() if line.strip()]

    def wait(self, timeout):
        return self.proc.wait(timeout=timeout)

    def wait_connectable(self, port):
        if wait_for_port(port, time.monotonic() + START_DEADLINE_S, self.proc):
            return
        if self.proc.poll() is not None:
            pytest.fail(
                f"controller exited with {self.proc.returncode} before listening on "
                f"127.0.0.1:{port}\nstderr: {self.stderr()}\nstdout: {self.stdout()}"
            )
        pytest.fail(f"controller not connectable on 127.0.0.1:{port} within {START_DEADLINE_S}s")

    def cleanup(self):
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self._stdout.close()
        self._stderr.close()


@pytest.fixture
def start_controller(tmp_path):
    """Factory: start_controller(*args, env=None, password=TEST_PASSWORD) -> Controller; every
    process is killed at teardown, whether or not the test passed. `password` becomes
    CAPTAIN_PASSWORD unless env sets it; None starts the controller without one."""
    if not BINARY.is_file():
        pytest.fail(f"{BINARY} not found: build it (cmake --build <dir> --target "
                    f"captain-controller) and set CAPTAIN_BUILD_DIR=<dir>")
    started = []

    def start(*args, env=None, password=TEST_PASSWORD):
        env = dict(env if env is not None else base_env())
        env.setdefault("CAPTAIN_DATA_DIR", str(tmp_path / f"data{len(started)}"))
        # Never the machine's own Docker: tests that want one pass the private engine's socket.
        env.setdefault("CAPTAIN_DOCKER_SOCKET", str(tmp_path / "no-docker.sock"))
        # Never the machine's nginx either: tests that drive one say how (t/captain_stack.py).
        env.setdefault("CAPTAIN_NGINX_RELOAD", "off")
        if password is not None:
            env.setdefault("CAPTAIN_PASSWORD", password)
        controller = Controller(list(args), env, tmp_path, f"controller{len(started)}")
        started.append(controller)
        return controller

    yield start
    for controller in started:
        controller.cleanup()
