"""Controller -> nginx end to end, real everything: the controller managing our private Swarm
renders nginx's configuration, checks it with `nginx -t` (the built module loaded), swaps it in
and reloads a real nginx master on the host; requests go through nginx to the app containers.

Test traffic stays on this machine: nginx, the controller and the tasks' published ports
(docker-proxy) all listen on 127.0.0.1.
"""

import sqlite3
import threading
import time


from captain_stack import ROOT_DOMAIN
from conftest import wait_until


def live_file(stack, name):
    return (stack.conf_dir / "current" / name).read_text()


def test_a_deployed_app_is_served_through_nginx_with_the_modules_features(stack):
    stack.api.register("web")
    stack.update("web", rateLimit="50r/s")
    # Registered, not deployed: the name is claimed but nothing is proxied yet.
    wait_until(lambda: stack.request("web")[0] == 503, "a 503 for the app without a task")
    assert stack.request("nobody")[0] == 404  # an unknown host never reaches some app

    stack.deploy("web", "captain-test/web:1")
    stack.served("web", "web v1\n")
    status, headers, body = stack.request(
        "web", headers={"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
    assert (status, body) == (200, "web v1\n")
    assert len(headers["x-request-id"]) >= 16
    assert headers["traceparent"].startswith("00-0af7651916cd43dd8448eb211c80319c-")
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-ratelimit-limit"] == "50"
    assert int(headers["x-ratelimit-remaining"]) < 50

    # The module's status endpoint on captain.<root>: this request counted under route="web".
    status, _, text = stack.request("captain", "/metrics", host=f"captain.{ROOT_DOMAIN}")
    assert status == 200
    served = [line for line in text.splitlines()
              if line.startswith("captain_http_requests_total{") and 'route="web"' in line
              and 'status="200"' in line]
    assert served and sum(float(line.rsplit(" ", 1)[1]) for line in served) >= 2, text[:2000]

    health = stack.health()
    assert health["checks"]["nginx"] == {"state": "ok", "reason": ""}, health
    assert stack.controller_metric("captain_nginx_reloads_total") >= 1


def test_a_bad_custom_snippet_is_refused_with_1116_and_changes_nothing(stack):
    for app in ("web", "other"):
        stack.api.register(app)
    stack.deploy("web", "captain-test/web:1")
    stack.deploy("other", "captain-test/web:2")
    good = "location = /hello { return 200 \"snippet says hi\\n\"; }"
    assert stack.update("web", customNginxConfig=good)["status"] == 100
    stack.served("web", "snippet says hi\n", "/hello")
    stack.served("other", "web v2\n")
    tree_before = live_file(stack, "servers/app-web.conf")
    reloads_before = stack.controller_metric("captain_nginx_reloads_total")

    # Balanced and harmless-looking, but nginx refuses it (a directive that does not exist).
    bad = "location = /hello { return 200 \"hi\"; }\nproxy_buffering maybe;"
    envelope = stack.update("web", customNginxConfig=bad, rateLimit="5r/s")
    assert envelope["status"] == 1116, envelope
    assert "proxy_buffering" in envelope["description"], envelope
    assert "nothing was changed" in envelope["description"], envelope
    # That nginx -t wrote its pid, logs and temp dirs to a scratch directory, not the live ones.
    scratch = stack.conf_dir / "check-scratch"
    assert (scratch / "tmp" / "client_body").is_dir(), list(scratch.rglob("*"))

    stored = stack.definition_of("web")
    assert stored["customNginxConfig"] == good
    time.sleep(1.5)  # more than the coalescing window: a reload would have happened by now
    assert live_file(stack, "servers/app-web.conf") == tree_before
    assert stack.controller_metric("captain_nginx_reloads_total") == reloads_before
    assert stack.request("web", "/hello")[2] == "snippet says hi\n"
    assert stack.request("other")[:3:2] == (200, "web v2\n")
    assert "x-ratelimit-limit" not in stack.request("web")[1]  # the rate limit did not land


def test_a_redeploy_under_load_loses_no_request(stack):
    stack.api.register("web")
    stack.deploy("web", "captain-test/web:1")
    stack.served("web", "web v1\n")

    results = {"ok": 0, "failed": [], "bodies": set()}
    lock = threading.Lock()
    stop = threading.Event()

    def load():
        while not stop.is_set():
            try:
                status, _, body = stack.request("web")
                good = status == 200 and body in ("web v1\n", "web v2\n")
                outcome = None if good else f"{status} {body[:80]!r}"
            except OSError as e:
                body, outcome = "", f"{type(e).__name__}: {e}"
            with lock:
                if outcome is None:
                    results["ok"] += 1
                    results["bodies"].add(body)
                else:
                    results["failed"].append(outcome)

    threads = [threading.Thread(target=load) for _ in range(4)]
    started = time.monotonic()
    for t in threads:
        t.start()
    try:
        time.sleep(2)
        stack.deploy("web", "captain-test/web:2")
        # Bounded: ~20 s of traffic in all, at least until v2 answers.
        wait_until(lambda: "web v2\n" in results["bodies"], "v2 to be served", 60)
        while time.monotonic() - started < 20:
            time.sleep(0.2)
    finally:
        stop.set()
        for t in threads:
            t.join(15)
    assert results["failed"] == [], results["failed"][:10]
    assert results["ok"] > 200, results["ok"]
    assert results["bodies"] == {"web v1\n", "web v2\n"}
    assert stack.request("web")[2] == "web v2\n"


def test_rapid_updates_coalesce_into_few_reloads(stack):
    stack.api.register("web")
    stack.deploy("web", "captain-test/web:1")
    stack.served("web", "web v1\n")
    time.sleep(1)
    reloads_before = stack.controller_metric("captain_nginx_reloads_total")
    for n in range(1, 21):
        assert stack.update("web", rateLimit=f"{n}r/s")["status"] == 100
    wait_until(lambda: stack.request("web")[1].get("x-ratelimit-limit") == "20",
               "the last update's rate limit to be live", 30)
    time.sleep(1.5)
    reloads = stack.controller_metric("captain_nginx_reloads_total") - reloads_before
    assert 1 <= reloads <= 5, reloads
    conf = live_file(stack, "nginx.conf")
    assert "captain_limit_zone name=app_web size=1m key=$binary_remote_addr rate=20r/s;" in conf


def test_nginx_restarted_with_a_poisoned_store_serves_the_last_good_tree(stack):
    stack.api.register("web")
    stack.deploy("web", "captain-test/web:1")
    good = "location = /hello { return 200 \"good snippet\\n\"; }"
    stack.update("web", customNginxConfig=good)
    stack.served("web", "good snippet\n", "/hello")
    stack.stop_controller()

    # A definition the API would never store (written by hand, or by an older version).
    db = sqlite3.connect(stack.data_dir / "captain.db", timeout=10)
    with db:
        db.execute("UPDATE apps SET definition = json_set(definition, '$.customNginxConfig', "
                   "'gzip bogus_directive;') WHERE name = 'web'")
    db.close()

    # A host reboot: nginx starts again before the controller, from the last good tree.
    stack.stop_nginx()
    stack.start_nginx()
    stack.served("web", "good snippet\n", "/hello")
    stack.served("web", "web v1\n")

    # The controller comes back: it leaves the refused snippet out and keeps routing the app.
    stack.start_controller()
    wait_until(lambda: "refused by nginx -t" in stack.controller.stdout(),
               "the controller to report the refused snippet")
    wait_until(lambda: stack.request("web", "/hello")[0] == 404, "the tree without the snippet")
    stack.served("web", "web v1\n")
    live = stack.conf_dir / "current"
    assert not any("bogus_directive" in f.read_text() for f in live.rglob("*.conf"))


def test_health_says_whether_nginx_runs_now_not_at_the_last_reload(stack):
    """Stopped, nginx makes the controller degraded and unready; started again with the same
    tree (no configuration change, so no apply), it is ok again."""
    wait_until(lambda: stack.health()["checks"]["nginx"]["state"] == "ok", "nginx ok")
    stack.stop_nginx()
    status, body = stack.api.call("GET", "/health/ready")
    assert status == 503 and body["status"] == "degraded", body
    assert body["checks"]["nginx"]["state"] == "degraded"
    assert "not running" in body["checks"]["nginx"]["reason"]
    stack.start_nginx()
    status, body = stack.api.call("GET", "/health/ready")
    assert status == 200 and body["checks"]["nginx"] == {"state": "ok", "reason": ""}, body
