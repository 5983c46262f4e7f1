"""Deploys from source, as CapRover users run them: the real caprover CLI (2.4.4) uploading a
git branch or a tar to the controller, which unpacks it safely, builds the image with the
private dockerd's engine (POST /build; base images imported locally by t/docker_engine.py,
nothing pulled), rolls it out on the Swarm and has the generated nginx serve it.

Hostile uploads go straight to the API (multipart, as the CLI sends them) so each refusal's
message can be read; nothing may be written outside the controller's build directory."""

import gzip
import http.client
import io
import json
import os
import subprocess
import tarfile
import time
import urllib.parse
import uuid

import pytest

from captain_stack import Stack
from conftest import free_port, wait_for_port, wait_until
from netns import NetNs
from test_caprover_cli import ANSI, CLI, MACHINE, Cli
from test_controller_api import PASSWORD

WEB = "captain-test/web:1"
BUILD_DEADLINE_S = 180


def definition_lines(*lines):
    return json.dumps({"schemaVersion": 2, "dockerfileLines": list(lines)})


def web_source(body, extra_lines=()):
    """A source tree (name -> bytes) whose build serves `body` at /."""
    return {
        "captain-definition": definition_lines(
            f"FROM {WEB}", "COPY index.html /www/index.html", *extra_lines).encode(),
        "index.html": body.encode(),
    }


def make_tar(files, prefix="", gz=False):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(prefix + name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    return gzip.compress(raw) if gz else raw


def multipart(fields, boundary=None):
    """(content type, body) for multipart/form-data; a bytes value is a file part."""
    boundary = boundary or "----captain" + uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f"--{boundary}\r\n".encode())
        if isinstance(value, bytes):
            out.write(f'Content-Disposition: form-data; name="{name}"; filename="src.tar"\r\n'
                      "Content-Type: application/octet-stream\r\n\r\n".encode())
            out.write(value)
        else:
            out.write(f'Content-Disposition: form-data; name="{name}"\r\n\r\n{value}'.encode())
        out.write(b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", out.getvalue()


def upload(api, app, tar, detached=True, git_hash=""):
    fields = {"sourceFile": tar}
    if git_hash:
        fields["gitHash"] = git_hash
    ctype, body = multipart(fields)
    path = f"/api/v2/user/apps/appData/{app}" + ("?detached=1" if detached else "")
    status, envelope = api.call("POST", path, raw_body=body, headers={"Content-Type": ctype})
    return status, envelope


def build_status(api, app):
    return api.v2("GET", f"/user/apps/appData/{app}")["data"]


def finished(api, app):
    def done():
        data = build_status(api, app)
        return data if not data["isAppBuilding"] else None
    return wait_until(done, f"the deploy of {app}", BUILD_DEADLINE_S)


def app_definition(api, app):
    return api.apps()[app]


@pytest.fixture
def src(start_controller, swarm, tmp_path):
    """The stack (controller + nginx on the private Swarm) and a logged-in caprover CLI."""
    s = Stack(start_controller, swarm, tmp_path, CAPTAIN_UPLOAD_MAX="8m")
    s.start_controller()
    s.start_nginx()
    cli = Cli(tmp_path, s.controller, s.api.port)
    rc, out = cli.api("/user/system/info", "GET", {}, "-p", PASSWORD)
    assert rc == 0, cli.explain("login", rc, out)
    s.cli = cli
    yield s
    s.shutdown()


def git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, timeout=30,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"})


def test_cli_deploys_a_git_branch_builds_it_and_nginx_serves_it(src):
    api, cli = src.api, src.cli
    api.v2("POST", "/user/apps/appDefinitions/register", {"appName": "from-git"})
    repo = cli.cwd
    for name, data in web_source("built from git\n").items():
        (repo / name).write_bytes(data)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "first")
    commit = subprocess.run(["git", "rev-parse", "main"], cwd=repo, capture_output=True,
                            text=True, check=True).stdout.strip()

    rc, out = cli.run("deploy", "-n", MACHINE, "-a", "from-git", "-b", "main")
    assert rc == 0, cli.explain("deploy -b main", rc, out)
    for expected in (f"Using last commit on \"main\": {commit}",
                     "Build started for from-git",
                     f"Step 1/2 : FROM {WEB}",
                     "Build has finished successfully!",
                     "Deploying version 0 to Swarm",
                     "Deployed successfully from-git"):
        assert expected in out, cli.explain(f"missing {expected!r}", rc, out)
    assert "[[ TRUNCATED ]]" not in out and "Something bad happened" not in out, out
    src.served("from-git", "built from git\n")

    app = app_definition(api, "from-git")
    assert app["deployedVersion"] == 0, app
    assert app["versions"][0]["gitHash"] == commit, app
    assert app["versions"][0]["deployedImageName"] == "img-captain--from-git:0", app
    assert not app["isAppBuilding"], app
    # The CLI's temporary tar is gone, and so is the controller's build directory for the job.
    assert not (repo / "temporary-captain-to-deploy.tar").exists()
    builds = src.data_dir / "builds"
    assert [p.name for p in builds.iterdir()] == ["uploads"], list(builds.iterdir())
    assert list((builds / "uploads").iterdir()) == []


