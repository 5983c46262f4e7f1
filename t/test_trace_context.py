"""captain_trace, captain_trace_sample_rate, the trace variables, traceparent and tracestate."""

import re

import pytest

from conftest import echoed, request

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
# Level 2 trace-flags: only sampled (01) and random-trace-id (02) may be set by us.
OURS = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[0-3])$")
NEW_ROOT_SAMPLED = "03"    # a trace we start: random trace id, sampled at rate 1
NEW_ROOT_UNSAMPLED = "02"  # random trace id, not sampled

CONF = """
    captain_trace on;
    log_format trace '$captain_trace_id $captain_span_id $captain_parent_span_id '
                     '$captain_trace_sampled $captain_traceparent';
    server {
        listen 127.0.0.1:@PORT@;
        access_log @DIR@/trace.log trace;
        add_header X-Trace-Id $captain_trace_id always;
        add_header X-Span-Id $captain_span_id always;
        add_header X-Parent-Span-Id $captain_parent_span_id always;
        add_header X-Sampled $captain_trace_sampled always;
        location / { proxy_pass http://@UPSTREAM@; }
        location /never/ { captain_trace_sample_rate 0; proxy_pass http://@UPSTREAM@; }
        location /half/ { captain_trace_sample_rate 0.5; proxy_pass http://@UPSTREAM@; }
        location /off/ { captain_trace off; proxy_pass http://@UPSTREAM@; }
        location = /redirected { error_page 404 = @upstream; return 404; }
        location @upstream { proxy_pass http://@UPSTREAM@; }
    }
"""


@pytest.fixture
def server(nginx):
    return nginx(CONF)


def ours(value):
    m = OURS.match(value or "")
    assert m, f"not a traceparent we generate: {value!r}"
    return m.group(1), m.group(2), m.group(3)


def check_propagation(r):
    """Response and upstream carry the same single traceparent: our span. Returns its parts."""
    sent_upstream = echoed(r, "traceparent")
    assert len(sent_upstream) == 1, sent_upstream
    assert sent_upstream[0] == r.header("traceparent")
    trace_id, span_id, flags = ours(sent_upstream[0])
    assert r.header("X-Trace-Id") == trace_id
    assert r.header("X-Span-Id") == span_id
    assert r.header("X-Sampled") == str(int(flags, 16) & 1)
    return trace_id, span_id, flags


# Sampled as the parent says, random-trace-id as received, reserved bits zeroed (Level 2
# "trace-flags").
CONTINUED = [
    (f"00-{TRACE_ID}-{PARENT_ID}-01", "01"),
    (f"00-{TRACE_ID}-{PARENT_ID}-00", "00"),
    (f"00-{TRACE_ID}-{PARENT_ID}-02", "02"),          # random-trace-id kept
    (f"00-{TRACE_ID}-{PARENT_ID}-03", "03"),
    (f"00-{TRACE_ID}-{PARENT_ID}-09", "01"),          # reserved bits zeroed
    (f"00-{TRACE_ID}-{PARENT_ID}-fe", "02"),
    (f"00-{TRACE_ID}-{PARENT_ID}-ff", "03"),
    (f"00-{TRACE_ID}-{PARENT_ID}-fc", "00"),
    (f"cc-{TRACE_ID}-{PARENT_ID}-01-what-the-future-holds", "01"),  # future version
    (f"cc-{TRACE_ID}-{PARENT_ID}-03-what-the-future-holds", "03"),
    (f"01-{TRACE_ID}-{PARENT_ID}-01", "01"),
    (f"  00-{TRACE_ID}-{PARENT_ID}-01  ", "01"),      # optional whitespace around the value
]


@pytest.mark.parametrize("incoming, flags", CONTINUED)
def test_valid_traceparent_is_continued_with_our_span(server, incoming, flags):
    r = request(server.port, "/", headers=[("traceparent", incoming)])
    trace_id, span_id, sent_flags = check_propagation(r)
    assert trace_id == TRACE_ID
    assert span_id != PARENT_ID
    assert sent_flags == flags
    assert r.header("X-Parent-Span-Id") == PARENT_ID


