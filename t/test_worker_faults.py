"""nginx workers killed for real while traffic runs through cached, rate-limited, metered locations.

A worker can die at any instant (the OOM killer, SIGKILL, a crash elsewhere in it). The zones
it shares with the other workers must stay usable: the cache zone's lock is taken over from a
dead holder (cache_store.h), the rate-limit table and the metrics counters have no lock
(limit_table.h, metrics_table.h). Two tests:

* deterministic: a fault hook (fault_hooks.h) makes a worker kill itself while it holds the cache
  zone's lock; the other workers and the respawned one go on answering, hits included;
* random: workers (and, every few seconds, the generation a reload starts) are SIGKILLed in a
  loop under wrk load and a checker that compares every cached body with what the upstream
  sent. Afterwards every zone verifies, limits hold, counters never went down, and no worker
  spins. CAPTAIN_KILL_LOOP_SECONDS lengthens the loop (default 12 s) for a long run.
"""

import json
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from conftest import request
from counting_upstream import body_for, start_counting_upstream, stop_counting_upstream

WRK = shutil.which("wrk")
KILL_LOOP_SECONDS = float(os.environ.get("CAPTAIN_KILL_LOOP_SECONDS", "12"))
CACHED_PATHS = [f"/cached/{i}" for i in range(40)]
# Paths the load spreads over: about 4 MB of bodies, twice what the 2m zone holds, so the load
# keeps evicting and filling (every miss takes the zone's lock several times).
WORKING_SET = 400


@pytest.fixture
def upstream():
    server = start_counting_upstream()
    yield server
    stop_counting_upstream(server)


def config(upstream):
    return f"""
    captain_cache_zone name=c size=2m;
    captain_limit_zone name=tight size=1m key=$http_x_key rate=1r/m burst=4;
    captain_metrics_zone name=m size=4m;
    server {{
        listen 127.0.0.1:@PORT@ reuseport;
        captain_metrics m;
        location /cached/ {{
            captain_cache c ttl=1h;
            proxy_pass http://127.0.0.1:{upstream.server_address[1]};
            add_header X-Status $captain_cache_status always;
        }}
        location /limited/ {{
            captain_limit tight;
            empty_gif;
        }}
        location = /status {{
            captain_metrics off;
            captain_status json;
        }}
    }}
"""


def sized(path):
    """Every cached path has its own size, 100 B to ~20 KB, so entries differ in block size."""
    return 100 + (int(path.rsplit("/", 1)[1]) * 509) % 20000


def url(path):
    return f"{path}?size={sized(path)}"


def status(port, verify=False):
    response = request(port, "/status?verify=1" if verify else "/status", timeout=10)
    assert response.status == 200
    return json.loads(response.body)


def check_cached(port, path):
    """One request for a cached path; its body must be exactly the upstream's."""
    response = request(port, url(path), timeout=10)
    assert response.status == 200, (path, response.status, response.body[:200])
    assert response.body == body_for(path, sized(path)), f"{path}: wrong bytes"
    return response


def assert_everything_answers(srv):
    for path in CACHED_PATHS:
        check_cached(srv.port, path)
    report = status(srv.port, verify=True)
    assert [z["verified"] for z in report["cache"]] == [True]
    assert [z["verified"] for z in report["ratelimit"]] == [True]
    return report


def assert_limit_holds(port, key):
    """rate=1r/m burst=4: of 12 quick requests with a fresh key, exactly 5 pass."""
    codes = [request(port, "/limited/", headers=[("X-Key", key)]).status for _ in range(12)]
    assert codes.count(200) == 5 and codes.count(429) == 7, codes


def worker_cpu_seconds(pids):
    total = 0.0
    for pid in pids:
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def assert_no_worker_spins(srv):
    """Idle workers use next to no CPU; one spinning on a lock uses a whole core."""
    time.sleep(0.5)
    pids = srv.worker_pids()
    before = worker_cpu_seconds(pids)
    time.sleep(2.0)
    used = worker_cpu_seconds(pids) - before
    assert used < 0.3, f"idle workers used {used:.2f} s of CPU in 2 s: one spins"


def exits_by_signal(srv):
    """{signal number: count} from the master's "exited on signal" lines."""
    counts = {}
    for number in re.findall(r"exited on signal (\d+)", srv.error_log()):
        counts[int(number)] = counts.get(int(number), 0) + 1
    return counts