def test_cli_deploys_a_tar_with_one_top_level_folder_and_a_dockerfile_path(src):
    api, cli = src.api, src.cli
    api.v2("POST", "/user/apps/appDefinitions/register", {"appName": "from-tar"})
    files = {
        "captain-definition": json.dumps(
            {"schemaVersion": 2, "dockerfilePath": "./docker/Dockerfile"}).encode(),
        "docker/Dockerfile": f"FROM {WEB}\nCOPY site/ /www/\nRUN echo step-ran > /www/step.txt\n"
                             .encode(),
        "site/index.html": b"built from a tar\n",
    }
    # Users tar the folder instead of its content: CapRover's "Captain Definition file does not
    # exist" case.
    (cli.cwd / "app.tar").write_bytes(make_tar(files, prefix="project/"))
    rc, out = cli.run("deploy", "-n", MACHINE, "-a", "from-tar", "-t", "app.tar")
    assert rc == 0, cli.explain("deploy -t app.tar", rc, out)
    assert "Deployed successfully from-tar" in out, cli.explain("deploy -t", rc, out)
    src.served("from-tar", "built from a tar\n")
    src.served("from-tar", "step-ran\n", path="/step.txt")


def test_a_failing_build_says_why_and_the_running_version_stays(src):
    api, cli = src.api, src.cli
    api.v2("POST", "/user/apps/appDefinitions/register", {"appName": "keeps"})
    status, envelope = upload(api, "keeps", make_tar(web_source("good v0\n"), gz=True),
                              detached=False)
    assert (status, envelope["status"]) == (200, 100), envelope
    src.served("keeps", "good v0\n")

    (cli.cwd / "bad.tar").write_bytes(make_tar(web_source("never\n", ["RUN exit 3"])))
    rc, out = cli.run("deploy", "-n", MACHINE, "-a", "keeps", "-t", "bad.tar")
    assert rc != 0, cli.explain("a failing build", rc, out)
    assert "returned a non-zero code: 3" in out, cli.explain("failing build log", rc, out)
    assert "Build has failed" in out, out
    assert "Deployed successfully" not in out, out

    data = build_status(api, "keeps")
    assert data["isBuildFailed"] and not data["isAppBuilding"], data
    app = app_definition(api, "keeps")
    assert app["deployedVersion"] == 0, app
    assert [v["version"] for v in app["versions"]] == [0, 1], app
    assert "deployedImageName" not in app["versions"][1] or \
        app["versions"][1]["deployedImageName"] is None, app
    status, _, body = src.request("keeps")
    assert (status, body) == (200, "good v0\n")


