"""The controller behind a proxy: X-Forwarded-For is believed only from trusted_proxies, so the
client address that drives login back-off and audit rows is the real client's; and the
generated captain.<root> server stops wrong passwords at the edge, per client address.

Several client addresses on one machine: 127.0.0.0/8 is all loopback, so a test binds its
client socket to 127.0.0.3, 127.0.0.4, ... to be different clients.
"""

import http.client
import json


from captain_stack import ROOT_DOMAIN, Stack
from test_controller_api import PASSWORD, Api

CAPTAIN = f"captain.{ROOT_DOMAIN}"


def via_nginx(stack, path, body, source_ip):
    """POST through nginx's captain.<root> server from `source_ip`: (HTTP status, headers,
    envelope or text)."""
    conn = http.client.HTTPConnection("127.0.0.1", stack.nginx_port, timeout=30,
                                      source_address=(source_ip, 0))
    try:
        conn.request("POST", path, body=json.dumps(body),
                     headers={"Host": CAPTAIN, "Content-Type": "application/json",
                              "Connection": "close"})
        resp = conn.getresponse()
        text = resp.read().decode()
        headers = {k.lower(): v for k, v in resp.getheaders()}
        return resp.status, headers, (json.loads(text) if text.startswith("{") else text)
    finally:
        conn.close()


def test_wrong_passwords_through_nginx_lock_out_only_the_attacking_address(stack):
    attacker, user = "127.0.0.3", "127.0.0.4"
    for _ in range(5):
        status, headers, envelope = via_nginx(stack, "/api/v2/login", {"password": "guess"},
                                              attacker)
        assert status == 200 and envelope["status"] == 1105, envelope
        assert "x-captain-login-failed" not in headers  # for nginx only
    # The edge stops the sixth attempt before the controller sees it, right password or not.
    for password in ("guess", PASSWORD):
        status, headers, body = via_nginx(stack, "/api/v2/login", {"password": password},
                                          attacker)
        assert status == 429, body
        assert int(headers["retry-after"]) > 0
    # Another client logs in: nothing of this is charged to it.
    status, _, envelope = via_nginx(stack, "/api/v2/login", {"password": PASSWORD}, user)
    assert envelope["status"] == 100, envelope
    # The controller saw the attacker's own address (nginx is a trusted proxy on loopback):
    # its audit rows and its own back-off name 127.0.0.3, not nginx's 127.0.0.1.
    failures = [r for r in stack.api.audit_rows()
                if r["action"] == "auth.login" and r["result"] == "error:1105"]
    assert [r["ip"] for r in failures] == [attacker] * 5
    direct = stack.api.v2("POST", "/login", {"password": PASSWORD}, token="",
                          headers={"X-Forwarded-For": attacker})
    assert direct["status"] == 1113, direct
    assert stack.api.v2("POST", "/login", {"password": PASSWORD}, token="",
                        headers={"X-Forwarded-For": user})["status"] == 100
    # Successful logins are never charged at the edge.
    for _ in range(8):
        assert via_nginx(stack, "/api/v2/login", {"password": PASSWORD}, "127.0.0.5")[2][
            "status"] == 100


def test_the_api_is_rate_limited_per_client_at_the_edge(start_controller, swarm, tmp_path):
    stack = Stack(start_controller, swarm, tmp_path, CAPTAIN_API_RATE_LIMIT="10r/m")
    stack.start_controller()
    stack.start_nginx()
    try:
        def info(source):
            conn = http.client.HTTPConnection("127.0.0.1", stack.nginx_port, timeout=30,
                                              source_address=(source, 0))
            try:
                conn.request("GET", "/api/v2/user/system/info",
                             headers={"Host": CAPTAIN, "x-captain-auth": stack.api.token})
                resp = conn.getresponse()
                resp.read()
                return resp.status, resp.getheader("X-RateLimit-Limit")
            finally:
                conn.close()
        seen = [info("127.0.0.6") for _ in range(11)]
        assert seen[0] == (200, "10")
        assert [s for s, _ in seen].count(200) == 10 and seen[-1][0] == 429, seen
        assert info("127.0.0.7")[0] == 200
    finally:
        stack.shutdown()


def test_forwarded_for_from_an_untrusted_peer_is_ignored(start_controller, tmp_path):
    from conftest import free_port
    from controller_harness import base_env
    port = free_port()
    env = base_env(CAPTAIN_PASSWORD=PASSWORD, CAPTAIN_DATA_DIR=str(tmp_path / "data"),
                   CAPTAIN_TRUSTED_PROXIES="127.0.0.2")
    controller = start_controller("--listen", f"127.0.0.1:{port}", env=env)
    controller.wait_connectable(port)
    api = Api(controller, port, tmp_path / "data")

    def login(password, source, forwarded=None):
        headers = {"X-Forwarded-For": forwarded, "X-Real-IP": forwarded} if forwarded else {}
        return api.v2("POST", "/login", {"password": password}, token="", headers=headers,
                      source_ip=source)["status"]

    # 127.0.0.1 is not a trusted proxy here: its headers are a spoof, and the back-off it
    # earns is its own whatever address it claims.
    for n in range(5):
        assert login("guess", "127.0.0.1", f"203.0.113.{n}") == 1105
    assert login(PASSWORD, "127.0.0.1", "203.0.113.99") == 1113
    assert login(PASSWORD, "127.0.0.8") == 100
    # The trusted proxy's word is taken: the client it names is the one charged.
    assert login("guess", "127.0.0.2", "198.51.100.7") == 1105
    rows = [r for r in api.audit_rows() if r["action"] == "auth.login"]
    assert {r["ip"] for r in rows[:6]} == {"127.0.0.1"}, rows
    assert rows[-1]["ip"] == "198.51.100.7"
    # A client-supplied chain through the trusted proxy: only the hop it added counts.
    assert login("guess", "127.0.0.2", "127.0.0.2, 198.51.100.8") == 1105
    assert api.audit_rows()[-1]["ip"] == "198.51.100.8"
