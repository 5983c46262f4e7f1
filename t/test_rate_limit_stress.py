"""captain_limit under concurrent load: wrk against 2 workers sharing one zone.

GCRA with capacity C (= N + burst) and emission interval T (= P / N) keeps one number per key,
its theoretical arrival time tat; a request at time t passes if tat - t <= (C - 1) T, and then
tat = max(tat, t) + T. Whenever a request is rejected the key has less than one request of
credit left: tat is within (t + (C - 1) T, t + C T]. Between two rejections at t_a and t_b, as
long as the key never sat idle for C T (then tat would fall behind the clock and credit would
be lost), every pass moved tat by exactly T, so the passes between them number
(t_b - t_a) / T, give or take one — however the requests are spread over workers and
connections, and whatever pauses the client took. That is the precise check: between the first
and the last rejection (found in the access log, in log order; times from $msec, which nginx
updates together with the millisecond clock the limiter reads) the allowed count must be
(t_last - t_first) / T within 1 %. Before the first rejection the client got its capacity C plus
at most what the rate added meanwhile — exactly C + (t_first - t0) / T when the load started at
full speed, less when wrk took a moment to open its connections while the bucket was already
full (which is why the count from the very first request, C + elapsed / T, is only an upper
bound). No window of the run may hold more than C + W / T passes.
"""

import math
import shutil
import subprocess
from collections import Counter

import pytest

WRK = shutil.which("wrk")
SECONDS = 5



@pytest.fixture(autouse=True)
def wrk_installed():
    # ./scripts/setup installs wrk; a missing wrk must fail the run, not skip the stress test.
    assert WRK is not None, "wrk is not installed: run ./scripts/setup"


def conf(zone):
    return f"""
    {zone}
    log_format limited '$msec $status "$captain_limit_status" "$http_x_key"';
    server {{
        listen 127.0.0.1:@PORT@ reuseport;
        keepalive_requests 1000000;
        access_log @DIR@/limited.log limited;
        location / {{ captain_limit flood; empty_gif; }}
    }}
"""


def run_wrk(srv, script=None, threads=2, connections=64, seconds=SECONDS):
    cmd = [WRK, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s"]
    if script is not None:
        path = srv.dir / "wrk.lua"
        path.write_text(script)
        cmd += ["-s", str(path)]
    cmd.append(f"http://127.0.0.1:{srv.port}/")
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def log_entries(srv):
    """[(msec as int milliseconds, status, limit status, key)] in log order."""
    entries = []
    for line in (srv.dir / "limited.log").read_text().splitlines():
        msec, status, limit_status, key = line.split(" ", 3)
        seconds, _, millis = msec.partition(".")
        entries.append((int(seconds) * 1000 + int(millis), int(status), limit_status.strip('"'),
                        key.strip('"')))
    return entries


def check_rate(entries, capacity, per_ms, label):
    """See the module docstring. `entries` in log order; per_ms = requests per ms (1 / T)."""
    codes = Counter(status for _, status, _, _ in entries)
    assert set(codes) <= {200, 429}, codes
    assert {s for _, status, s, _ in entries if status == 429} == {"REJECTED"}
    assert codes[429] >= codes[200], f"{label}: the client did not send faster than the rate"
    rejected_at = [i for i, (_, status, _, _) in enumerate(entries) if status == 429]
    first, last = rejected_at[0], rejected_at[-1]
    t0 = min(t for t, _, _, _ in entries)
    t1 = max(t for t, _, _, _ in entries)
    t_first, t_last = entries[first][0], entries[last][0]

    def allowed(lo, hi):
        return sum(1 for _, status, _, _ in entries[lo:hi] if status == 200)

    before, between, after = allowed(0, first), allowed(first + 1, last), allowed(last + 1, None)
    expected = (t_last - t_first) * per_ms
    times = sorted(t for t, _, _, _ in entries[first:last + 1])
    pause = max(b - a for a, b in zip(times, times[1:]))
    summary = (f"{label}: {before} allowed up to the first rejection "
               f"({t_first - t0} ms after the first request), {between} allowed over the next "
               f"{t_last - t_first} ms (expected {expected:.0f} = {t_last - t_first} ms x "
               f"{per_ms}/ms), {after} after the last rejection; {codes[429]} rejected; longest "
               f"pause {pause} ms; total {codes[200]} vs upper bound "
               f"{capacity + (t1 - t0) * per_ms:.0f} = C + {t1 - t0} ms x {per_ms}/ms")
    print(summary)
    assert t_last - t_first >= (SECONDS - 2) * 1000, "too short a saturated run: " + summary
    assert pause < capacity / per_ms / 2, "the client paused long enough to lose credit: " + summary
    assert abs(between - expected) <= 0.01 * expected, summary
    assert capacity <= before <= (capacity + (t_first - t0) * per_ms) * 1.01, summary
    assert after <= (t1 - t_last) * per_ms + 0.01 * capacity, summary
    assert codes[200] <= (capacity + (t1 - t0) * per_ms) * 1.01, summary

    allowed_times = sorted(t for t, status, _, _ in entries if status == 200)
    for window_ms in (10, 100, 1000, 2000):
        most, lo = 0, 0
        for hi, t in enumerate(allowed_times):
            while allowed_times[lo] < t - window_ms:
                lo += 1
            most = max(most, hi - lo + 1)
        bound = capacity + math.floor(window_ms * per_ms)
        assert most <= bound * 1.01, f"{label}: {most} allowed within {window_ms} ms > {bound}"


def test_one_hot_key_gets_exactly_the_rate_under_concurrency(nginx):
    # 2000r/s: C = 2000, T = 0.5 ms; wrk sends several times that from 64 connections.
    srv = nginx(conf("captain_limit_zone name=flood size=1m key=$binary_remote_addr "
                     "rate=2000r/s;"))
    run_wrk(srv)
    check_rate(log_entries(srv), capacity=2000, per_ms=2.0, label="hot key")


def test_burst_adds_to_the_capacity_not_to_the_rate(nginx):
    srv = nginx(conf("captain_limit_zone name=flood size=1m key=$binary_remote_addr "
                     "rate=100r/100ms burst=1000;"))
    run_wrk(srv)
    check_rate(log_entries(srv), capacity=1100, per_ms=1.0, label="burst")


KEYS_LUA = """
-- Four keys in turn on every connection.
local n = 0
request = function()
    n = n + 1
    return wrk.format(nil, nil, { ["X-Key"] = "key-" .. (n % 4) })
end
"""


def test_several_hot_keys_each_get_exactly_the_rate(nginx):
    srv = nginx(conf("captain_limit_zone name=flood size=1m key=$http_x_key rate=500r/s;"))
    run_wrk(srv, script=KEYS_LUA)
    entries = log_entries(srv)
    by_key = {}
    for entry in entries:
        by_key.setdefault(entry[3], []).append(entry)
    assert sorted(by_key) == [f"key-{i}" for i in range(4)]
    for key, mine in sorted(by_key.items()):
        check_rate(mine, capacity=500, per_ms=0.5, label=key)
