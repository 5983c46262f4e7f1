"""Test harness: real nginx (master + workers) loading the built module, on 127.0.0.1.

Each test writes the part of nginx.conf it is about (an http{} body with server blocks); the
`nginx` fixture wraps it in a complete configuration with every path inside the test's own
directory, starts nginx in the foreground and stops it afterwards.

Tokens replaced in a test's config:  @PORT@ (a free port, or @PORT2@, @PORT3@ for more
listeners), @UPSTREAM@ (the echo upstream's host:port), @DIR@ (the test's nginx prefix).
"""

import http.client
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from echo_upstream import EchoUpstream

REPO = Path(__file__).resolve().parent.parent
BUILD_DIR = Path(os.environ.get("CAPTAIN_BUILD_DIR", REPO / "build")).resolve()
MODULE = BUILD_DIR / "ngx_http_captain_module.so"
NGINX = os.environ.get("CAPTAIN_NGINX", "/usr/sbin/nginx")

# The module built with AddressSanitizer + UndefinedBehaviorSanitizer, run inside Debian's
# nginx (./scripts/test's sanitizer stage): nginx itself is not instrumented, so the runtime is
# preloaded, and every report lands in SANITIZER_LOGS, which each test checks afterwards.
SANITIZED_MODULE = os.environ.get("CAPTAIN_SANITIZED_MODULE")
SANITIZER_LOGS = None
NGINX_ENV = None
if SANITIZED_MODULE:
    MODULE = Path(SANITIZED_MODULE).resolve()
    SANITIZER_LOGS = Path(os.environ.get("CAPTAIN_SANITIZER_LOGS", "/tmp/captain-sanitizer-logs"))
    SANITIZER_LOGS.mkdir(parents=True, exist_ok=True)
    SANITIZER_LOGS.chmod(0o777)  # workers run as nobody when nginx starts as root
    libasan = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True,
                             text=True, check=True).stdout.strip()
    NGINX_ENV = dict(os.environ,
                     LD_PRELOAD=os.path.realpath(libasan),
                     # nginx frees little at exit (its pools die with the process): no leak check.
                     ASAN_OPTIONS=f"detect_leaks=0:log_path={SANITIZER_LOGS}/asan",
                     UBSAN_OPTIONS=f"print_stacktrace=1:halt_on_error=1:"
                                   f"log_path={SANITIZER_LOGS}/ubsan")
START_TIMEOUT = 10.0

CONF_TEMPLATE = """\
@LOAD_MODULE@
worker_processes @WORKERS@;
pid @DIR@/nginx.pid;
error_log @DIR@/error.log info;
daemon off;
master_process on;
events { worker_connections 1024; }
http {
    access_log @DIR@/access.log;
    client_body_temp_path @DIR@/tmp/body;
    proxy_temp_path @DIR@/tmp/proxy;
    fastcgi_temp_path @DIR@/tmp/fastcgi;
    uwsgi_temp_path @DIR@/tmp/uwsgi;
    scgi_temp_path @DIR@/tmp/scgi;
@HTTP@
}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, what, timeout=90, interval=0.3):
    """Polls predicate() until it returns something true (returned), else fails the test
    naming `what` and the last value seen."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def wait_for_port(port, deadline, process=None, host="127.0.0.1"):
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


@dataclass
class Response:
    status: int
    headers: list  # [(name, value)] in wire order, duplicates kept
    body: bytes

    def all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def header(self, name):
        """The value of a header that must appear at most once (None when absent)."""
        values = self.all(name)
        assert len(values) <= 1, f"{name} sent {len(values)} times: {values}"
        return values[0] if values else None

    def json(self):
        import json
        return json.loads(self.body)


def request(port, path="/", headers=(), method="GET", body=None, tls=False, timeout=10):
    """One HTTP/1.1 request; `headers` is a list of (name, value) pairs, values may be bytes."""
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=context)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        return Response(resp.status, resp.getheaders(), resp.read())
    finally:
        conn.close()


def echoed_headers(response):
    """Headers the echo upstream received, as [(name, value)]."""
    return [tuple(pair) for pair in response.json()["headers"]]


def echoed(response, name):
    return [v for k, v in echoed_headers(response) if k.lower() == name.lower()]


