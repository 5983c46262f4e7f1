"""captain_limit_zone, captain_limit, captain_limit_headers and $captain_limit_status.

Every test runs a real nginx (master + 2 workers, `reuseport` so the kernel spreads the new
connection of each `request()` over both workers) and keeps its rate-limit configuration next
to its assertions. Periods are long (r/m, r/h) so that the refill during a test is far below one
request: the outcomes are exact, also on a slow VM. The limiter runs in nginx's preaccess phase,
after `return` (rewrite phase) would already have answered, so limited locations answer with
`empty_gif` or proxy to the echo upstream.
"""

import json
import math
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import request

LEGACY = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
IETF = ("RateLimit-Policy", "RateLimit")
STATUS = "X-Limit-Status"  # add_header ... $captain_limit_status always; in the configs below


def server(body, *, http="", listen="listen 127.0.0.1:@PORT@ reuseport;"):
    """An http{} body: `http` directives, then one server whose responses show the limit status."""
    return f"""
    {http}
    server {{
        {listen}
        add_header {STATUS} $captain_limit_status always;
        {body}
    }}
"""


def legacy(r):
    """(limit, remaining, reset) from the X-RateLimit-* headers, as ints."""
    return tuple(int(r.header(name)) for name in LEGACY)


def remaining(r):
    return int(r.header("X-RateLimit-Remaining"))


def assert_rejected(r, zone, status=429):
    assert r.status == status, (r.status, r.body)
    assert r.header("Content-Type").startswith("application/json"), r.header("Content-Type")
    body = r.json()
    assert body["error"] == "rate_limited", body
    assert body["zone"] == zone, body
    assert isinstance(body["retry_after"], int) and body["retry_after"] >= 1, body
    assert isinstance(body["message"], str) and body["message"], body
    retry_after = int(r.header("Retry-After"))
    assert retry_after == body["retry_after"], (r.header("Retry-After"), body)
    assert r.header(STATUS) == "REJECTED"
    return body


def assert_no_limit_headers(r):
    present = [name for name in LEGACY + IETF if r.header(name) is not None]
    assert not present, f"unexpected rate-limit headers {present} on a {r.status}"


def statuses(port, path, count, headers=()):
    return [request(port, path, headers=headers).status for _ in range(count)]


# --------------------------------------------------------------------------------------------
# A fast client for many requests: HTTP/1.1 pipelining over a few keep-alive connections.

_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)


