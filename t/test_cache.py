"""captain_cache_zone, captain_cache, X-Cache and $captain_cache_status against real nginx.

nginx runs a master and 2 workers (`reuseport`, so the kernel spreads each new connection of
`request()` over both) in front of the counting upstream (counting_upstream.py): it answers every path with a body
derived from the path alone, counts requests per path, and takes its response headers from the
query string, so each test states the response it wants in its URL.
"""

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest

from conftest import request
from counting_upstream import body_for, start_counting_upstream, stop_counting_upstream


@pytest.fixture
def upstream():
    server = start_counting_upstream()
    yield server
    stop_counting_upstream(server)


def config(upstream, location="captain_cache c;", zone="captain_cache_zone name=c size=4m;"):
    return f"""
    {zone}
    server {{
        listen 127.0.0.1:@PORT@ reuseport;
        location / {{
            {location}
            proxy_pass http://127.0.0.1:{upstream.server_address[1]};
            proxy_buffers 64 8k;
            proxy_max_temp_file_size 0;
            add_header X-Status $captain_cache_status always;
            add_header X-Worker $pid always;
        }}
    }}
"""


def get(port, path, **kw):
    return request(port, path, **kw)


def test_miss_then_hit_across_workers(nginx, upstream):
    srv = nginx(config(upstream))
    first = get(srv.port, "/a?size=1000")
    assert first.status == 200
    assert first.header("X-Cache") == "MISS"
    assert first.header("X-Status") == "MISS"
    assert first.body == body_for("/a", 1000)
    hit_workers = set()
    for _ in range(30):
        r = get(srv.port, "/a?size=1000")
        assert r.status == 200
        assert r.header("X-Cache") == "HIT"
        assert r.header("X-Status") == "HIT"
        assert r.body == body_for("/a", 1000)
        assert r.header("Content-Type") == "application/octet-stream"
        assert r.header("X-Upstream-Count") == "1"
        assert int(r.header("Age")) >= 0
        hit_workers.add(r.header("X-Worker"))
    assert upstream.counts["/a"] == 1
    assert len(set(srv.worker_pids())) == 2
    # Both workers answered hits from the one shared entry.
    assert hit_workers == {str(p) for p in srv.worker_pids()}


def test_ttl_expiry_and_age(nginx, upstream):
    # Ages are whole seconds of nginx's clock, so an entry's age can be up to 1 s more than
    # the time that really passed: the waits leave that second of slack on both sides.
    srv = nginx(config(upstream, "captain_cache c ttl=3s;"))
    assert get(srv.port, "/t").header("X-Cache") == "MISS"
    time.sleep(1.1)
    r = get(srv.port, "/t")
    assert r.header("X-Cache") == "HIT"
    assert int(r.header("Age")) >= 1
    time.sleep(3.0)
    r = get(srv.port, "/t")
    assert r.header("X-Cache") == "EXPIRED"
    assert r.header("X-Upstream-Count") == "2"
    assert get(srv.port, "/t").header("X-Cache") == "HIT"
    assert upstream.counts["/t"] == 2


def test_max_age_beats_the_configured_ttl(nginx, upstream):
    srv = nginx(config(upstream, "captain_cache c ttl=1h;"))
    path = "/m?set=Cache-Control:max-age=2"  # not 1: whole-second ages (see above)
    assert get(srv.port, path).header("X-Cache") == "MISS"
    assert get(srv.port, path).header("X-Cache") == "HIT"
    time.sleep(3.1)
    assert get(srv.port, path).header("X-Cache") == "EXPIRED"


@pytest.mark.parametrize("query, headers", [
    ("set=Cache-Control:no-store", ()),
    ("set=Cache-Control:private", ()),
    ("set=Cache-Control:max-age=0", ()),
    ("set=Set-Cookie:session=1", ()),
    ("", (("Authorization", "Bearer x"),)),
    ("status=500", ()),
    ("set=Vary:Cookie", ()),
])
def test_never_stored(nginx, upstream, query, headers):
    srv = nginx(config(upstream))
    for i in range(3):
        r = get(srv.port, f"/n?{query}", headers=headers)
        assert r.header("X-Cache") == "MISS", (i, r.headers)
        assert r.header("X-Upstream-Count") == str(i + 1)
    assert upstream.counts["/n"] == 3