def test_concurrent_deploys_newest_wins_and_other_apps_queue(src):
    api = src.api
    for app in ("busy", "other"):
        api.v2("POST", "/user/apps/appDefinitions/register", {"appName": app})
    # A slow first build, so the next two arrive while it runs: the second is queued, then
    # replaced by the third.
    first = make_tar(web_source("first\n", ["RUN sleep 3"]))
    for tar in (first, make_tar(web_source("second\n")), make_tar(web_source("third\n"))):
        status, envelope = upload(api, "busy", tar)
        assert (status, envelope["status"]) == (200, 101), envelope
    status, envelope = upload(api, "other", make_tar(web_source("other app\n")))
    assert envelope["status"] == 101, envelope
    assert build_status(api, "busy")["isAppBuilding"]

    src.served("other", "other app\n")
    src.served("busy", "third\n")
    finished(api, "busy")
    app = app_definition(api, "busy")
    built = [v["version"] for v in app["versions"]]
    assert built == [0, 1], app  # the second upload was never built
    assert app["deployedVersion"] == 1, app
    log = "\n".join(build_status(api, "busy")["logs"]["lines"])
    assert "A newer deploy replaced the one queued before it." in log or \
        any(line.get("message") == "A newer deploy replaced the one queued before it."
            for line in src.controller.log_lines()), log


