"""`caprover serversetup` as a new CapRover user runs it, non-interactively, against the real
controller and nginx, with certificates from a real ACME CA (pebble): CapRover's flow goes to
http://<ip>:3000, then http://captain.<root> (port 80) and https://captain.<root> (443), so this
runs in a private network namespace (t/netns.py) where those ports are ours and
captain.<root> resolves to its loopback. Then `caprover login` with an https:// URL.
"""

import json
import os
import subprocess
import time

import pytest

from acme_ca import Pebble
from conftest import BUILD_DIR
from controller_harness import base_env
from netns import NetNs
from test_caprover_cli import ANSI, CLI

ROOT = "setup.test"
CAPTAIN = f"captain.{ROOT}"
NEW_PASSWORD = "a-new-password-2026"


def run_cli(ns, env, *args, timeout=180):
    done = subprocess.run(ns.wrap([CLI, *args]), env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    return done.returncode, ANSI.sub("", done.stdout.decode(errors="replace"))


def test_serversetup_and_an_https_login_with_the_official_cli(tmp_path):
    if not CLI.exists():
        pytest.fail(f"{CLI} is missing: run scripts/install_test_tools")
    tmp_path.chmod(0o755)  # nginx's workers (nobody) serve the ACME challenge files from it
    for d in tmp_path.parents:
        if str(d) == "/":
            break
        d.chmod(d.stat().st_mode | 0o011)
    with NetNs(hosts={CAPTAIN: "127.0.0.1"}) as ns:
        ca = Pebble(tmp_path / "pebble", http_port=80, netns=ns).start()
        conf_dir, run_dir, data = tmp_path / "nginx-conf", tmp_path / "nginx-run", tmp_path / "data"
        run_dir.mkdir()
        env = base_env(
            CAPTAIN_PASSWORD="captain42",  # what a fresh CapRover has; serversetup changes it
            CAPTAIN_DATA_DIR=str(data), CAPTAIN_DOCKER_SOCKET=str(tmp_path / "no-docker.sock"),
            CAPTAIN_NGINX_RELOAD="pid", CAPTAIN_NGINX_UPSTREAM="published-port",
            CAPTAIN_NGINX_CONF_DIR=str(conf_dir), CAPTAIN_NGINX_PID_FILE=str(run_dir / "nginx.pid"),
            CAPTAIN_NGINX_MODULE=str(BUILD_DIR / "ngx_http_captain_module.so"),
            CAPTAIN_NGINX_LISTEN="127.0.0.1:80", CAPTAIN_NGINX_TLS_LISTEN="127.0.0.1:443",
            CAPTAIN_NGINX_LOG_DIR=str(run_dir / "logs"), CAPTAIN_NGINX_TEMP_DIR=str(run_dir / "tmp"),
            CAPTAIN_ACME_DIRECTORY=ca.directory, CAPTAIN_ACME_CA_BUNDLE=str(ca.listener_cert))
        log = open(tmp_path / "controller.log", "wb")
        controller = subprocess.Popen(ns.wrap([BUILD_DIR / "captain-controller", "--listen",
                                               "127.0.0.1:3000"]), env=env, stdout=log,
                                      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            assert ns.wait_for_port(3000, time.monotonic() + 20), (tmp_path / "controller.log").read_text()
            live = conf_dir / "current" / "nginx.conf"
            deadline = time.monotonic() + 30
            while not live.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            subprocess.run(ns.wrap(["/usr/sbin/nginx", "-c", live]), check=True, timeout=30,
                           capture_output=True)
            assert ns.wait_for_port(80, time.monotonic() + 10)

            root_ca = tmp_path / "pebble-root.pem"
            root_ca.write_text(ca.root_pem())
            cli_env = {k: v for k, v in os.environ.items()
                       if not k.startswith(("CAPROVER_", "CAPTAIN_"))}
            cli_env.update(XDG_CONFIG_HOME=str(tmp_path / "xdg"), NO_UPDATE_NOTIFIER="1", CI="1",
                           FORCE_COLOR="0", NO_COLOR="1", NODE_EXTRA_CA_CERTS=str(root_ca))
            rc, out = run_cli(ns, cli_env, "serversetup", "-y", "-i", "127.0.0.1", "-r", ROOT,
                              "-w", NEW_PASSWORD, "-e", "ops@example.org", "-n", "mine")
            assert rc == 0 and "CapRover server setup completed" in out, (
                out + "\n--- controller:\n" + (tmp_path / "controller.log").read_text()[-4000:])
            machines = json.loads((tmp_path / "xdg" / "configstore" / "caprover.json")
                                  .read_text())["CapMachines"]
            assert [(m["name"], m["baseUrl"]) for m in machines] == [("mine", f"https://{CAPTAIN}")]
            assert machines[0]["authToken"]

            # The stored machine works over HTTPS, and so does a fresh login by URL.
            rc, out = run_cli(ns, cli_env, "api", "-n", "mine", "-t", "/user/system/info", "-m",
                              "GET", "-d", "{}")
            assert rc == 0 and '"hasRootSsl": true' in out and '"forceSsl": true' in out, out
            assert f'"rootDomain": "{ROOT}"' in out, out
            rc, out = run_cli(ns, cli_env, "logout", "-n", "mine")
            assert rc == 0, out
            rc, out = run_cli(ns, cli_env, "login", "-u", f"https://{CAPTAIN}", "-p",
                              NEW_PASSWORD, "-n", "again")
            assert rc == 0 and "Logged in successfully" in out, out
            rc, out = run_cli(ns, cli_env, "api", "-n", "again", "-t",
                              "/user/apps/appDefinitions", "-m", "GET", "-d", "{}")
            assert rc == 0 and "API call completed successfully" in out, out
            # The old password is gone; plain HTTP to captain.<root> is redirected.
            probe = subprocess.run(ns.wrap(
                ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                 f"http://{CAPTAIN}/api/v2/login"]), capture_output=True, text=True, timeout=30)
            assert probe.stdout == "308", probe
            login = subprocess.run(ns.wrap(
                ["curl", "-s", "--cacert", root_ca, "-H", "Content-Type: application/json",
                 "-d", '{"password":"captain42"}', f"https://{CAPTAIN}/api/v2/login"]),
                capture_output=True, text=True, timeout=30)
            assert json.loads(login.stdout)["status"] == 1105, login
        finally:
            controller.kill()
            controller.wait(timeout=10)
            log.close()
            pid = run_dir / "nginx.pid"
            if pid.exists():
                subprocess.run(["kill", "-QUIT", pid.read_text().strip()], capture_output=True)
            ca.stop()