def test_request_no_store_bypasses_and_bypass_variable(nginx, upstream):
    srv = nginx(config(upstream, "captain_cache c bypass=$http_x_nocache;"))
    assert get(srv.port, "/b").header("X-Cache") == "MISS"
    assert get(srv.port, "/b").header("X-Cache") == "HIT"
    r = get(srv.port, "/b", headers=[("X-Nocache", "1")])
    assert r.header("X-Cache") == "BYPASS" and r.header("X-Status") == "BYPASS"
    r = get(srv.port, "/b", headers=[("Cache-Control", "no-store")])
    assert r.header("X-Cache") == "BYPASS"
    r = get(srv.port, "/b", headers=[("Cache-Control", "no-cache")])
    assert r.header("X-Cache") == "MISS"  # refreshes the entry for everyone
    assert get(srv.port, "/b").header("X-Upstream-Count") == "4"
    assert upstream.counts["/b"] == 4


def test_vary_accept_encoding(nginx, upstream):
    srv = nginx(config(upstream))
    gz = [("Accept-Encoding", "gzip")]
    br = [("Accept-Encoding", "br;q=1, gzip;q=0")]
    r = get(srv.port, "/v?vary=1", headers=gz)
    assert (r.header("X-Cache"), r.body) == ("MISS", b"ae=gzip")
    r = get(srv.port, "/v?vary=1", headers=br)
    assert (r.header("X-Cache"), r.body) == ("MISS", b"ae=br")
    r = get(srv.port, "/v?vary=1", headers=[("Accept-Encoding", "x-gzip, deflate")])
    assert (r.header("X-Cache"), r.body) == ("HIT", b"ae=gzip")
    r = get(srv.port, "/v?vary=1", headers=br)
    assert (r.header("X-Cache"), r.body) == ("HIT", b"ae=br")
    assert r.header("Vary") == "Accept-Encoding"
    r = get(srv.port, "/v?vary=1")
    assert (r.header("X-Cache"), r.body) == ("MISS", b"ae=identity")
    assert upstream.counts["/v"] == 3


def test_head_is_served_from_a_get_entry(nginx, upstream):
    srv = nginx(config(upstream))
    # A HEAD miss goes upstream and stores nothing.
    r = get(srv.port, "/h?size=500", method="HEAD")
    assert r.header("X-Cache") == "MISS" and r.body == b""
    assert get(srv.port, "/h?size=500").header("X-Cache") == "MISS"
    r = get(srv.port, "/h?size=500", method="HEAD")
    assert r.header("X-Cache") == "HIT"
    assert r.header("Content-Length") == "500"
    assert r.body == b""
    assert get(srv.port, "/h?size=500").body == body_for("/h", 500)
    assert upstream.counts["/h"] == 2


@pytest.mark.parametrize("chunked", [False, True])
def test_objects_over_max_object_pass_through_intact(nginx, upstream, chunked):
    srv = nginx(config(upstream, zone="captain_cache_zone name=c size=4m max_object=16k;"))
    extra = "&chunked=1" if chunked else ""
    for _ in range(2):
        r = get(srv.port, f"/big?size=300000{extra}")
        assert r.header("X-Cache") == "MISS"
        assert r.body == body_for("/big", 300000)
    assert upstream.counts["/big"] == 2
    # Small ones, chunked or not, are stored.
    assert get(srv.port, f"/small?size=16000{extra}").header("X-Cache") == "MISS"
    r = get(srv.port, f"/small?size=16000{extra}")
    assert r.header("X-Cache") == "HIT"
    assert r.body == body_for("/small", 16000)