@pytest.fixture
def marker_dir():
    """A directory the workers (user nobody when nginx starts as root) may create files in."""
    path = Path(tempfile.mkdtemp(prefix="captain-fault-"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_worker_killed_inside_the_cache_lock_does_not_stop_the_ingress(nginx_config, upstream,
                                                                        marker_dir):
    srv = nginx_config(config(upstream), workers=2)
    marker = marker_dir / "killed-in-lock"
    # The 7th lock a worker takes (a few requests in): it dies holding it.
    srv.conf.write_text(f"env CAPTAIN_FAULT_KILL_IN_LOCK=7:{marker};\n" + srv.conf_text)
    srv.start()
    for _ in range(3):
        for path in CACHED_PATHS[:6]:
            try:
                check_cached(srv.port, path)
            except (ConnectionError, OSError):
                pass  # the request whose worker died
        if marker.exists():
            break
    assert marker.exists(), "the fault hook never fired"
    assert exits_by_signal(srv) == {9: 1}, srv.error_log()

    # Without the takeover every worker would now spin on the dead worker's lock forever.
    started = time.monotonic()
    report = assert_everything_answers(srv)
    assert time.monotonic() - started < 30
    hits = [check_cached(srv.port, path).header("X-Status") for path in CACHED_PATHS]
    assert hits.count("HIT") == len(CACHED_PATHS), hits
    cache = report["cache"][0]
    assert cache["lock_recoveries"] == 1
    assert cache["lock_timeouts"] == 0
    assert_no_worker_spins(srv)


class Checker(threading.Thread):
    """Fetches cached paths in a loop while workers die; every 200 must carry the right bytes.
    Connections cut by a kill are expected and counted."""

    def __init__(self, port, deadline):
        super().__init__(daemon=True)
        self.port, self.deadline = port, deadline
        self.ok = self.cut = 0
        self.wrong = []

    def run(self):
        rng = random.Random(7)
        while time.monotonic() < self.deadline:
            path = rng.choice(CACHED_PATHS)
            try:
                response = request(self.port, url(path), timeout=5)
            except (ConnectionError, OSError):
                self.cut += 1
                continue
            if response.status == 200 and response.body == body_for(path, sized(path)):
                self.ok += 1
            else:
                self.wrong.append((path, response.status, response.body[:100]))


class Scraper(threading.Thread):
    """Scrapes the status page while workers die; no counter may ever go down."""

    def __init__(self, port, deadline):
        super().__init__(daemon=True)
        self.port, self.deadline = port, deadline
        self.samples = 0
        self.decreases = []

    @staticmethod
    def counters(report):
        values = {}
        for route in report["routes"]:
            for series in route["requests"]:
                values[("route", route["route"], series["method"], series["status"])] = \
                    series["count"]
        for zone in report["cache"]:
            for outcome, count in zone["requests"].items():
                values[("cache", outcome)] = count
            for name in ("stores", "evictions", "lock_recoveries", "formats"):
                values[("cache", name)] = zone[name]
        for zone in report["ratelimit"]:
            for decision, count in zone["decisions"].items():
                values[("limit", decision)] = count
        return values

    def run(self):
        last = {}
        while time.monotonic() < self.deadline:
            try:
                current = self.counters(status(self.port))
            except (ConnectionError, OSError, AssertionError, ValueError):
                continue
            self.samples += 1
            for key, value in current.items():
                if value < last.get(key, 0):
                    self.decreases.append((key, last[key], value))
            last.update(current)
            time.sleep(0.05)


def test_workers_killed_at_random_under_load_leave_every_zone_sound(nginx, upstream):
    assert WRK is not None, "wrk is not installed: run ./scripts/setup"
    srv = nginx(config(upstream), workers=2)
    for path in CACHED_PATHS:
        check_cached(srv.port, path)
    assert_limit_holds(srv.port, "a-key-before-the-kills")

    seconds = KILL_LOOP_SECONDS
    script = srv.dir / "mixed.lua"
    # Cached paths (hits, evictions, fills) and limited keys (inserts, rejections).
    script.write_text(
        'math.randomseed(11)\n'
        'request = function()\n'
        '  if math.random() < 0.6 then\n'
        '    local n = math.random(0, %d)\n'
        '    local size = 100 + (n * 509) %% 20000\n'
        '    return wrk.format("GET", "/cached/" .. n .. "?size=" .. size)\n'
        '  end\n'
        '  return wrk.format("GET", "/limited/", {["X-Key"] = "k" .. math.random(1, 5000)})\n'
        'end\n' % (WORKING_SET - 1))
    wrk = subprocess.Popen(
        [WRK, "-t1", "-c16", f"-d{int(seconds) + 2}s", "--timeout", "3s", "-s", str(script),
         f"http://127.0.0.1:{srv.port}/"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + seconds
    checker, scraper = Checker(srv.port, deadline), Scraper(srv.port, deadline)
    checker.start()
    scraper.start()

    rng = random.Random(2026)
    kills = reloads = 0
    next_reload = time.monotonic() + 3
    while time.monotonic() < deadline:
        pids = srv.worker_pids()
        if pids:
            try:
                os.kill(rng.choice(pids), signal.SIGKILL)
                kills += 1
            except ProcessLookupError:
                pass
        if time.monotonic() >= next_reload:
            srv.process.send_signal(signal.SIGHUP)
            reloads += 1
            next_reload += 3
        time.sleep(rng.uniform(0.005, 0.06))
    checker.join(15)
    scraper.join(15)
    wrk_output = wrk.communicate(timeout=60)[0]

    print(f"\nkill loop: {kills} worker kills, {reloads} reloads in {seconds:.0f} s; "
          f"checker {checker.ok} good bodies, {checker.cut} cut connections; "
          f"{scraper.samples} status samples")
    print(wrk_output)
    assert kills >= seconds * 10, kills
    assert checker.wrong == [], checker.wrong[:5]
    assert checker.ok > 0
    assert scraper.samples > 0
    assert scraper.decreases == [], scraper.decreases[:5]
    # Every worker that exited was one we killed: no crash, no abort.
    assert set(exits_by_signal(srv)) <= {9}, exits_by_signal(srv)

    report = assert_everything_answers(srv)
    print("cache zone after the loop:", {k: report["cache"][0][k] for k in (
        "entries", "lock_recoveries", "formats", "lock_timeouts", "reservations_reclaimed")})
    assert report["cache"][0]["lock_timeouts"] == 0
    assert_limit_holds(srv.port, "fresh-key-after-the-kills")
    assert_no_worker_spins(srv)