RESTARTED = [
    f"00-{TRACE_ID.upper()}-{PARENT_ID}-01",           # uppercase hex
    f"00-{TRACE_ID}-{PARENT_ID.upper()}-01",
    f"ff-{TRACE_ID}-{PARENT_ID}-01",                   # forbidden version
    f"00-{'0' * 32}-{PARENT_ID}-01",                   # all-zero trace id
    f"00-{TRACE_ID}-{'0' * 16}-01",                    # all-zero parent id
    f"00-{TRACE_ID[:-1]}-{PARENT_ID}-01",              # short trace id
    f"00-{TRACE_ID}-{PARENT_ID[:-1]}-01",              # short parent id
    f"00-{TRACE_ID}-{PARENT_ID}-01-extra",             # version 00 is exactly 55 chars
    f"00-{TRACE_ID}-{PARENT_ID}-",                     # no flags
    f"00-{TRACE_ID}-{PARENT_ID}-0",
    f"00-{TRACE_ID[:-1]}g-{PARENT_ID}-01",             # not hex
    f"00_{TRACE_ID}-{PARENT_ID}-01",                   # bad delimiter
    f"0-{TRACE_ID}-{PARENT_ID}-01",                    # one-digit version
    f"cc-{TRACE_ID}-{PARENT_ID}-01x",                  # future version, flags not followed by '-'
    f"cc-{TRACE_ID}-{PARENT_ID}",                      # future version shorter than 55
    "hello",
    "",
]


@pytest.mark.parametrize("incoming", RESTARTED, ids=lambda v: v[:24] or "empty")
def test_invalid_traceparent_restarts_the_trace(server, incoming):
    r = request(server.port, "/", headers=[("traceparent", incoming),
                                           ("tracestate", "congo=t61rcWkgMzE")])
    trace_id, span_id, flags = check_propagation(r)
    assert trace_id != TRACE_ID
    assert r.header("X-Parent-Span-Id") is None  # no parent: not found, add_header skips it
    assert flags == NEW_ROOT_SAMPLED             # default sample rate 1, random trace id
    assert echoed(r, "tracestate") == []         # a restarted trace drops tracestate


def test_two_traceparent_headers_restart_the_trace(server):
    r = request(server.port, "/", headers=[("traceparent", f"00-{TRACE_ID}-{PARENT_ID}-01"),
                                           ("traceparent", f"00-{TRACE_ID}-{PARENT_ID}-01")])
    trace_id, _, _ = check_propagation(r)
    assert trace_id != TRACE_ID


def test_request_without_traceparent_starts_a_trace(server):
    first = check_propagation(request(server.port, "/"))
    second = check_propagation(request(server.port, "/"))
    assert first[0] != second[0]


def test_upstream_sees_our_span_as_its_parent(server):
    r = request(server.port, "/", headers=[("traceparent", f"00-{TRACE_ID}-{PARENT_ID}-01")])
    upstream_parent = echoed(r, "traceparent")[0].split("-")[2]
    assert upstream_parent == r.header("X-Span-Id")
    assert upstream_parent != PARENT_ID


@pytest.mark.parametrize("path, incoming_flags, expected", [
    ("/never/", None, NEW_ROOT_UNSAMPLED),   # new root, rate 0
    ("/never/", "01", "01"),                 # the caller sampled: honored even at rate 0
    ("/never/", "03", "03"),
    ("/", "00", "00"),                       # the caller did not: honored even at rate 1
    ("/", "02", "02"),
    ("/", None, NEW_ROOT_SAMPLED),           # new root, rate 1
])
def test_sampling_is_parent_based(server, path, incoming_flags, expected):
    headers = []
    if incoming_flags:
        headers = [("traceparent", f"00-{TRACE_ID}-{PARENT_ID}-{incoming_flags}")]
    _, _, flags = check_propagation(request(server.port, path, headers=headers))
    assert flags == expected


def test_sample_rate_applies_to_new_roots(server):
    sampled = sum(check_propagation(request(server.port, "/half/"))[2] == NEW_ROOT_SAMPLED
                  for _ in range(400))
    assert 120 < sampled < 280, sampled  # mean 200, standard deviation 10


def test_tracestate_is_passed_on_with_a_continued_trace(server):
    r = request(server.port, "/", headers=[("traceparent", f"00-{TRACE_ID}-{PARENT_ID}-01"),
                                           ("tracestate", "rojo=00f067aa0ba902b7, congo=t61rcWkgMzE")])
    assert echoed(r, "tracestate") == ["rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"]


