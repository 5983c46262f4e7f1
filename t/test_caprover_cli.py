"""The official caprover CLI (v2.4.4, installed by scripts/install_test_tools into
<repo>/.cache/caprover-cli) driving a real captain-controller over /api/v2.

How the CLI is driven, non-interactively:
  * Its machine store is `$XDG_CONFIG_HOME/configstore/caprover.json` (configstore). We write a
    machine `t` with `baseUrl` http://127.0.0.1:<port> and an empty token by hand: `caprover
    login -u URL` (and `-u` on api/deploy) keeps only the hostname of the URL, so the port is
    lost and a controller on an ephemeral port cannot be reached that way. A stored baseUrl is
    used verbatim.
  * Login: `caprover api -n t -p <password> ...`, the CLI's documented flag for a stored machine.
    With the empty token the first request (GET /user/apps/appDefinitions) gets 1106; the CLI
    re-logs in automatically with its default password `captain42` (it has used no password yet
    in this process), which the controller refuses (1105); the CLI then prints "Your auth token
    ... is not valid anymore, try to login again...", logs in with the -p password and saves the
    token into caprover.json. Later commands use the saved token with no password at all.
    The other way -- running the controller with CAPTAIN_PASSWORD=captain42 so that the
    automatic re-login succeeds first time -- is covered by its own test; every other test uses
    a random password, so nothing passes just because the password happens to be the default.
  * stdin is /dev/null and every value is given as a flag (always `-d` for `api`): any prompt
    the CLI would show is aborted instead of hanging. Each command has a 60 s timeout.
"""

import json
import os
import re
import secrets
import subprocess

import pytest

from conftest import REPO, free_port
from controller_harness import base_env

CLI = REPO / ".cache" / "caprover-cli" / "node_modules" / ".bin" / "caprover"
CLI_TIMEOUT_S = 60
MACHINE = "t"
SUCCESS = "API call completed successfully!"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class Cli:
    """The caprover CLI with a private config dir, pointed at one controller."""

    def __init__(self, tmp_path, controller, port):
        self.controller = controller
        self.port = port
        self.config_home = tmp_path / "xdg"
        self.store = self.config_home / "configstore" / "caprover.json"
        self.cwd = tmp_path / "cwd"
        self.cwd.mkdir()
        self.store.parent.mkdir(parents=True)
        self.store.write_text(json.dumps({"CapMachines": [
            {"name": MACHINE, "baseUrl": f"http://127.0.0.1:{port}", "authToken": ""}]}))
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("CAPROVER_", "CAPTAIN_", "REACT_APP_"))}
        self.env.update(XDG_CONFIG_HOME=str(self.config_home), NO_UPDATE_NOTIFIER="1", CI="1",
                        FORCE_COLOR="0", NO_COLOR="1")

    def run(self, *args):
        """Runs `caprover <args>`; returns (exit code, stdout + stderr without colours)."""
        try:
            done = subprocess.run([str(CLI), *args], env=self.env, cwd=self.cwd,
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, timeout=CLI_TIMEOUT_S)
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"").decode(errors="replace")
            pytest.fail(f"caprover {' '.join(args)} did not finish within {CLI_TIMEOUT_S}s\n"
                        f"--- output:\n{out}\n--- controller:\n{self.controller.stdout()}")
        return done.returncode, ANSI.sub("", done.stdout.decode(errors="replace"))

    def api(self, path, method, data, *extra):
        return self.run("api", "-n", MACHINE, "-t", path, "-m", method, "-d", json.dumps(data),
                        *extra)

    def api_ok(self, path, method, data, *extra):
        """An `api` call that must succeed; returns the `data` JSON the CLI printed."""
        rc, out = self.api(path, method, data, *extra)
        assert rc == 0 and SUCCESS in out, self.explain(f"api {method} {path}", rc, out)
        body = out[out.index(SUCCESS) + len(SUCCESS):].lstrip()
        try:
            value, _ = json.JSONDecoder().raw_decode(body)
        except ValueError:
            pytest.fail(self.explain(f"api {method} {path}: no JSON after the success line",
                                     rc, out))
        return value

    def apps(self):
        data = self.api_ok("/user/apps/appDefinitions", "GET", {})
        return {app["appName"]: app for app in data["appDefinitions"]}

    def saved_machine(self):
        machines = json.loads(self.store.read_text())["CapMachines"]
        found = [m for m in machines if m["name"] == MACHINE]
        assert len(found) == 1, machines
        return found[0]

    def logins(self):
        """The controller's audit results for auth.login, in order."""
        return [line["result"] for line in self.controller.log_lines()
                if line.get("msg") == "audit" and line.get("action") == "auth.login"]

    def explain(self, what, rc, out):
        return (f"caprover {what}: exit {rc}\n--- CLI output:\n{out}\n"
                f"--- controller stdout:\n{self.controller.stdout()}\n"
                f"--- controller stderr:\n{self.controller.stderr()}")