def test_small_zone_evicts_and_every_body_stays_correct(nginx, upstream):
    srv = nginx(config(upstream, zone="captain_cache_zone name=c size=256k max_object=32k;"))
    sizes = {f"/e{i}": 1000 + (i * 7919) % 30000 for i in range(60)}  # ~900 KiB in all

    rng = random.Random(7)
    # A hot few among many: LRU keeps the hot ones while the rest churn through.
    picks = [rng.randrange(5) if rng.random() < 0.6 else rng.randrange(60) for _ in range(600)]

    def fetch(i):
        path = f"/e{picks[i]}"
        r = get(srv.port, f"{path}?size={sizes[path]}")
        return path, r

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(fetch, range(600)))
    outcomes = {}
    for path, r in results:
        assert r.status == 200
        assert r.body == body_for(path, sizes[path]), path
        outcomes[r.header("X-Cache")] = outcomes.get(r.header("X-Cache"), 0) + 1
    assert outcomes.get("HIT", 0) > 0, outcomes
    # The working set does not fit: entries were evicted and fetched again.
    assert sum(upstream.counts.values()) > 60, outcomes


def test_reload_keeps_the_zone(nginx, upstream):
    srv = nginx(config(upstream))
    assert get(srv.port, "/r").header("X-Cache") == "MISS"
    srv.conf.write_text(srv.conf_text.replace(
        "location / {", "location /other { return 204; }\n        location / {"))
    srv.reload()
    r = get(srv.port, "/r")
    assert r.header("X-Cache") == "HIT"
    assert upstream.counts["/r"] == 1
    # A new size is a new zone: it starts empty.
    srv.conf.write_text(srv.conf.read_text().replace("size=4m", "size=8m"))
    srv.reload()
    assert get(srv.port, "/r").header("X-Cache") == "MISS"


def test_methods_and_statuses_are_configurable(nginx, upstream):
    srv = nginx(config(upstream, "captain_cache c methods=GET status=200 404;"))
    assert get(srv.port, "/s?status=404").header("X-Cache") == "MISS"
    assert get(srv.port, "/s?status=404").status == 404
    assert get(srv.port, "/s?status=404").header("X-Cache") == "HIT"
    assert get(srv.port, "/s", method="HEAD").header("X-Cache") == "BYPASS"


@pytest.mark.parametrize("directives, expected", [
    ("captain_cache_zone name=c;", '"captain_cache_zone" directive is missing the "size=" parameter'),
    ("captain_cache_zone name=c size=big;", 'invalid size "big" in "captain_cache_zone" directive'),
    ("captain_cache_zone name=c size=1m max_object=x;",
     'invalid max_object "x" in "captain_cache_zone" directive'),
    ("captain_cache_zone name=c size=1m default_ttl=soon;",
     'invalid default_ttl "soon" in "captain_cache_zone" directive'),
    ("captain_cache_zone name=c size=1m colour=red;",
     'invalid parameter "colour=red" in "captain_cache_zone" directive'),
    ("captain_cache_zone name=c size=1m; captain_cache_zone name=c size=1m;",
     'duplicate captain_cache_zone "c"'),
    ("captain_cache_zone name=c size=1m; server { location / { captain_cache c ttl=x; } }",
     'invalid ttl "x" in "captain_cache" directive'),
    ("captain_cache_zone name=c size=1m; server { location / { captain_cache c methods=GET PUT; } }",
     'invalid method "PUT" in "captain_cache" directive'),
    ("captain_cache_zone name=c size=1m; server { location / { captain_cache c status=20; } }",
     'invalid status "20" in "captain_cache" directive'),
    ("captain_cache_zone name=c size=1m; server { location / { captain_cache c speed=1; } }",
     'invalid parameter "speed=1" in "captain_cache" directive'),
    ("server { location / { captain_cache nowhere; } }",
     'unknown captain_cache_zone "nowhere" in "captain_cache" directive'),
])
def test_bad_cache_directives_are_rejected(nginx_config, directives, expected):
    code, output = nginx_config(directives).test_config()
    assert code != 0
    assert expected in output, output


