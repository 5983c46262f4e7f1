"""The whole product on one machine, for end-to-end tests and benchmarks: the controller
managing the private Swarm (t/docker_engine.py) and driving a real nginx master with the built
module on the host (nginx_reload=pid, nginx_upstream=published-port: each app task publishes
its HTTP port on the engine's network namespace address, and nginx balances over them).

Traffic stays on this machine: nginx and the controller listen on 127.0.0.1, docker-proxy in
the engine's own network namespace.
"""

import http.client
import os
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

from conftest import BUILD_DIR, free_port, wait_for_port, wait_until
from controller_harness import base_env
from test_controller_api import PASSWORD, Api, definition

NGINX = "/usr/sbin/nginx"
ROOT_DOMAIN = "captain.test"


class Stack:
    def __init__(self, start_controller, engine, workdir, **extra_env):
        self.engine = engine
        self.workdir = Path(workdir)
        self.conf_dir = self.workdir / "nginx-conf"
        self.run_dir = self.workdir / "nginx-run"
        self.run_dir.mkdir(parents=True, exist_ok=True)
        # nginx's workers run as nobody and serve ACME challenge files from the generated tree:
        # pytest's tmp directories are 0700.
        for d in [self.workdir, *self.workdir.parents]:
            if d == Path("/"):
                break
            d.chmod(d.stat().st_mode | 0o011)
        self.pid_file = self.run_dir / "nginx.pid"
        self.data_dir = self.workdir / "data"
        self.nginx_port = free_port()
        self.tls_port = free_port()
        self._start_controller = start_controller
        self.extra_env = extra_env
        self.controller = None
        self.api = None

    # -- the controller ---------------------------------------------------------------------
    def start_controller(self):
        port = free_port()
        env = base_env(
            CAPTAIN_PASSWORD=PASSWORD, CAPTAIN_DATA_DIR=str(self.data_dir),
            CAPTAIN_DOCKER_SOCKET=self.engine.socket, CAPTAIN_ROOT_DOMAIN=ROOT_DOMAIN,
            CAPTAIN_UPDATE_MONITOR="2s", CAPTAIN_DEPLOY_TIMEOUT="120s",
            CAPTAIN_NGINX_RELOAD="pid", CAPTAIN_NGINX_UPSTREAM="published-port",
            CAPTAIN_NGINX_PUBLISHED_HOST=self.engine.published_host,
            CAPTAIN_NGINX_CONF_DIR=str(self.conf_dir), CAPTAIN_NGINX_PID_FILE=str(self.pid_file),
            CAPTAIN_NGINX_MODULE=str(BUILD_DIR / "ngx_http_captain_module.so"),
            CAPTAIN_NGINX_LISTEN=f"127.0.0.1:{self.nginx_port}",
            CAPTAIN_NGINX_TLS_LISTEN=f"127.0.0.1:{self.tls_port}",
            CAPTAIN_NGINX_LOG_DIR=str(self.run_dir / "logs"),
            CAPTAIN_NGINX_TEMP_DIR=str(self.run_dir / "tmp"),
            **self.extra_env)
        self.controller = self._start_controller("--listen", f"127.0.0.1:{port}", env=env)
        self.controller.wait_connectable(port)
        self.api = Api(self.controller, port, self.data_dir)
        assert self.api.login()["status"] == 100
        wait_until(lambda: self.health()["checks"]["docker"]["state"] == "ok",
                   "docker connected", 30)
        return self.api

    def stop_controller(self):
        self.controller.proc.send_signal(signal.SIGTERM)
        self.controller.wait(10)

    def health(self):
        return self.api.call("GET", "/health")[1]

    def controller_metric(self, name):
        _, text = self.api.call("GET", "/metrics")
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    # -- nginx ------------------------------------------------------------------------------
    @property
    def live_conf(self):
        return self.conf_dir / "current" / "nginx.conf"

    def start_nginx(self):
        wait_until(self.live_conf.exists, "the controller's first nginx tree", 30)
        subprocess.run([NGINX, "-c", str(self.live_conf)], check=True, timeout=30,
                       capture_output=True)
        assert wait_for_port(self.nginx_port, time.monotonic() + 10), self.error_log()

    def nginx_pid(self):
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def stop_nginx(self):
        pid = self.nginx_pid()
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGQUIT)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)

    def error_log(self):
        path = self.run_dir / "logs" / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def request(self, app, path="/", method="GET", headers=None, host=None):
        """(status, {lowercase header: value}, body text) from nginx for `app`'s host name."""
        conn = http.client.HTTPConnection("127.0.0.1", self.nginx_port, timeout=10)
        try:
            hdrs = {"Host": host or f"{app}.{ROOT_DOMAIN}", "Connection": "close"}
            hdrs.update(headers or {})
            conn.request(method, path, headers=hdrs)
            resp = conn.getresponse()
            body = resp.read().decode(errors="replace")
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
        finally:
            conn.close()

    def https(self, name, path="/", method="GET", cafile=None, headers=None, body=None):
        """One HTTPS request to nginx with SNI and Host `name`: (status, {header: value}, body
        text, the server's certificate in DER). The certificate is verified against `cafile`
        (and must name `name`) when one is given."""
        if cafile is None:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        else:
            context = ssl.create_default_context(cafile=str(cafile))
        conn = _SniConnection("127.0.0.1", self.tls_port, name, context)
        try:
            hdrs = {"Connection": "close", **(headers or {})}
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            text = resp.read().decode(errors="replace")
            cert = conn.peer_certificate
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, text, cert
        finally:
            conn.close()

    def served(self, app, body, path="/"):
        """Waits until nginx answers `app` with 200 and `body`."""
        def check():
            try:
                status, _, text = self.request(app, path)
            except OSError:
                return None
            return status == 200 and text == body
        wait_until(check, f"nginx to serve {body!r} for {app}{path}")

    # -- apps ---------------------------------------------------------------------------------
    def deploy(self, app, image, wait=True):
        envelope = self.api.v2("POST", f"/user/apps/appData/{app}?detached=1",
                               definition(image))
        assert envelope["status"] == 101, envelope
        if wait:
            def done():
                data = self.api.v2("GET", f"/user/apps/appData/{app}")["data"]
                return data if not data["isAppBuilding"] else None
            data = wait_until(done, f"the deploy of {app}")
            assert not data["isBuildFailed"], data

    def update(self, app, **fields):
        return self.api.v2("POST", "/user/apps/appDefinitions/update",
                           {"appName": app, **fields})

    def definition_of(self, app):
        listed = self.api.v2("GET", "/user/apps/appDefinitions")["data"]["appDefinitions"]
        return next(a for a in listed if a["appName"] == app)

    def shutdown(self):
        self.stop_nginx()


class _SniConnection(http.client.HTTPSConnection):
    """HTTPS to a fixed address with any server name (SNI and Host), no DNS involved."""

    def __init__(self, address, port, server_name, context, timeout=10):
        super().__init__(server_name, port, context=context, timeout=timeout)
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)
        self.peer_certificate = self.sock.getpeercert(binary_form=True)