def hostile_tar(kind, tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        def add(name, data=b"x", **attrs):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            for k, v in attrs.items():
                setattr(info, k, v)
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
        add("captain-definition", definition_lines(f"FROM {WEB}").encode())
        target = tmp_path / f"escaped-{kind}"
        if kind == "traversal":
            add("../" * 12 + str(target).lstrip("/"))
        elif kind == "absolute":
            add(str(target))
        elif kind == "symlink":
            add("out", type=tarfile.SYMTYPE, linkname=str(tmp_path))
            add(f"out/escaped-{kind}")
        elif kind == "device":
            add("dev-null", type=tarfile.CHRTYPE, devmajor=1, devminor=3)
        elif kind == "entries":
            for i in range(100_000):
                add(f"f/{i}", b"")
    raw = buf.getvalue()
    if kind == "sparse":
        # A 10 GB entry declared in the header (as a sparse file's real size is): refused from
        # the header, before a byte of it is written.
        info = tarfile.TarInfo("huge.bin")
        info.size = 10 * 2**30
        header = info.tobuf(format=tarfile.GNU_FORMAT)
        raw = raw[:-1024 * 2] if raw.endswith(b"\0" * 1024) else raw
        raw = raw.rstrip(b"\0")
        raw += b"\0" * (-len(raw) % 512) + header + b"\0" * 4096
    return gzip.compress(raw), target


@pytest.mark.parametrize("kind,message", [
    ("traversal", "\"..\""),
    ("absolute", "absolute"),
    ("symlink", "is a symlink to"),
    ("device", "character device"),
    ("entries", "more than 50000 entries"),
    ("sparse", "unpacks to more than"),
])
def test_hostile_tars_are_refused_and_nothing_is_written_outside(src, tmp_path, kind, message):
    api = src.api
    api.v2("POST", "/user/apps/appDefinitions/register", {"appName": "victim"})
    tar, target = hostile_tar(kind, tmp_path)
    status, envelope = upload(api, "victim", tar, detached=False)
    assert status == 200 and envelope["status"] == 1109, envelope
    assert message in envelope["description"], envelope
    assert not target.exists()
    data = build_status(api, "victim")
    assert data["isBuildFailed"] and not data["isAppBuilding"], data
    builds = src.data_dir / "builds"
    assert sorted(p.name for p in builds.iterdir()) == ["uploads"], list(builds.iterdir())


def test_uploads_are_authenticated_before_the_body_and_bounded(src):
    api = src.api
    api.v2("POST", "/user/apps/appDefinitions/register", {"appName": "limits"})
    big = os.urandom(9 * 2**20)  # over this stack's upload_max of 8m
    status, envelope = upload(api, "limits", big)
    assert status == 413, (status, envelope)
    assert "larger than 8388608 bytes" in json.dumps(envelope), envelope
    # The same limit in the generated nginx in front of the API, with the API's envelope.
    ctype, body = multipart({"sourceFile": big})
    conn = http.client.HTTPConnection("127.0.0.1", src.nginx_port, timeout=30)
    try:
        conn.request("POST", "/api/v2/user/apps/appData/limits?detached=1", body=body,
                     headers={"Host": "captain.captain.test", "Content-Type": ctype,
                              "x-captain-auth": api.token, "x-namespace": "captain"})
        resp = conn.getresponse()
        reply = resp.read()
    finally:
        conn.close()
    assert resp.status == 413, reply
    assert json.loads(reply)["description"].startswith("The upload is larger than 8388608"), reply
    # Within the limit, through nginx (passed on unbuffered, chunked by this client): built.
    ctype, body = multipart({"sourceFile": make_tar(web_source("through nginx\n"))})

    def chunks():
        for i in range(0, len(body), 4096):
            yield body[i:i + 4096]
    conn = http.client.HTTPConnection("127.0.0.1", src.nginx_port, timeout=30)
    try:
        conn.request("POST", "/api/v2/user/apps/appData/limits?detached=1", body=chunks(),
                     encode_chunked=True,
                     headers={"Host": "captain.captain.test", "Content-Type": ctype,
                              "Transfer-Encoding": "chunked", "x-captain-auth": api.token,
                              "x-namespace": "captain"})
        resp = conn.getresponse()
        reply = resp.read()
    finally:
        conn.close()
    assert resp.status == 200 and json.loads(reply)["status"] == 101, reply
    src.served("limits", "through nginx\n")
    # No token: refused before the body is read, with CapRover's envelope.
    token, api.token = api.token, ""
    try:
        status, envelope = upload(api, "limits", big[: 2**20])
    finally:
        api.token = token
    assert (status, envelope["status"]) == (200, 1106), envelope
    assert list((src.data_dir / "builds" / "uploads").iterdir()) == []


def test_app_tokens_deploy_their_app_and_nothing_else(src):
    """CapRover's appDeployTokenConfig: what CI runs (`caprover deploy --appToken`). The CLI
    then insists on a URL (whose port it drops) and does not follow the build log, so it runs
    in a namespace of its own where captain.<root>:80 is relayed to the controller."""
    api, cli = src.api, src.cli
    for app in ("tok", "tok-other"):
        api.v2("POST", "/user/apps/appDefinitions/register", {"appName": app})
    api.v2("POST", "/user/apps/appDefinitions/update",
           {"appName": "tok", "appDeployTokenConfig": {"enabled": True}})
    config = api.apps()["tok"]["appDeployTokenConfig"]
    token = config["appDeployToken"]
    assert config["enabled"] and len(token) == 32, config
    assert api.apps()["tok-other"]["appDeployTokenConfig"] == {"enabled": False}

    (cli.cwd / "app.tar").write_bytes(make_tar(web_source("via app token\n")))
    with NetNs(hosts={"captain.tok.test": "127.0.0.1"}) as ns:
        ns.forward(80, api.port)
        done = subprocess.run(ns.wrap([CLI, "deploy", "-u", "http://captain.tok.test",
                                       "--appToken", token, "-a", "tok", "-t", "app.tar"]),
                              env=cli.env, cwd=cli.cwd, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    out = ANSI.sub("", done.stdout.decode(errors="replace"))
    assert done.returncode == 0, cli.explain("deploy --appToken", done.returncode, out)
    assert "using app token is in progress" in out, out
    src.served("tok", "via app token\n")

    def with_app_token(method, path, body=None, **kw):
        return api.call(method, path, body, token="",
                        headers={"x-captain-app-token": token, **kw.pop("headers", {})}, **kw)
    ctype, body = multipart({"sourceFile": make_tar(web_source("never\n"))})
    # Another app's deploy, any other endpoint, the build log: refused.
    for path in ("/api/v2/user/apps/appData/tok-other?detached=1",):
        status, envelope = with_app_token("POST", path, raw_body=body,
                                          headers={"Content-Type": ctype})
        assert (status, envelope["status"]) == (200, 1106), envelope
    for method, path in (("GET", "/api/v2/user/apps/appDefinitions"),
                         ("GET", "/api/v2/user/apps/appData/tok"),
                         ("POST", "/api/v2/user/apps/appDefinitions/delete")):
        status, envelope = with_app_token(method, path, {"appName": "tok"})
        assert envelope["status"] == 1106, (method, path, envelope)
    assert set(api.apps()) == {"tok", "tok-other"}
    # Disabled: the token is gone and no longer deploys.
    api.v2("POST", "/user/apps/appDefinitions/update",
           {"appName": "tok", "appDeployTokenConfig": {"enabled": False}})
    status, envelope = with_app_token("POST", "/api/v2/user/apps/appData/tok?detached=1",
                                      raw_body=body, headers={"Content-Type": ctype})
    assert envelope["status"] == 1106, envelope
    assert api.apps()["tok"]["appDeployTokenConfig"] == {"enabled": False}


def test_versions_redeploy_an_older_image_and_unused_images_are_cleaned(src, swarm):
    api = src.api
    api.v2("POST", "/user/apps/appDefinitions/register", {"appName": "vers"})
    for body in ("v0\n", "v1\n"):
        status, envelope = upload(api, "vers", make_tar(web_source(body)), detached=False)
        assert envelope["status"] == 100, envelope
    src.served("vers", "v1\n")

    def unused(limit):
        data = api.v2("GET", f"/user/apps/appDefinitions/unusedImages?mostRecentLimit={limit}")
        return {tag: image["id"] for image in data["data"]["unusedImages"]
                for tag in image["tags"]}
    assert "img-captain--vers:0" in unused(0) and "img-captain--vers:1" not in unused(0)
    assert "img-captain--vers:0" not in unused(1)
    assert not any(tag.startswith("captain-test/") for tag in unused(0))  # not the apps' own

    # An older version again, by its image: a new version, no build.
    envelope = api.v2("POST", "/user/apps/appData/vers", {"captainDefinitionContent": json.dumps(
        {"schemaVersion": 2, "imageName": "img-captain--vers:0"}), "gitHash": ""})
    assert envelope["status"] == 100, envelope
    src.served("vers", "v0\n")
    app = api.apps()["vers"]
    assert [(v["version"], v.get("deployedImageName")) for v in app["versions"]] == [
        (0, "img-captain--vers:0"), (1, "img-captain--vers:1"), (2, "img-captain--vers:0")], app

    stale = unused(0)
    assert "img-captain--vers:1" in stale and "img-captain--vers:0" not in stale
    # Swarm stops the old task's container after the rollout (busybox httpd waits out the
    # 10 s grace period): until then the engine refuses, and the answer says why (102).
    def deleted():
        envelope = api.v2("POST", "/user/apps/appDefinitions/deleteImages",
                          {"imageIds": [stale["img-captain--vers:1"]]})
        if envelope["status"] == 102:
            assert "being used by" in envelope["description"], envelope
            return None
        return envelope
    envelope = wait_until(deleted, "the old version's image to be deletable", 60, interval=1)
    assert (envelope["status"], envelope["description"]) == (100, "Images Deleted."), envelope
    assert swarm.docker("image", "inspect", "img-captain--vers:1", check=False).returncode != 0
    # An image that is not an unused image of the apps is left alone, and the answer says so.
    base_id = swarm.docker("image", "inspect", "-f", "{{.Id}}", WEB).stdout.strip()
    envelope = api.v2("POST", "/user/apps/appDefinitions/deleteImages", {"imageIds": [base_id]})
    assert envelope["status"] == 102 and "not an unused image" in envelope["description"]
    assert swarm.docker("image", "inspect", WEB, check=False).returncode == 0
    status, envelope = api.call("GET", "/api/v2/user/apps/appDefinitions/unusedImages"
                                       "?mostRecentLimit=-1")
    assert envelope["status"] == 1110, envelope


def test_push_webhook_builds_the_tracked_branch_from_git(src, tmp_path):
    """CapRover's appPushWebhook against a real git server on loopback (git daemon), with the
    payloads GitHub (JSON and form), GitLab and Bitbucket send."""
    api = src.api
    repos, work = tmp_path / "repos", tmp_path / "work"
    repos.mkdir()
    work.mkdir()
    for name, data in web_source("from webhook v1\n").items():
        (work / name).write_bytes(data)
    git(work, "init", "-q", "-b", "main")
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", "v1")
    git(tmp_path, "clone", "-q", "--bare", str(work), str(repos / "site.git"))
    port = free_port()
    daemon = subprocess.Popen(["git", "daemon", "--export-all", "--reuseaddr",
                               f"--base-path={repos}", "--listen=127.0.0.1", f"--port={port}",
                               str(repos)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for_port(port, time.monotonic() + 10, daemon)
        api.v2("POST", "/user/apps/appDefinitions/register", {"appName": "hooked"})
        api.v2("POST", "/user/apps/appDefinitions/update", {"appName": "hooked", "appPushWebhook": {
            "repoInfo": {"repo": f"git://127.0.0.1:{port}/site.git", "branch": "main",
                         "user": "", "password": ""}}})
        hook = api.apps()["hooked"]["appPushWebhook"]
        token = hook["pushWebhookToken"]
        assert len(token) == 32 and hook["repoInfo"]["branch"] == "main", hook
        url = f"/api/v2/user/apps/webhooks/triggerbuild?namespace=captain&token={token}"

        def hook_call(body, token_url=url, **headers):
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            return api.call("POST", token_url, raw_body=raw, token="", headers=headers)

        # A bad token: an HTTP error, so the sender shows a failed delivery.
        status, envelope = hook_call({"ref": "refs/heads/main"},
                                     url.replace(token, "x" * 32), **{"X-GitHub-Event": "push"})
        assert status == 401 and envelope["status"] == 1106, (status, envelope)
        # A push to another branch (GitHub) or a tag (GitLab): nothing is built.
        status, envelope = hook_call({"ref": "refs/heads/other"}, **{"X-GitHub-Event": "push"})
        assert (status, envelope["status"]) == (200, 100) and "ignored" in envelope["description"]
        status, envelope = hook_call({"ref": "refs/tags/v1"}, **{"X-Gitlab-Event": "Push Hook"})
        assert "ignored" in envelope["description"], envelope
        assert api.apps()["hooked"]["versions"] == []

        # GitLab's push to main: fetched, built, deployed.
        status, envelope = hook_call({"ref": "refs/heads/main"}, **{"X-Gitlab-Event": "Push Hook"})
        assert (status, envelope["status"]) == (200, 100), envelope
        assert envelope["description"] == "Build webhook has triggered"
        src.served("hooked", "from webhook v1\n")
        first = subprocess.run(["git", "rev-parse", "HEAD"], cwd=work, capture_output=True,
                               text=True, check=True).stdout.strip()
        assert finished(api, "hooked")["isBuildFailed"] is False
        assert api.apps()["hooked"]["versions"][0]["gitHash"] == first

        # A new commit, announced by GitHub as a form (payload=...), then Bitbucket's shape.
        (work / "index.html").write_text("from webhook v2\n")
        git(work, "commit", "-q", "-am", "v2")
        git(work, "push", "-q", str(repos / "site.git"), "main")
        form = ("payload=" + urllib.parse.quote(json.dumps({"ref": "refs/heads/main"}))).encode()
        status, envelope = hook_call(form, **{"X-GitHub-Event": "push",
                                              "Content-Type": "application/x-www-form-urlencoded"})
        assert envelope["status"] == 100, envelope
        src.served("hooked", "from webhook v2\n")
        finished(api, "hooked")
        status, envelope = hook_call(
            {"push": {"changes": [{"new": {"type": "branch", "name": "main"}}]}},
            **{"X-Event-Key": "repo:push", "X-Request-UUID": "1", "X-Hook-UUID": "2"})
        assert envelope["description"] == "Build webhook has triggered", envelope
        finished(api, "hooked")
        assert [v["version"] for v in api.apps()["hooked"]["versions"]] == [0, 1, 2]
        # A malformed payload from a known sender is a client error.
        status, envelope = hook_call(b"not json", **{"X-GitHub-Event": "push"})
        assert status == 400 and envelope["status"] == 1110, envelope
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)