def start(start_controller, tmp_path, password, **extra_env):
    if not CLI.exists():
        pytest.fail(f"the caprover CLI is not installed at {CLI}: run scripts/install_test_tools "
                    f"(needs node + npm from scripts/setup)")
    port = free_port()
    controller = start_controller("--listen", f"127.0.0.1:{port}",
                                  env=base_env(CAPTAIN_PASSWORD=password, **extra_env))
    controller.wait_connectable(port)
    return Cli(tmp_path, controller, port)


def logged_in(start_controller, tmp_path, **extra_env):
    password = "pw-" + secrets.token_hex(8)
    c = start(start_controller, tmp_path, password, **extra_env)
    rc, out = c.api("/user/system/info", "GET", {}, "-p", password)
    assert rc == 0 and SUCCESS in out, c.explain("login with -p", rc, out)
    assert c.saved_machine()["authToken"], c.explain("token not saved", rc, out)
    return c


@pytest.fixture
def cli(start_controller, tmp_path):
    """A controller with a random password and a CLI already logged in to it (token saved)."""
    return logged_in(start_controller, tmp_path)


@pytest.fixture
def swarm_cli(start_controller, tmp_path, swarm):
    """cli, with the controller managing the private Docker Swarm (t/docker_engine.py)."""
    c = logged_in(start_controller, tmp_path, CAPTAIN_DOCKER_SOCKET=swarm.socket,
                  CAPTAIN_UPDATE_MONITOR="2s")
    c.images = swarm.images
    return c


def test_login_with_password_flag_saves_token(start_controller, tmp_path):
    password = "pw-" + secrets.token_hex(8)
    c = start(start_controller, tmp_path, password)

    rc, out = c.api("/user/system/info", "GET", {}, "-p", password)
    assert rc == 0, c.explain("api -p", rc, out)
    assert "is not valid anymore, try to login again" in out, c.explain("api -p", rc, out)
    assert SUCCESS in out, c.explain("api -p", rc, out)
    info = json.loads(out[out.index(SUCCESS) + len(SUCCESS):])
    assert info["captainSubDomain"] == "captain", out
    token = c.saved_machine()["authToken"]
    assert token, c.explain("token not saved to caprover.json", rc, out)
    assert c.saved_machine()["baseUrl"] == f"http://127.0.0.1:{c.port}"
    # The CLI's automatic re-login with its default 'captain42' is refused, then -p succeeds.
    assert c.logins() == ["error:1105", "ok"], c.explain("audit log", rc, out)

    # The saved token is used as is: no password, no new login.
    rc, out = c.api("/user/system/info", "GET", {})
    assert rc == 0 and SUCCESS in out, c.explain("api with saved token", rc, out)
    assert "not valid anymore" not in out
    assert c.saved_machine()["authToken"] == token
    assert c.logins() == ["error:1105", "ok"]


def test_login_automatic_with_default_password(start_controller, tmp_path):
    # The CLI's own re-login: empty token -> 1106 -> POST /login with 'captain42' -> saved.
    c = start(start_controller, tmp_path, "captain42")
    rc, out = c.api("/user/apps/appDefinitions", "GET", {})
    assert rc == 0 and SUCCESS in out, c.explain("api with automatic login", rc, out)
    assert "not valid anymore" not in out, out
    assert c.saved_machine()["authToken"], c.explain("token not saved", rc, out)
    assert c.logins() == ["ok"], c.explain("audit log", rc, out)


def test_login_wrong_password_fails(start_controller, tmp_path):
    c = start(start_controller, tmp_path, "pw-" + secrets.token_hex(8))
    rc, out = c.api("/user/system/info", "GET", {}, "-p", "wrong-password")
    assert rc != 0, c.explain("api -p wrong", rc, out)
    assert "Invalid credentials" in out, c.explain("api -p wrong", rc, out)
    assert SUCCESS not in out
    assert c.saved_machine()["authToken"] == ""
    assert c.logins() == ["error:1105", "error:1105"], c.explain("audit log", rc, out)