class Nginx:
    def __init__(self, directory, http_conf, workers, load_module, upstream):
        self.dir = directory
        self.ports = {}
        conf = http_conf.replace("@UPSTREAM@", upstream)
        for token in ("@PORT@", "@PORT2@", "@PORT3@"):
            if token in conf:
                self.ports[token] = free_port()
                conf = conf.replace(token, str(self.ports[token]))
        self.conf_text = (CONF_TEMPLATE
                          .replace("@LOAD_MODULE@", f"load_module {MODULE};" if load_module else "")
                          .replace("@WORKERS@", str(workers))
                          .replace("@HTTP@", conf)
                          .replace("@DIR@", str(directory)))
        (directory / "tmp").mkdir(parents=True, exist_ok=True)
        self.conf = directory / "nginx.conf"
        self.conf.write_text(self.conf_text)
        self.process = None

    @property
    def port(self):
        return self.ports["@PORT@"]

    def port_of(self, token):
        return self.ports[token]

    def command(self, *args):
        return [NGINX, "-p", str(self.dir), "-c", str(self.conf), *args]

    def test_config(self):
        """Runs nginx -t; returns (exit code, combined output)."""
        run = subprocess.run(self.command("-t"), capture_output=True, text=True, timeout=30,
                             env=NGINX_ENV)
        return run.returncode, run.stdout + run.stderr

    def start(self):
        code, output = self.test_config()
        assert code == 0, f"nginx -t failed:\n{output}\n{self.conf_text}"
        self.process = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, env=NGINX_ENV)
        deadline = time.monotonic() + START_TIMEOUT
        for port in self.ports.values():
            if not wait_for_port(port, deadline, self.process):
                self.stop()
                raise AssertionError(f"nginx did not start:\n{self.error_log()}")
        return self

    def worker_pids(self):
        out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True,
                             text=True).stdout
        return sorted(int(p) for p in out.split())

    def reload(self, timeout=10.0):
        """SIGHUP, then wait until a fresh set of workers replaced the old one."""
        old = set(self.worker_pids())
        self.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            current = set(self.worker_pids())
            if current and not (current & old):
                return
            time.sleep(0.05)
        raise AssertionError(f"reload did not replace workers:\n{self.error_log()}")

    def error_log(self):
        path = self.dir / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def access_log(self):
        path = self.dir / "access.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGQUIT)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


@pytest.fixture(autouse=True)
def no_sanitizer_reports():
    """With the sanitized module, any report written during a test fails that test."""
    yield
    if SANITIZER_LOGS is None:
        return
    reports = sorted(SANITIZER_LOGS.glob("*san.*"))
    if reports:
        text = "\n".join(f"== {r}\n{r.read_text(errors='replace')}" for r in reports)
        for r in reports:
            r.rename(r.with_name("seen-" + r.name))
        pytest.fail(f"sanitizer reports:\n{text}")


@pytest.fixture(scope="session")
def module_path():
    assert MODULE.exists(), f"{MODULE} is missing: build first (./scripts/test does)"
    return MODULE


@pytest.fixture(scope="session")
def echo():
    upstream = EchoUpstream().start()
    yield upstream
    upstream.stop()


@pytest.fixture
def nginx_config(tmp_path, echo, module_path):
    """Writes a configuration without starting nginx: nginx_config(http_conf) -> Nginx."""
    made = []

    def make(http_conf, workers=2, load_module=True):
        directory = tmp_path / f"nginx{len(made)}"
        server = Nginx(directory, http_conf, workers, load_module, echo.address)
        made.append(server)
        return server

    yield make
    for server in made:
        server.stop()


@pytest.fixture
def nginx(nginx_config):
    """Starts nginx with the given http{} body: nginx(http_conf, workers=2) -> Nginx."""

    def start(http_conf, workers=2, load_module=True):
        return nginx_config(http_conf, workers, load_module).start()

    return start


@pytest.fixture(scope="session")
def tls_certificate(tmp_path_factory):
    """A throwaway self-signed certificate for 127.0.0.1."""
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    os.chmod(directory, 0o755)
    os.chmod(key, 0o644)
    return cert, key


def pytest_report_header(config):
    version = subprocess.run([NGINX, "-v"], capture_output=True, text=True).stderr.strip()
    return [f"nginx: {NGINX} ({version})",
            f"module: {MODULE}" + (" (sanitized: ASan + UBSan)" if SANITIZED_MODULE else ""),
            f"openssl: {shutil.which('openssl')}"]


# The controller fixture (start_controller) for every test module.
import controller_harness  # noqa: E402

start_controller = controller_harness.start_controller


# A private Docker engine in Swarm mode (t/docker_engine.py) for tests that run real services.
from docker_engine import DockerEngine  # noqa: E402


@pytest.fixture(scope="session")
def docker_engine():
    """Our own dockerd (swarm manager on 127.0.0.1) with the test images imported; one per
    session, torn down completely at its end."""
    engine = DockerEngine.start_private()
    try:
        engine.build_test_images()
        yield engine
    finally:
        engine.shutdown()


@pytest.fixture
def swarm(docker_engine):
    """docker_engine, with the services labeled com.caprover.managed=true removed after each
    test (networks stay: the controller creates its overlay network once)."""
    yield docker_engine
    if not docker_engine.running():  # a test stopped the engine (and failed before start())
        docker_engine.start()
    docker_engine.remove_services()


@pytest.fixture
def stack(start_controller, swarm, tmp_path):
    """The controller driving a real nginx master on the private Swarm (t/captain_stack.py),
    both started; nginx stopped at teardown."""
    from captain_stack import Stack
    s = Stack(start_controller, swarm, tmp_path)
    s.start_controller()
    s.start_nginx()
    yield s
    s.shutdown()