def pipelined(port, requests, connections=4, batch=256):
    """Sends raw requests (bytes, each a complete HTTP/1.1 request), pipelined in batches of
    `batch` on `connections` keep-alive connections; request i goes on connection
    i % connections, so the order in which nginx sees them roughly follows the list. Returns
    the response status of every request, in the order of `requests`."""
    results = [0] * len(requests)
    errors = []

    def one_connection(index):
        mine = list(range(index, len(requests), connections))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
                buf = b""
                for start in range(0, len(mine), batch):
                    chunk = mine[start:start + batch]
                    sock.sendall(b"".join(requests[i] for i in chunk))
                    got, buf = _read_responses(sock, len(chunk), buf)
                    for i, status in zip(chunk, got):
                        results[i] = status
        except Exception as exc:  # noqa: BLE001 - reported by the caller's assertion
            errors.append(exc)

    threads = [threading.Thread(target=one_connection, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


def _read_responses(sock, count, buf):
    got = []
    pos = 0
    while len(got) < count:
        end = buf.find(b"\r\n\r\n", pos)
        if end >= 0:
            head = buf[pos:end]
            m = _CONTENT_LENGTH.search(head)
            assert m, f"response without Content-Length: {head[:300]!r}"
            body_end = end + 4 + int(m.group(1))
            if body_end <= len(buf):
                got.append(int(head[9:12]))
                pos = body_end
                continue
        data = sock.recv(1 << 18)
        assert data, f"connection closed after {len(got)} of {count} responses"
        buf = buf[pos:] + data
        pos = 0
    return got, buf[pos:]


def raw_get(path="/", headers=()):
    lines = [f"GET {path} HTTP/1.1", "Host: localhost", *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


# --------------------------------------------------------------------------------------------
# The basic contract


def test_quota_then_429_with_json_body_and_headers(nginx):
    srv = nginx(server("""
        location / { captain_limit api; empty_gif; }
    """, http="captain_limit_zone name=api size=1m key=$binary_remote_addr rate=5r/m;"))

    for used in range(1, 6):
        before = time.time()
        r = request(srv.port, "/")
        after = time.time()
        assert r.status == 200
        assert r.header(STATUS) == "PASSED"
        assert r.header("Retry-After") is None
        limit, left, reset = legacy(r)
        assert (limit, left) == (5, 5 - used)
        # Back to full capacity once every used request has been regained: 12 s each.
        assert math.floor(before) + 12 * used - 2 <= reset <= math.ceil(after) + 12 * used + 2, \
            (used, reset, before)

    r = request(srv.port, "/")
    body = assert_rejected(r, "api")
    assert 1 <= body["retry_after"] <= 12
    limit, left, reset = legacy(r)
    assert (limit, left) == (5, 0)
    assert abs(reset - (time.time() + 60)) <= 3, reset
    assert r.header("X-Request-ID"), "the 429 is a complete nginx response"
    assert "is full" not in srv.error_log(), "a zone with room evicts nothing"


def test_quota_is_shared_by_all_workers(nginx):
    srv = nginx(server("""
        add_header X-Pid $pid always;
        location / { captain_limit api; empty_gif; }
    """, http="captain_limit_zone name=api size=1m key=$binary_remote_addr rate=20r/h;"))

    responses = [request(srv.port, "/") for _ in range(40)]
    assert [r.status for r in responses] == [200] * 20 + [429] * 20
    assert [remaining(r) for r in responses[:20]] == list(range(19, -1, -1))
    served_by = {int(r.header("X-Pid")) for r in responses}
    assert served_by == set(srv.worker_pids()), "both workers must have answered"


def test_concurrent_requests_never_exceed_the_quota(nginx):
    srv = nginx(server("""
        location / { captain_limit api; empty_gif; }
    """, http="captain_limit_zone name=api size=1m key=$binary_remote_addr rate=50r/h;"))

    with ThreadPoolExecutor(max_workers=16) as pool:
        codes = list(pool.map(lambda _: request(srv.port, "/").status, range(300)))
    assert codes.count(200) == 50
    assert codes.count(429) == 250


def test_each_key_has_its_own_quota_and_an_empty_key_is_not_limited(nginx):
    srv = nginx(server("""
        location / { captain_limit api; empty_gif; }
    """, http="captain_limit_zone name=api size=1m key=$http_x_api_key rate=3r/h;"))

    def send(key):
        return request(srv.port, "/", headers=[("X-API-Key", key)] if key is not None else [])

    # Short keys, and long keys that share their first 16 bytes (kept as hashes, not bytes).
    for key in ("alpha", "beta", "client-0123456789abcdef-A", "client-0123456789abcdef-B"):
        codes = [send(key).status for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429], (key, codes)
    for _ in range(10):
        r = send(None)
        assert r.status == 200
        assert_no_limit_headers(r)
        assert r.header(STATUS) is None, "no limit applied: $captain_limit_status is empty"


def test_location_without_a_limit_has_empty_status_and_no_headers(nginx):
    srv = nginx(server("""
        location /limited { captain_limit api; empty_gif; }
        location /free { empty_gif; }
    """, http="captain_limit_zone name=api size=1m key=$binary_remote_addr rate=1r/h;"))

    assert request(srv.port, "/limited").status == 200
    assert request(srv.port, "/limited").status == 429
    for _ in range(3):
        r = request(srv.port, "/free")
        assert r.status == 200
        assert_no_limit_headers(r)
        assert r.header(STATUS) is None


# --------------------------------------------------------------------------------------------
# Tiers, bypass, count=failures, dry_run


TIERS = """
    # Exactly one tier counts each request: a map yields an empty key for the other one.
    map $http_x_api_key $ip_tier_key { "" $binary_remote_addr; default ""; }
    map $http_x_api_key $is_admin { "admin-secret" 1; default 0; }
    captain_limit_zone name=per_key size=1m key=$http_x_api_key rate=4r/h;
    captain_limit_zone name=per_ip size=1m key=$ip_tier_key rate=2r/h;
"""


def test_tiers_built_with_map_count_each_request_in_one_tier(nginx):
    srv = nginx(server("""
        location / {
            captain_limit per_key bypass=$is_admin;
            captain_limit per_ip bypass=$is_admin;
            empty_gif;
        }
    """, http=TIERS))

    def send(key=None):
        return request(srv.port, "/", headers=[("X-API-Key", key)] if key else [])

    # API-key tier: 4 per key.
    for n in range(4):
        r = send("k1")
        assert r.status == 200 and r.header(STATUS) == "PASSED"
        assert legacy(r)[:2] == (4, 3 - n), "only the per_key zone speaks for keyed requests"
    assert_rejected(send("k1"), "per_key")

    # IP tier: 2 per address; the keyed requests above were not counted here.
    for n in range(2):
        r = send()
        assert r.status == 200
        assert legacy(r)[:2] == (2, 1 - n)
    assert_rejected(send(), "per_ip")

    # Another key is untouched by k1 and by the exhausted address.
    assert [send("k2").status for _ in range(5)] == [200] * 4 + [429]

    # The admin is never limited, and no limit speaks for it.
    for _ in range(10):
        r = send("admin-secret")
        assert r.status == 200
        assert r.header(STATUS) == "BYPASS"
        assert_no_limit_headers(r)
        assert r.header("Retry-After") is None


@pytest.mark.parametrize("value, bypassed", [
    (None, False), ("", False), ("0", False), ("1", True), ("yes", True), ("00", True),
])
def test_bypass_needs_a_value_other_than_empty_and_zero(nginx, value, bypassed):
    srv = nginx(server("""
        location / { captain_limit api bypass=$http_x_bypass; empty_gif; }
    """, http="captain_limit_zone name=api size=1m key=$binary_remote_addr rate=2r/h;"))

    headers = [] if value is None else [("X-Bypass", value)]
    responses = [request(srv.port, "/", headers=headers) for _ in range(4)]
    if bypassed:
        assert [r.status for r in responses] == [200] * 4
        assert {r.header(STATUS) for r in responses} == {"BYPASS"}
        for r in responses:
            assert_no_limit_headers(r)
    else:
        assert [r.status for r in responses] == [200, 200, 429, 429]


def test_failures_only_login_limiter(nginx):
    srv = nginx(server("""
        location /status/ { captain_limit login count=failures; proxy_pass http://@UPSTREAM@; }
    """, http="captain_limit_zone name=login size=1m key=$binary_remote_addr rate=5r/15m;"))

    for _ in range(20):
        r = request(srv.port, "/status/200")
        assert r.status == 200, "successful logins never count"
        assert r.header(STATUS) == "PASSED"
        assert legacy(r)[:2] == (5, 5)
    for left in (4, 3, 2, 1, 0):
        r = request(srv.port, "/status/401")
        assert r.status == 401
        assert legacy(r)[:2] == (5, left), "Remaining counts this failure already"
    r = request(srv.port, "/status/401")
    assert_rejected(r, "login")
    assert 1 <= int(r.header("Retry-After")) <= 180
    # Exhausted: rejected up front, whatever the upstream would have answered.
    assert_rejected(request(srv.port, "/status/200"), "login")


def test_failure_status_list_chooses_what_counts(nginx):
    srv = nginx(server("""
        location /status/ {
            captain_limit probe count=failures failure_status=404,410;
            proxy_pass http://@UPSTREAM@;
        }
    """, http="captain_limit_zone name=probe size=1m key=$binary_remote_addr rate=3r/h;"))

    for code in (401, 403, 500, 200, 401, 403):
        assert request(srv.port, f"/status/{code}").status == code, "not in failure_status"
    for code in (404, 410, 404):
        assert request(srv.port, f"/status/{code}").status == code
    assert_rejected(request(srv.port, "/status/200"), "probe")


# What the controller generates for CapRover's login API, which answers a wrong password with
# HTTP 200 and {"status":1105} in the body, plus X-Captain-Login-Failed: 1 for nginx to see.
LOGIN_FAILED = "?set=X-Captain-Login-Failed:1"


def test_failure_if_charges_200_responses_whose_upstream_says_they_failed(nginx):
    srv = nginx(server("""
        location /login {
            captain_limit login count=failures failure_if=$upstream_http_x_captain_login_failed;
            proxy_pass http://@UPSTREAM@;
        }
        location /local {
            captain_limit login count=failures failure_if=$upstream_http_x_captain_login_failed;
            empty_gif;
        }
    """, http="captain_limit_zone name=login size=1m key=$binary_remote_addr rate=3r/h;"))

    for path in ("/login", "/login?set=X-Captain-Login-Failed:0", "/login?set=X-Other:1",
                 "/local") * 5:
        r = request(srv.port, path)
        assert r.status == 200, path
        assert legacy(r)[:2] == (3, 3), f"{path}: never charged"
    for left in (2, 1, 0):
        r = request(srv.port, "/login" + LOGIN_FAILED)
        assert r.status == 200
        assert r.header("X-Captain-Login-Failed") == "1"
        assert legacy(r)[:2] == (3, left), "Remaining counts this failure already"
    for path in ("/login" + LOGIN_FAILED, "/login", "/local"):
        assert_rejected(request(srv.port, path), "login")
    assert "[alert]" not in srv.error_log() and "[crit]" not in srv.error_log()


def test_failure_if_adds_to_the_failure_status_list(nginx):
    srv = nginx(server("""
        location /status/ {
            captain_limit login count=failures failure_status=401
                          failure_if=$upstream_http_x_captain_login_failed;
            proxy_pass http://@UPSTREAM@;
        }
    """, http="captain_limit_zone name=login size=1m key=$binary_remote_addr rate=4r/h;"))

    for code in (200, 403, 500, 200):
        assert request(srv.port, f"/status/{code}").status == code, "neither listed nor flagged"
    expected = [(401, ""), (200, LOGIN_FAILED), (403, LOGIN_FAILED), (401, LOGIN_FAILED)]
    for left, (code, query) in zip((3, 2, 1, 0), expected):
        r = request(srv.port, f"/status/{code}{query}")
        assert r.status == code
        assert legacy(r)[:2] == (4, left), (code, query)
    assert_rejected(request(srv.port, "/status/200"), "login")


@pytest.mark.parametrize("line", ["captain_limit api count=all;", "captain_limit api;"])
def test_count_all_charges_every_response(nginx, line):
    srv = nginx(server(f"""
        location /status/ {{ {line} proxy_pass http://@UPSTREAM@; }}
    """, http="captain_limit_zone name=api size=1m key=$binary_remote_addr rate=3r/h;"))

    codes = [request(srv.port, f"/status/{code}").status for code in (200, 401, 500, 200)]
    assert codes == [200, 401, 500, 429]


def test_dry_run_never_rejects_and_reports_what_it_would_do(nginx):
    srv = nginx(server("""
        location / { captain_limit api dry_run; empty_gif; }
        location /enforced { captain_limit api; empty_gif; }
    """, http="captain_limit_zone name=api size=1m key=$binary_remote_addr rate=3r/h;"))

    responses = [request(srv.port, "/") for _ in range(10)]
    assert [r.status for r in responses] == [200] * 10
    assert [r.header(STATUS) for r in responses] == ["PASSED"] * 3 + ["DRY_RUN"] * 7
    assert all(r.header("Retry-After") is None for r in responses)
    # The same zone enforced: the 3 passed requests were charged, the would-be rejections not
    # (were they, the key would be 7 requests further in debt; either way it is exhausted now).
    assert_rejected(request(srv.port, "/enforced"), "api")


def test_dry_run_next_to_an_enforced_limit(nginx):
    srv = nginx(server("""
        location /trial { captain_limit trial dry_run; empty_gif; }
        location /both { captain_limit trial dry_run; captain_limit real; empty_gif; }
        location /real { captain_limit real; empty_gif; }
    """, http="""
        captain_limit_zone name=trial size=1m key=$binary_remote_addr rate=1r/h;
        captain_limit_zone name=real size=1m key=$binary_remote_addr rate=5r/h;
    """))

    assert request(srv.port, "/trial").header(STATUS) == "PASSED"
    for _ in range(2):  # trial would reject, real passes: allowed, charged to real only
        r = request(srv.port, "/both")
        assert r.status == 200
        assert r.header(STATUS) == "DRY_RUN"
    r = request(srv.port, "/real")
    assert legacy(r)[:2] == (5, 2)
    assert statuses(srv.port, "/both", 3) == [200, 200, 429]


def test_internal_redirect_is_limited_once(nginx):
    # Like limit_req: a request is charged once, not again in the location it is redirected to.
    srv = nginx(server("""
        captain_limit api;
        location /tried { try_files /nonexistent /target; }
        location /redirected { error_page 404 = /target; return 404; }
        location /target { empty_gif; }
    """, http="captain_limit_zone name=api size=1m key=$binary_remote_addr rate=10r/h;"))

    assert [remaining(request(srv.port, path)) for path in
            ("/target", "/tried", "/redirected", "/target")] == [9, 8, 7, 6]


# --------------------------------------------------------------------------------------------
# Shared memory across reloads, and a zone far too small for its keys


@pytest.mark.parametrize("old, new, notice", [
    ("rate=3r/h", "rate=4r/h", True),
    ("rate=3r/h", "rate=3r/h burst=1", True),  # capacity 4 as well
    # A new size is a new shared memory zone for nginx anyway (the notice is not required).
    ("size=1m key=$binary_remote_addr rate=3r/h", "size=2m key=$binary_remote_addr rate=4r/h",
     False),
])
def test_reload_keeps_state_and_a_changed_zone_starts_over(nginx, old, new, notice):
    srv = nginx(server("""
        location / { captain_limit api; empty_gif; }
    """, http="captain_limit_zone name=api size=1m key=$binary_remote_addr rate=3r/h;"))

    assert statuses(srv.port, "/", 4) == [200, 200, 200, 429]

    # An unrelated change: the zone is the same, the key stays exhausted.
    srv.conf.write_text(srv.conf_text.replace(
        "location / {", "location /other { empty_gif; }\n        location / {"))
    srv.reload()
    r = request(srv.port, "/")
    assert_rejected(r, "api")
    assert legacy(r)[:2] == (3, 0)
    assert "re-created" not in srv.error_log()

    # Another policy: the zone starts over, and says so.
    srv.conf.write_text(srv.conf.read_text().replace(old, new))
    srv.reload()
    responses = [request(srv.port, "/") for _ in range(5)]
    assert [r.status for r in responses] == [200] * 4 + [429]
    assert [legacy(r)[:2] for r in responses[:4]] == [(4, 3), (4, 2), (4, 1), (4, 0)]
    if notice:
        notices = [line for line in srv.error_log().splitlines() if "re-created" in line]
        assert notices and all("api" in line for line in notices), \
            srv.error_log()[-3000:]


TINY_ZONE = server("""
    keepalive_requests 1000000;
    location / { captain_limit api; empty_gif; }
""", http="captain_limit_zone name=api size=64k key=$http_x_key rate=2r/h;")
FLOOD_KEYS = [f"flood-{i:06d}" for i in range(100_000)]
HOT = [("X-Key", "hot")]


def flood(srv, hot_every=None):
    """One request for each of FLOOD_KEYS, pipelined, plus one for the hot key after every
    `hot_every` of them. Returns (statuses of the flood keys, statuses of the hot key)."""
    requests, hot = [], []
    for i, key in enumerate(FLOOD_KEYS):
        requests.append(raw_get("/", [("X-Key", key)]))
        if hot_every and i % hot_every == hot_every - 1:
            hot.append(len(requests))
            requests.append(raw_get("/", HOT))
    # Four connections (both workers) for the bulk; the last 100 requests follow on one
    # connection once the others are done, so the newest keys are known exactly (across
    # connections the order in which nginx sees requests drifts by thousands).
    started = time.monotonic()
    got = pipelined(srv.port, requests[:-100]) + pipelined(srv.port, requests[-100:], 1)
    assert time.monotonic() - started < 120
    hot_set = set(hot)
    return [s for i, s in enumerate(got) if i not in hot_set], [got[i] for i in hot]


# 64 KiB hold about two thousand keys; 100,000 distinct keys go through them. What can be seen
# from outside: the newest keys are remembered, the oldest were pushed out (their quota is whole
# again), a new key gets exactly its quota, and the error log says the zone is full. (Once the
# metrics endpoint exists, its eviction counter is asserted there too.)


def test_tiny_zone_under_100k_keys_evicts_the_oldest_and_keeps_limiting(nginx):
    srv = nginx(TINY_ZONE)
    new, _ = flood(srv)
    assert new == [200] * len(FLOOD_KEYS), "a key's first request always passes"
    for key in FLOOD_KEYS[-3:]:  # remembered: one of two requests left
        assert statuses(srv.port, "/", 2, [("X-Key", key)]) == [200, 429], key
    for key in FLOOD_KEYS[:20]:  # pushed out long ago: the whole quota again
        assert statuses(srv.port, "/", 3, [("X-Key", key)]) == [200, 200, 429], key
    assert statuses(srv.port, "/", 3, [("X-Key", "fresh")]) == [200, 200, 429]
    log = srv.error_log()
    assert "[alert]" not in log and "[crit]" not in log
    # Reported once per worker (both workers evicted), not once per eviction.
    full = [line for line in log.splitlines() if 'captain_limit_zone "api" is full' in line]
    assert 1 <= len(full) <= 2, full
    assert "[warn]" in full[0] and "evicting keys that still hold state" in full[0]


def test_tiny_zone_under_100k_keys_keeps_an_exhausted_hot_key_limited(nginx):
    # The hot key is over its quota and sends every tenth request: it is used far more recently
    # than the one-off keys around it, so least-recently-used eviction must never pick it, and
    # it must stay rejected. Evicting it instead hands a rejected client a fresh quota.
    srv = nginx(TINY_ZONE)
    assert statuses(srv.port, "/", 3, HOT) == [200, 200, 429]
    new, hot = flood(srv, hot_every=10)
    assert new == [200] * len(FLOOD_KEYS)
    assert hot == [429] * len(hot), \
        f"the exhausted hot key passed {hot.count(200)} of {len(hot)} times while the zone churned"
    assert statuses(srv.port, "/", 2, HOT) == [429, 429]


# --------------------------------------------------------------------------------------------
# Several limits on one request, and inheritance


TWO_ZONES = """
    captain_limit_zone name=a size=1m key=$http_x_client rate=10r/h;
    captain_limit_zone name=b size=1m key=$http_x_client rate=3r/h;
"""
TWO_LIMITS = """
    location /a { captain_limit a; empty_gif; }
    location /b { captain_limit b; empty_gif; }
    location /ab { captain_limit a; captain_limit b; empty_gif; }
"""


def test_strictest_limit_decides_and_a_rejection_by_b_is_not_charged_to_a(nginx):
    srv = nginx(server(TWO_LIMITS, http=TWO_ZONES))
    client = [("X-Client", "c1")]

    assert legacy(request(srv.port, "/a", client))[:2] == (10, 9)
    for left in (2, 1, 0):  # b has fewer left than a (8, 7, 6): b's numbers are sent
        r = request(srv.port, "/ab", client)
        assert r.status == 200
        assert legacy(r)[:2] == (3, left)
    for _ in range(4):
        r = request(srv.port, "/ab", client)
        assert_rejected(r, "b")
        assert legacy(r)[:2] == (3, 0)
    # a saw 1 + 3 charged requests; the 4 rejected ones cost it nothing.
    r = request(srv.port, "/a", client)
    assert r.status == 200
    assert legacy(r)[:2] == (10, 5)


def test_a_rejection_by_a_is_not_charged_to_b(nginx):
    srv = nginx(server(TWO_LIMITS, http=TWO_ZONES))
    client = [("X-Client", "c2")]

    assert statuses(srv.port, "/a", 8, client) == [200] * 8
    for left in (1, 0):  # now a has fewer left than b (2, 1)
        r = request(srv.port, "/ab", client)
        assert r.status == 200
        assert legacy(r)[:2] == (10, left)
    for _ in range(3):
        r = request(srv.port, "/ab", client)
        assert_rejected(r, "a")
        assert legacy(r)[:2] == (10, 0)
    # b was charged twice; its third request is still there.
    r = request(srv.port, "/b", client)
    assert r.status == 200
    assert legacy(r)[:2] == (3, 0)
    assert_rejected(request(srv.port, "/b", client), "b")


def test_limits_are_inherited_only_by_levels_without_their_own(nginx):
    srv = nginx(f"""
    {TWO_ZONES}
    captain_limit a;
    server {{
        listen 127.0.0.1:@PORT@ reuseport;
        location /inherited {{ empty_gif; }}
        location /own {{
            captain_limit b;
            location /own/nested {{ empty_gif; }}
            empty_gif;
        }}
    }}
    """)
    client = [("X-Client", "c3")]

    assert legacy(request(srv.port, "/inherited", client))[:2] == (10, 9)
    assert legacy(request(srv.port, "/own", client))[:2] == (3, 2)
    assert legacy(request(srv.port, "/own/nested", client))[:2] == (3, 1)
    # The location with its own line did not apply the outer one.
    assert legacy(request(srv.port, "/inherited", client))[:2] == (10, 8)


# --------------------------------------------------------------------------------------------
# Rejection status, header styles, error_page


def test_status_parameter_sets_the_rejection_status(nginx):
    srv = nginx(server("""
        location / { captain_limit api status=503; empty_gif; }
    """, http="captain_limit_zone name=api size=1m key=$binary_remote_addr rate=1r/h;"))

    assert request(srv.port, "/").status == 200
    assert_rejected(request(srv.port, "/"), "api", status=503)


HEADER_STYLES = """
    location /legacy { captain_limit api; empty_gif; }
    location /ietf { captain_limit_headers ietf; captain_limit api; empty_gif; }
    location /both { captain_limit_headers both; captain_limit api; empty_gif; }
    location /off { captain_limit_headers off; captain_limit api; empty_gif; }
"""
RATELIMIT = re.compile(r'^"api";r=(\d+);t=(\d+)$')


def ietf(r):
    assert r.header("RateLimit-Policy") == '"api";q=5;w=60', r.header("RateLimit-Policy")
    m = RATELIMIT.match(r.header("RateLimit") or "")
    assert m, r.header("RateLimit")
    return int(m.group(1)), int(m.group(2))


@pytest.mark.parametrize("style", ["legacy", "ietf", "both", "off"])
def test_header_styles(nginx, style):
    srv = nginx(server(HEADER_STYLES, http="""
        captain_limit_zone name=api size=1m key=$binary_remote_addr rate=5r/m;
    """))
    responses = [request(srv.port, f"/{style}") for _ in range(6)]
    assert [r.status for r in responses] == [200] * 5 + [429]
    first, rejected = responses[0], responses[5]

    if style in ("legacy", "both"):
        assert legacy(first)[:2] == (5, 4)
        assert legacy(rejected)[:2] == (5, 0)
    else:
        assert all(r.header(name) is None for r in responses for name in LEGACY)
    if style in ("ietf", "both"):
        r, t = ietf(first)
        assert r == 4 and 11 <= t <= 12, (r, t)
        r, t = ietf(rejected)
        assert r == 0 and 57 <= t <= 60, (r, t)
    else:
        assert all(r.header(name) is None for r in responses for name in IETF)
    assert all(r.header("Retry-After") is None for r in responses[:5])
    assert 1 <= int(rejected.header("Retry-After")) <= 12, "Retry-After on every rejection"
    assert_rejected(rejected, "api")


def test_header_style_is_inherited_from_http_level(nginx):
    srv = nginx(server("""
        location / { captain_limit api; empty_gif; }
        location /legacy { captain_limit_headers legacy; captain_limit api; empty_gif; }
    """, http="""
        captain_limit_headers ietf;
        captain_limit_zone name=api size=1m key=$binary_remote_addr rate=5r/m;
    """))
    r = request(srv.port, "/")
    assert ietf(r)[0] == 4
    assert r.header("X-RateLimit-Limit") is None
    r = request(srv.port, "/legacy")
    assert legacy(r)[:2] == (5, 3)
    assert r.header("RateLimit") is None


def test_error_page_for_429_is_honoured(nginx):
    srv = nginx(server("""
        location / { captain_limit api; error_page 429 @limited; empty_gif; }
        location @limited { default_type text/plain; return 429 "custom limited page\\n"; }
    """, http="captain_limit_zone name=api size=1m key=$binary_remote_addr rate=1r/h;"))

    assert request(srv.port, "/").status == 200
    r = request(srv.port, "/")
    assert r.status == 429
    assert r.body == b"custom limited page\n"
    assert r.header("Content-Type").startswith("text/plain")


# --------------------------------------------------------------------------------------------
# nginx -t


ZONE = "captain_limit_zone name=api size=1m key=$binary_remote_addr rate=10r/s;"


def checked(nginx_config, http, location="captain_limit api;"):
    srv = nginx_config(f"""
    {http}
    server {{
        listen 127.0.0.1:@PORT@;
        location / {{ {location} empty_gif; }}
    }}
""")
    code, output = srv.test_config()
    return code, output.replace(str(srv.dir), "<dir>")  # the temp path names the test


@pytest.mark.parametrize("http, location, expected", [
    ("captain_limit_zone name=api size=1m key=$binary_remote_addr rate=100r/x;", None,
     ["captain_limit_zone", '"100r/x"', "invalid rate"]),
    ("captain_limit_zone name=api size=1m key=$binary_remote_addr rate=0r/s;", None,
     ["captain_limit_zone", '"0r/s"']),
    ("captain_limit_zone name=api size=1m key=$binary_remote_addr rate=10000001r/s;", None,
     ["captain_limit_zone", '"10000001r/s"']),
    ("captain_limit_zone name=api size=1m key=$binary_remote_addr rate=1r/2d;", None,
     ["captain_limit_zone", '"1r/2d"']),
    ("captain_limit_zone name=api size=1m key=$binary_remote_addr rate=fast;", None,
     ["captain_limit_zone", '"fast"']),
    ("captain_limit_zone name=api size=1m key=$binary_remote_addr rate=10r/s burst=lots;", None,
     ["captain_limit_zone", "lots"]),
    ("captain_limit_zone name=api size=huge key=$binary_remote_addr rate=10r/s;", None,
     ["captain_limit_zone", "huge"]),
    ("captain_limit_zone name=api size=1k key=$binary_remote_addr rate=10r/s;", None,
     ["captain_limit_zone", '"1k"']),
    ("captain_limit_zone size=1m key=$binary_remote_addr rate=10r/s;", "", ["captain_limit_zone", "name"]),
    ("captain_limit_zone name=api key=$binary_remote_addr rate=10r/s;", None, ["captain_limit_zone", "size"]),
    ("captain_limit_zone name=api size=1m rate=10r/s;", None, ["captain_limit_zone", "key"]),
    ("captain_limit_zone name=api size=1m key=$binary_remote_addr;", None, ["captain_limit_zone", "rate"]),
    (ZONE.replace("rate=", "colour=blue rate="), None, ["captain_limit_zone", "colour=blue"]),
    (ZONE + ZONE, None, ["captain_limit_zone", '"api"']),
    (ZONE, "captain_limit nope;", ['unknown captain_limit_zone "nope"']),
    (ZONE, "captain_limit api count=some;", ['"captain_limit"', '"some"']),
    (ZONE, "captain_limit api failure_status=401,abc;", ["captain_limit", "abc"]),
    (ZONE, "captain_limit api failure_status=4011;", ["captain_limit", "4011"]),
    (ZONE, "captain_limit api failure_if=$upstream_http_x_failed;",
     ['"failure_if=" in "captain_limit" directive needs "count=failures"']),
    (ZONE, "captain_limit api failure_status=401 failure_if=$upstream_http_x_failed;",
     ['"failure_status=" in "captain_limit" directive needs "count=failures"']),
    (ZONE, "captain_limit api count=failures failure_if=;",
     ['invalid parameter "failure_if=" in "captain_limit" directive',
      "the failure_if value is empty"]),
    (ZONE, "captain_limit api status=399;", ["captain_limit", "399"]),
    (ZONE, "captain_limit api status=600;", ["captain_limit", "600"]),
    (ZONE, "captain_limit api frobnicate;", ["captain_limit", "frobnicate"]),
    (ZONE, "captain_limit api; captain_limit_headers maybe;", ["captain_limit_headers", '"maybe"']),
], ids=lambda v: v if isinstance(v, str) and len(v) < 40 else None)
def test_bad_arguments_are_rejected_naming_directive_and_token(nginx_config, http, location,
                                                               expected):
    code, output = checked(nginx_config, http, "captain_limit api;" if location is None
                           else location)
    assert code != 0, output
    assert "[emerg]" in output and "nginx.conf:" in output, output
    for fragment in expected:
        assert fragment in output, (fragment, output)


def test_zone_outside_http_is_rejected(nginx_config):
    code, output = checked(nginx_config, "", location=ZONE)
    assert code != 0
    assert '"captain_limit_zone" directive is not allowed here' in output


@pytest.mark.parametrize("rate", [
    "20r/s", "100r/m", "5000r/m", "5r/15m", "10r/500ms", "3r/7s", "1r/h", "1r/d", "1r/24h",
    "1r/1ms", "1000r/1ms", "1000000r/s", "10000000r/d",
    # P / N is not a whole number of 1/1000 ms: counted in microseconds, rounded.
    "1001r/s", "7777r/s", "1999r/2s", "999999r/s",
])
def test_rates_within_bounds_are_accepted(nginx_config, rate):
    code, output = checked(nginx_config,
                           f"captain_limit_zone name=api size=1m key=$binary_remote_addr "
                           f"rate={rate} burst=10;")
    assert code == 0, output


@pytest.mark.parametrize("rate", ["10000000r/s", "9999999r/s", "1001r/1ms", "10000000r/1ms"])
def test_rates_above_one_request_per_microsecond_are_refused(nginx_config, rate):
    code, output = checked(nginx_config,
                           f"captain_limit_zone name=api size=1m key=$binary_remote_addr "
                           f"rate={rate};")
    assert code != 0, output
    assert f'invalid rate "{rate}" in "captain_limit_zone" directive' in output, output
    assert "more than one request per microsecond" in output, output


def test_a_complete_configuration_passes(nginx_config):
    code, output = checked(nginx_config, f"""
        {TIERS}
        captain_limit_zone name=login size=10m key=$binary_remote_addr rate=5r/15m;
        captain_limit_headers both;
        captain_limit per_ip;
    """, location="""
        captain_limit per_key bypass=$is_admin dry_run status=503;
        captain_limit login count=failures failure_status=401,403,429 status=429
                      failure_if=$upstream_http_x_captain_login_failed;
        captain_limit_headers off;
    """)
    assert code == 0, output
    assert "[warn]" not in output, output


def test_zone_may_be_declared_after_its_first_use(nginx_config):
    srv = nginx_config(f"""
    server {{
        listen 127.0.0.1:@PORT@;
        location / {{ captain_limit api; empty_gif; }}
    }}
    {ZONE}
""")
    code, output = srv.test_config()
    assert code == 0, output


def test_json_body_is_valid_json_for_an_odd_zone_name(nginx):
    srv = nginx(server("""
        location / { captain_limit odd_Zone-1; empty_gif; }
    """, http="captain_limit_zone name=odd_Zone-1 size=1m key=$binary_remote_addr rate=1r/h;"))
    assert request(srv.port, "/").status == 200
    r = request(srv.port, "/")
    assert json.loads(r.body)["zone"] == "odd_Zone-1"
    assert_rejected(r, "odd_Zone-1")