def test_app_lifecycle(cli):
    data = cli.api_ok("/user/apps/appDefinitions/register", "POST", {"appName": "cli-app"})
    assert data == {}, data
    apps = cli.apps()
    assert "cli-app" in apps, apps
    app = apps["cli-app"]
    assert app["instanceCount"] == 1 and app["envVars"] == [] and app["versions"] == [], app
    assert app["isAppBuilding"] is False, app

    # A duplicate is refused with CapRover's code and message.
    rc, out = cli.api("/user/apps/appDefinitions/register", "POST", {"appName": "cli-app"})
    assert rc != 0, cli.explain("duplicate register", rc, out)
    assert "Error Code: 1103" in out and "App Name already exists" in out, \
        cli.explain("duplicate register", rc, out)

    env_vars = [{"key": "GREETING", "value": "hello world"}, {"key": "EMPTY", "value": ""}]
    cli.api_ok("/user/apps/appDefinitions/update", "POST",
               {"appName": "cli-app", "instanceCount": 2, "envVars": env_vars})
    app = cli.apps()["cli-app"]
    assert app["instanceCount"] == 2, app
    assert app["envVars"] == env_vars, app

    rc, out = cli.api("/user/apps/appDefinitions/update", "POST",
                      {"appName": "cli-app", "instanceCount": 51})
    assert rc != 0, cli.explain("invalid update", rc, out)
    assert SUCCESS not in out
    # The CLI prints the controller's description verbatim after the status code.
    match = re.search(r"Error Code: 1110  Message: (.+)", out)
    assert match, cli.explain("invalid update", rc, out)
    assert "instanceCount" in match.group(1), cli.explain("invalid update", rc, out)
    assert "must be an integer from 0 to 50" in match.group(1), \
        cli.explain("invalid update", rc, out)
    app = cli.apps()["cli-app"]
    assert app["instanceCount"] == 2, "a refused update must not change the app"

    cli.api_ok("/user/apps/appDefinitions/delete", "POST", {"appName": "cli-app"})
    assert "cli-app" not in cli.apps()

    rc, out = cli.api("/user/apps/appDefinitions/delete", "POST", {"appName": "cli-app"})
    assert rc != 0 and "could not be found" in out, cli.explain("delete missing", rc, out)


def test_deploy_image(swarm_cli):
    cli = swarm_cli
    web1, web2 = cli.images["web1"], cli.images["web2"]
    cli.api_ok("/user/apps/appDefinitions/register", "POST", {"appName": "cli-app"})

    rc, out = cli.run("deploy", "-n", MACHINE, "-a", "cli-app", "-i", web1)
    assert rc == 0, cli.explain("deploy", rc, out)
    for expected in ("Building your source code...",
                     f"An explicit image name was provided ({web1})",
                     "Deploying version 0 to Swarm",
                     "Service srv-captain--cli-app created",
                     "Deployed version 0",
                     "Deployed successfully cli-app",
                     f"App is available at http://127.0.0.1:{cli.port}"):
        assert expected in out, cli.explain(f"deploy: missing {expected!r}", rc, out)
    assert "[[ TRUNCATED ]]" not in out, out
    assert "Something bad happened" not in out, out

    app = cli.apps()["cli-app"]
    assert [v["version"] for v in app["versions"]] == [0], app
    assert app["versions"][0]["timeStamp"], app
    assert app["versions"][0]["deployedImageName"] == web1, app
    assert app["deployedVersion"] == 0, app
    assert app["isAppBuilding"] is False, app
    audit = [line for line in cli.controller.log_lines()
             if line.get("msg") == "audit" and line.get("action", "").startswith("apps.deploy")]
    assert [(a["action"], a["result"]) for a in audit] == [
        ("apps.deploy", "ok"), ("apps.deploy.converged", "ok")], audit

    # The CLI remembers the deploy for this directory, as with a real CapRover.
    stored = json.loads(cli.store.read_text())
    assert any(d.get("appName") == "cli-app" and d.get("machineNameToDeploy") == MACHINE
               for d in stored.get("DeployedDirs", [])), stored

    # A second deploy gets the next version and rolls it out.
    rc, out = cli.run("deploy", "-n", MACHINE, "-a", "cli-app", "-i", web2)
    assert rc == 0 and "Deployed version 1" in out, cli.explain("second deploy", rc, out)
    app = cli.apps()["cli-app"]
    assert [v["version"] for v in app["versions"]] == [0, 1], app
    assert app["deployedVersion"] == 1, app


def test_failed_deploy_is_reported_by_the_cli(swarm_cli):
    cli = swarm_cli
    cli.api_ok("/user/apps/appDefinitions/register", "POST", {"appName": "cli-broken"})
    rc, out = cli.run("deploy", "-n", MACHINE, "-a", "cli-broken", "-i", cli.images["broken"])
    assert rc != 0, cli.explain("broken deploy", rc, out)
    assert "Deploy of version 0 failed" in out, cli.explain("broken deploy", rc, out)
    assert "Deployed successfully" not in out, out


def test_deploy_missing_app(cli):
    rc, out = cli.run("deploy", "-n", MACHINE, "-a", "no-such-app", "-i", "nginx:1.25-alpine")
    assert rc != 0, cli.explain("deploy to a missing app", rc, out)
    assert "no-such-app app does not exist on this CapRover machine." in out, \
        cli.explain("deploy to a missing app", rc, out)
    assert "Deployed successfully" not in out
    assert not [line for line in cli.controller.log_lines()
                if line.get("msg") == "audit" and line.get("action") == "apps.deploy"]


def test_unknown_machine_name(cli):
    rc, out = cli.run("api", "-n", "nope", "-t", "/user/system/info", "-m", "GET", "-d", "{}")
    assert rc != 0, cli.explain("unknown machine", rc, out)
    assert SUCCESS not in out