def status_config(upstream, zone="captain_cache_zone name=c size=4m;", token=""):
    return config(upstream, zone=zone) + f"""
    server {{
        listen 127.0.0.1:@PORT2@;
        location = /status {{ captain_status; {token} }}
        location = /status.json {{ captain_status json; {token} }}
    }}
"""


def prometheus_value(text, line_start):
    for line in text.splitlines():
        if line.startswith(line_start + " "):
            return int(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{line_start} not in\n{text}")


def test_metrics_count_outcomes_bytes_and_evictions(nginx, upstream):
    srv = nginx(status_config(upstream, zone="captain_cache_zone name=c size=128k max_object=8k;"))
    status_port = srv.port_of("@PORT2@")
    get(srv.port, "/x?size=1000")
    get(srv.port, "/x?size=1000")
    get(srv.port, "/x?size=1000")
    get(srv.port, "/x?size=1000", headers=[("Cache-Control", "no-store")])
    text = get(status_port, "/status").body.decode()
    assert prometheus_value(text, 'captain_cache_requests_total{zone="c",status="hit"}') == 2
    assert prometheus_value(text, 'captain_cache_requests_total{zone="c",status="miss"}') == 1
    assert prometheus_value(text, 'captain_cache_requests_total{zone="c",status="bypass"}') == 1
    assert prometheus_value(text, 'captain_cache_entries{zone="c"}') == 1
    assert prometheus_value(text, 'captain_cache_bytes{zone="c"}') >= 1000
    assert prometheus_value(text, 'captain_cache_evictions_total{zone="c"}') == 0
    # Far more than 128k of 8k bodies: the zone evicts.
    for i in range(40):
        get(srv.port, f"/fill{i}?size=8000")
    data = get(status_port, "/status.json").json()
    [cache] = data["cache"]
    assert cache["zone"] == "c"
    assert cache["evictions"] > 0
    assert cache["requests"]["miss"] == 41
    assert 0 < cache["bytes"] <= 128 * 1024


def test_purge_by_key_prefix_and_all(nginx, upstream):
    srv = nginx(status_config(upstream))
    status_port = srv.port_of("@PORT2@")
    for path in ("/p/1", "/p/2", "/q/1", "/v?vary=1"):
        assert get(srv.port, path).header("X-Cache") == "MISS"
        assert get(srv.port, path).header("X-Cache") == "HIT"
    base = "http127.0.0.1"  # $scheme$host$request_uri: $host has no port

    r = get(status_port, "/status?key=" + quote(base + "/p/1"), method="DELETE")
    assert r.status == 200 and r.json() == {"purged": 1}
    assert get(srv.port, "/p/1").header("X-Cache") == "MISS"
    assert get(srv.port, "/p/2").header("X-Cache") == "HIT"

    # An exact key takes its Vary variants with it (the marker and the identity variant).
    r = get(status_port, "/status?key=" + quote(base + "/v?vary=1"), method="PURGE")
    assert r.json() == {"purged": 2}
    assert get(srv.port, "/v?vary=1").header("X-Cache") == "MISS"

    r = get(status_port, "/status?prefix=" + quote(base + "/p/"), method="DELETE")
    assert r.json() == {"purged": 2}
    assert get(srv.port, "/p/2").header("X-Cache") == "MISS"
    assert get(srv.port, "/q/1").header("X-Cache") == "HIT"

    r = get(status_port, "/status?all=1&zone=c", method="DELETE")
    assert r.json()["purged"] >= 3
    assert get(srv.port, "/q/1").header("X-Cache") == "MISS"

    assert get(status_port, "/status?all=1&zone=nope", method="DELETE").status == 404
    assert get(status_port, "/status?key=a&prefix=b", method="DELETE").status == 400
    assert get(status_port, "/status", method="DELETE").status == 400
    # Empty would match every key: refused like an empty key (?all=1 says it on purpose).
    get(srv.port, "/q/2")
    for empty in ("/status?prefix=", "/status?key=", "/status?prefix=&zone=c"):
        assert get(status_port, empty, method="DELETE").status == 400, empty
    assert get(srv.port, "/q/2").header("X-Cache") == "HIT"
    assert get(status_port, "/status", method="POST").status == 405


def test_purge_is_authorized_like_the_status_page(nginx, upstream):
    srv = nginx(status_config(upstream, token="captain_status_token s3cret;"))
    status_port = srv.port_of("@PORT2@")
    get(srv.port, "/a")
    assert get(srv.port, "/a").header("X-Cache") == "HIT"
    assert get(status_port, "/status?all=1", method="DELETE").status == 401
    assert get(srv.port, "/a").header("X-Cache") == "HIT"
    r = get(status_port, "/status?all=1", method="DELETE",
            headers=[("Authorization", "Bearer s3cret")])
    assert r.json() == {"purged": 1}
    assert get(srv.port, "/a").header("X-Cache") == "MISS"


def concurrent_gets(port, path, count):
    barrier = threading.Barrier(count)

    def one(_):
        barrier.wait()
        return get(port, path, timeout=30)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def test_concurrent_misses_collapse_to_one_upstream_request(nginx, upstream):
    srv = nginx(config(upstream))
    responses = concurrent_gets(srv.port, "/c?delay=0.5&size=2000", 100)
    assert all(r.status == 200 for r in responses)
    assert all(r.body == body_for("/c", 2000) for r in responses)
    outcomes = [r.header("X-Cache") for r in responses]
    # Requests that arrive while the first is upstream wait for its entry (both workers).
    assert upstream.counts["/c"] == 1, outcomes
    assert outcomes.count("MISS") == 1, outcomes
    assert outcomes.count("HIT") == 99


def test_waiters_on_an_uncacheable_key_all_go_upstream_without_queueing(nginx, upstream):
    srv = nginx(config(upstream))
    start = time.monotonic()
    responses = concurrent_gets(srv.port, "/u?delay=0.5&set=Cache-Control:no-store", 20)
    elapsed = time.monotonic() - start
    assert all(r.status == 200 and r.header("X-Cache") == "MISS" for r in responses)
    assert upstream.counts["/u"] == 20
    # Not 20 x 0.5 s one after another: after the first answer they all went at once.
    assert elapsed < 5, elapsed


STALE_OK = "set=Cache-Control:max-age%3D1,%20stale-if-error%3D3"


@pytest.mark.parametrize("fail_status", ["500", "503"])
def test_stale_if_error_serves_the_expired_entry_on_upstream_errors(nginx, upstream,
                                                                     fail_status):
    srv = nginx(config(upstream))
    path = f"/se?{STALE_OK}&fail_after=1&fail_status={fail_status}&size=300"
    assert get(srv.port, path).header("X-Cache") == "MISS"
    time.sleep(1.2)
    r = get(srv.port, path)
    assert r.status == 200, r.body
    assert r.header("X-Cache") == "STALE"
    # add_header ran before the upstream's error was replaced; the log phase sees STALE.
    assert r.header("X-Status") == "EXPIRED"
    assert r.body == body_for("/se", 300)
    assert int(r.header("Age")) >= 1
    assert r.header("Content-Type") == "application/octet-stream"
    # Past max-age + stale-if-error the error goes through.
    time.sleep(3.2)
    r = get(srv.port, path)
    assert r.status == int(fail_status)
    assert r.header("X-Cache") == "EXPIRED"
    assert r.body == b"upstream failure"


def test_stale_and_expired_answers_are_counted_once(nginx, upstream):
    srv = nginx(status_config(upstream))
    path = f"/sc?{STALE_OK}&fail_after=1&size=200"
    assert get(srv.port, path).header("X-Cache") == "MISS"
    time.sleep(1.2)
    assert get(srv.port, path).header("X-Cache") == "STALE"
    time.sleep(3.2)
    assert get(srv.port, path).header("X-Cache") == "EXPIRED"
    text = get(srv.port_of("@PORT2@"), "/status").body.decode()
    counts = {status: prometheus_value(
        text, f'captain_cache_requests_total{{zone="c",status="{status}"}}')
        for status in ("miss", "stale", "expired", "hit")}
    assert counts == {"miss": 1, "stale": 1, "expired": 1, "hit": 0}, counts


def test_stale_if_error_when_the_upstream_is_down(nginx, upstream):
    srv = nginx(config(upstream, "captain_cache c ttl=1s stale_if_error=1h;"))
    assert get(srv.port, "/down?size=500").header("X-Cache") == "MISS"
    upstream.shutdown()
    upstream.server_close()
    time.sleep(1.2)
    r = get(srv.port, "/down?size=500")
    assert (r.status, r.header("X-Cache")) == (200, "STALE")
    assert r.body == body_for("/down", 500)
    # Without a stored entry the 502 goes out as it is.
    assert get(srv.port, "/other").status == 502


def test_no_stale_without_a_window(nginx, upstream):
    srv = nginx(config(upstream, "captain_cache c ttl=1s;"))
    path = "/ns?fail_after=1"
    assert get(srv.port, path).header("X-Cache") == "MISS"
    time.sleep(1.2)
    r = get(srv.port, path)
    assert (r.status, r.header("X-Cache")) == (500, "EXPIRED")


def test_conditional_requests_on_hits_and_upstream_age(nginx, upstream):
    srv = nginx(config(upstream))
    path = "/cond?set=ETag:%22v1%22&set=Age:100&set=X-Cache:HIT%20from%20elsewhere"
    r = get(srv.port, path)
    assert r.header("X-Cache") == "MISS" and r.header("ETag") == '"v1"'
    r = get(srv.port, path)
    assert r.header("X-Cache") == "HIT"
    assert r.header("ETag") == '"v1"'
    assert int(r.header("Age")) >= 100  # the upstream's Age counts (RFC 9111 section 4.2.3)
    r = get(srv.port, path, headers=[("If-None-Match", '"v1"')])
    assert r.status == 304 and r.body == b""
    r = get(srv.port, path, headers=[("If-None-Match", '"v0"')])
    assert r.status == 200 and r.body == body_for("/cond", 64)
    assert upstream.counts["/cond"] == 1


def test_bodies_of_unknown_length_do_not_evict_for_max_object(nginx, upstream):
    # A chunked response is gathered and reserved at its end with its exact size: storing small
    # ones in a nearly full zone must not push out max_object bytes of other entries each time.
    srv = nginx(status_config(upstream,
                              zone="captain_cache_zone name=c size=256k max_object=100k;"))
    status_port = srv.port_of("@PORT2@")
    big = [f"/big{i}?size=30000" for i in range(5)]
    for path in big:
        assert get(srv.port, path).header("X-Cache") == "MISS"
    for i in range(20):
        r = get(srv.port, f"/chunk{i}?size=1000&chunked=1")
        assert r.header("X-Cache") == "MISS" and r.body == body_for(f"/chunk{i}", 1000)
    for i, path in enumerate(big):
        r = get(srv.port, path)
        assert r.header("X-Cache") == "HIT", path
        assert r.body == body_for(f"/big{i}", 30000)
    r = get(srv.port, "/chunk3?size=1000&chunked=1")
    assert r.header("X-Cache") == "HIT" and r.body == body_for("/chunk3", 1000)
    [cache] = get(status_port, "/status.json").json()["cache"]
    assert cache["evictions"] == 0, cache
    assert cache["entries"] == 25, cache


def test_an_inherited_cache_never_caches_the_status_page(nginx, upstream):
    srv = nginx(f"""
    captain_cache_zone name=c size=1m;
    captain_cache c;
    server {{
        listen 127.0.0.1:@PORT@;
        location / {{ proxy_pass http://127.0.0.1:{upstream.server_address[1]}; }}
        location = /status {{ captain_status json; }}
    }}
""")
    get(srv.port, "/a")
    first = get(srv.port, "/status")
    assert first.header("X-Cache") is None
    assert first.json()["cache"][0]["requests"]["miss"] == 1
    get(srv.port, "/a")
    assert get(srv.port, "/status").json()["cache"][0]["requests"]["hit"] == 1
    assert get(srv.port, "/status?all=1", method="DELETE").json() == {"purged": 1}