def test_several_tracestate_headers_are_combined(server):
    r = request(server.port, "/", headers=[("traceparent", f"00-{TRACE_ID}-{PARENT_ID}-01"),
                                           ("tracestate", "a=1"), ("tracestate", "b=2,,")])
    assert echoed(r, "tracestate") == ["a=1,b=2"]


@pytest.mark.parametrize("tracestate", [
    "UPPER=1",                                   # keys are lowercase
    ",".join(f"k{i}=v" for i in range(33)),      # more than 32 members
    "novalue",
], ids=["uppercase-key", "33-members", "no-equals"])
def test_invalid_tracestate_is_dropped_but_trace_continues(server, tracestate):
    r = request(server.port, "/", headers=[("traceparent", f"00-{TRACE_ID}-{PARENT_ID}-01"),
                                           ("tracestate", tracestate)])
    trace_id, _, _ = check_propagation(r)
    assert trace_id == TRACE_ID
    assert echoed(r, "tracestate") == []


@pytest.mark.parametrize("tracestate, expected", [
    ("a=trailing,", "a=trailing"),               # empty list-member
    ("a=1,a=2", "a=1"),                          # repeated key: the leftmost is kept
    (" , a=1 ,\t, b= 2\t", "a=1,b= 2"),           # OWS dropped; a value's leading space kept
], ids=["trailing-comma", "duplicate", "whitespace"])
def test_odd_but_recoverable_tracestate_is_normalized(server, tracestate, expected):
    r = request(server.port, "/", headers=[("traceparent", f"00-{TRACE_ID}-{PARENT_ID}-01"),
                                           ("tracestate", tracestate)])
    assert echoed(r, "tracestate") == [expected]


def test_long_tracestate_is_truncated_by_whole_members(server):
    long_members = [f"long{i}={'x' * 140}" for i in range(3)]   # > 128 chars each: dropped first
    short_members = [f"s{i}={'y' * 61}" for i in range(8)]      # 64 chars each: 8 do not fit
    incoming = ",".join(short_members[:2] + long_members + short_members[2:])
    r = request(server.port, "/", headers=[("traceparent", f"00-{TRACE_ID}-{PARENT_ID}-01"),
                                           ("tracestate", incoming)])
    sent = echoed(r, "tracestate")[0]
    assert len(sent) <= 512
    assert sent == ",".join(short_members[:7])   # then members from the right until it fits


def test_truncation_drops_the_oldest_long_member_first(server):
    # Level 2 "tracestate Limits": long entries first, from the end (oldest) of the list; the
    # newest, leftmost entry stays.
    newest, oldest = f"newest={'n' * 140}", f"oldest={'o' * 140}"
    middle = [f"m{i}={'y' * 61}" for i in range(4)]
    incoming = ",".join([newest] + middle + [oldest])
    assert len(incoming) > 512
    r = request(server.port, "/", headers=[("traceparent", f"00-{TRACE_ID}-{PARENT_ID}-01"),
                                           ("tracestate", incoming)])
    assert echoed(r, "tracestate") == [",".join([newest] + middle)]


def test_trace_is_kept_across_internal_redirect(server):
    r = request(server.port, "/redirected", headers=[("traceparent", f"00-{TRACE_ID}-{PARENT_ID}-01")])
    assert r.status == 200
    trace_id, _, _ = check_propagation(r)
    assert trace_id == TRACE_ID


def test_variables_in_access_log(server):
    r = request(server.port, "/", headers=[("traceparent", f"00-{TRACE_ID}-{PARENT_ID}-01")])
    server.stop()
    line = (server.dir / "trace.log").read_text().strip().splitlines()[-1]
    assert line == f"{TRACE_ID} {r.header('X-Span-Id')} {PARENT_ID} 1 {r.header('traceparent')}"


def test_off_passes_trace_headers_through_untouched(server):
    incoming = f"00-{TRACE_ID}-{PARENT_ID}-01"
    r = request(server.port, "/off/", headers=[("traceparent", incoming), ("tracestate", "a=1")])
    assert r.header("traceparent") is None
    assert echoed(r, "traceparent") == [incoming]
    assert echoed(r, "tracestate") == ["a=1"]


def test_trace_is_off_by_default(nginx):
    server = nginx("server { listen 127.0.0.1:@PORT@; location / { proxy_pass http://@UPSTREAM@; } }")
    r = request(server.port, "/")
    assert r.header("traceparent") is None
    assert echoed(r, "traceparent") == []

