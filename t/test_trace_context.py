"""captain_trace, captain_trace_sample_rate, the trace variables, traceparent and tracestate.

W3C Trace Context Level 2 (https://www.w3.org/TR/trace-context-2/): the second half of this file
re-expresses the cases of the W3C test suite (w3c/trace-context, test/test.py) as requests
through nginx to the echo upstream, which plays the suite's "callback": what it received is what
our participant propagated.
"""

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


# --- The W3C test suite's cases (test/test.py), through nginx ----------------------------------
# SUITE_* are the suite's own ids. `propagated` sends the headers and returns what the upstream
# got: exactly one traceparent (the suite's get_traceparent insists on one) and the tracestate
# field values, after checking that the client's response carries the same traceparent.

SUITE_TRACE_ID = "12345678901234567890123456789012"
SUITE_PARENT_ID = "1234567890123456"
SUITE_PARENT = f"00-{SUITE_TRACE_ID}-{SUITE_PARENT_ID}-00"


def propagated(server, headers):
    r = request(server.port, "/", headers=headers)
    assert r.status == 200
    sent = echoed(r, "traceparent")
    assert len(sent) == 1, f"expected one traceparent upstream, got {sent!r}"
    assert r.header("traceparent") == sent[0]
    _, trace_id, parent_id, flags = sent[0].split("-")
    assert OURS.match(sent[0]), sent[0]
    return trace_id, parent_id, int(flags, 16), echoed(r, "tracestate")


def test_suite_both_traceparent_and_tracestate_missing(server):
    _, _, flags, tracestate = propagated(server, [])
    assert flags & 0x02  # Level 2: we start traces with random ids
    assert tracestate == []


def test_suite_traceparent_included_tracestate_missing(server):
    trace_id, parent_id, _, tracestate = propagated(
        server, [("traceparent", f"00-{SUITE_TRACE_ID}-{SUITE_PARENT_ID}-01")])
    assert trace_id == SUITE_TRACE_ID
    assert parent_id != SUITE_PARENT_ID
    assert tracestate == []


@pytest.mark.parametrize("name", ["TraceParent", "TrAcEpArEnT", "TRACEPARENT"])
def test_suite_traceparent_header_name_valid_casing(server, name):
    trace_id, _, _, _ = propagated(server, [(name, f"00-{SUITE_TRACE_ID}-{SUITE_PARENT_ID}-01")])
    assert trace_id == SUITE_TRACE_ID


@pytest.mark.parametrize("name", ["trace-parent", "trace.parent"])
def test_suite_traceparent_header_name(server, name):
    trace_id, _, _, _ = propagated(server, [(name, f"00-{SUITE_TRACE_ID}-{SUITE_PARENT_ID}-01")])
    assert trace_id != SUITE_TRACE_ID


def test_suite_traceparent_duplicated(server):
    trace_id, _, _, _ = propagated(server, [
        ("traceparent", "00-12345678901234567890123456789011-1234567890123456-01"),
        ("traceparent", "00-12345678901234567890123456789012-1234567890123456-01")])
    assert trace_id not in ("12345678901234567890123456789011", SUITE_TRACE_ID)


SUITE_RESTARTED = {
    "version_0x00_trailing_dot": f"00-{SUITE_TRACE_ID}-{SUITE_PARENT_ID}-01.",
    "version_0x00_future_fields":
        f"00-{SUITE_TRACE_ID}-{SUITE_PARENT_ID}-01-what-the-future-will-be-like",
    "version_0xcc_flags_then_dot":
        f"cc-{SUITE_TRACE_ID}-{SUITE_PARENT_ID}-01.what-the-future-will-be-like",
    "version_0xff": f"ff-{SUITE_TRACE_ID}-{SUITE_PARENT_ID}-01",
    "version_illegal_1": f".0-{SUITE_TRACE_ID}-{SUITE_PARENT_ID}-01",
    "version_illegal_2": f"0.-{SUITE_TRACE_ID}-{SUITE_PARENT_ID}-01",
    "version_too_long_3": f"000-{SUITE_TRACE_ID}-{SUITE_PARENT_ID}-01",
    "version_too_long_4": f"0000-{SUITE_TRACE_ID}-{SUITE_PARENT_ID}-01",
    "version_too_short": f"0-{SUITE_TRACE_ID}-{SUITE_PARENT_ID}-01",
    "trace_id_all_zero": f"00-{'0' * 32}-{SUITE_PARENT_ID}-01",
    "trace_id_illegal_1": f"00-.2345678901234567890123456789012-{SUITE_PARENT_ID}-01",
    "trace_id_illegal_2": f"00-1234567890123456789012345678901.-{SUITE_PARENT_ID}-01",
    "trace_id_too_long": f"00-{SUITE_TRACE_ID}3-{SUITE_PARENT_ID}-01",
    "trace_id_too_short": f"00-{SUITE_TRACE_ID[:-1]}-{SUITE_PARENT_ID}-01",
    "parent_id_all_zero": f"00-{SUITE_TRACE_ID}-{'0' * 16}-01",
    "parent_id_illegal_1": f"00-{SUITE_TRACE_ID}-.234567890123456-01",
    "parent_id_illegal_2": f"00-{SUITE_TRACE_ID}-123456789012345.-01",
    "parent_id_too_long": f"00-{SUITE_TRACE_ID}-{SUITE_PARENT_ID}7-01",
    "parent_id_too_short": f"00-{SUITE_TRACE_ID}-{SUITE_PARENT_ID[:-1]}-01",
    "trace_flags_illegal_1": f"00-{SUITE_TRACE_ID}-{SUITE_PARENT_ID}-.0",
    "trace_flags_illegal_2": f"00-{SUITE_TRACE_ID}-{SUITE_PARENT_ID}-0.",
    "trace_flags_too_long": f"00-{SUITE_TRACE_ID}-{SUITE_PARENT_ID}-001",
    "trace_flags_too_short": f"00-{SUITE_TRACE_ID}-{SUITE_PARENT_ID}-1",
    "uppercase_hex": f"00-{SUITE_TRACE_ID[:-1]}A-{SUITE_PARENT_ID}-01",
}


@pytest.mark.parametrize("traceparent", SUITE_RESTARTED.values(), ids=SUITE_RESTARTED.keys())
def test_suite_invalid_traceparent_restarts_and_drops_tracestate(server, traceparent):
    trace_id, parent_id, flags, tracestate = propagated(
        server, [("traceparent", traceparent), ("tracestate", "foo=1")])
    assert trace_id != SUITE_TRACE_ID
    assert trace_id != "0" * 32 and parent_id != "0" * 16
    assert flags == int(NEW_ROOT_SAMPLED, 16)
    # "If the vendor failed to parse traceparent, it MUST NOT attempt to parse tracestate."
    assert tracestate == []


@pytest.mark.parametrize("traceparent", [
    f"cc-{SUITE_TRACE_ID}-{SUITE_PARENT_ID}-01",
    f"cc-{SUITE_TRACE_ID}-{SUITE_PARENT_ID}-01-what-the-future-will-be-like",
], ids=["exact-length", "future-fields"])
def test_suite_traceparent_version_0xcc(server, traceparent):
    trace_id, parent_id, flags, tracestate = propagated(
        server, [("traceparent", traceparent), ("tracestate", "foo=1")])
    assert trace_id == SUITE_TRACE_ID
    assert parent_id != SUITE_PARENT_ID
    assert flags == 0x01      # downgraded to version 00 (OURS checks "00-")
    assert tracestate == ["foo=1"]


@pytest.mark.parametrize("traceparent", [
    f" {SUITE_PARENT}", f"\t{SUITE_PARENT}", f"{SUITE_PARENT} ", f"{SUITE_PARENT}\t",
    f"\t {SUITE_PARENT} \t",
], ids=["sp-before", "tab-before", "sp-after", "tab-after", "both"])
def test_suite_traceparent_ows_handling(server, traceparent):
    trace_id, _, _, _ = propagated(server, [("traceparent", traceparent)])
    assert trace_id == SUITE_TRACE_ID


def test_suite_tracestate_included_traceparent_missing(server):
    for tracestate in ("foo=1", "foo=1,bar=2"):
        trace_id, _, _, sent = propagated(server, [("tracestate", tracestate)])
        assert sent == []  # a tracestate without traceparent is discarded


def test_suite_tracestate_included_traceparent_included(server):
    trace_id, _, _, sent = propagated(
        server, [("traceparent", SUITE_PARENT), ("tracestate", "foo=1,bar=2")])
    assert trace_id == SUITE_TRACE_ID
    assert sent == ["foo=1,bar=2"]


@pytest.mark.parametrize("name", ["trace-state", "trace.state"])
def test_suite_tracestate_header_name(server, name):
    _, _, _, sent = propagated(server, [("traceparent", SUITE_PARENT), (name, "foo=1")])
    assert sent == []


@pytest.mark.parametrize("name", ["TraceState", "TrAcEsTaTe", "TRACESTATE"])
def test_suite_tracestate_header_name_valid_casing(server, name):
    _, _, _, sent = propagated(server, [("traceparent", SUITE_PARENT), (name, "foo=1")])
    assert sent == ["foo=1"]


@pytest.mark.parametrize("fields, expected", [
    ([""], []),                      # accepted, and not sent on empty
    (["foo=1", ""], ["foo=1"]),
    (["", "foo=1"], ["foo=1"]),
], ids=["empty", "value-then-empty", "empty-then-value"])
def test_suite_tracestate_empty_header(server, fields, expected):
    trace_id, _, _, sent = propagated(
        server, [("traceparent", SUITE_PARENT)] + [("tracestate", f) for f in fields])
    assert trace_id == SUITE_TRACE_ID
    assert sent == expected


def test_suite_tracestate_multiple_headers_different_keys(server):
    _, _, _, sent = propagated(server, [("traceparent", SUITE_PARENT),
                                        ("tracestate", "foo=1,bar=2"),
                                        ("tracestate", "rojo=1,congo=2"),
                                        ("tracestate", "baz=3")])
    assert sent == ["foo=1,bar=2,rojo=1,congo=2,baz=3"]


@pytest.mark.parametrize("fields, expected", [
    (["foo=1,foo=1"], "foo=1"),
    (["foo=1,foo=2"], "foo=1"),
    (["foo=1", "foo=1"], "foo=1"),
    (["foo=1", "foo=2"], "foo=1"),
], ids=["same-value", "other-value", "two-fields-same", "two-fields-other"])
def test_suite_tracestate_duplicated_keys(server, fields, expected):
    trace_id, _, _, sent = propagated(
        server, [("traceparent", SUITE_PARENT)] + [("tracestate", f) for f in fields])
    assert trace_id == SUITE_TRACE_ID
    assert sent == [expected]


def test_suite_tracestate_all_allowed_characters(server):
    key = "abcdefghijklmnopqrstuvwxyz0123456789_-*/"
    value = "".join(chr(c) for c in range(0x20, 0x7f) if chr(c) not in ",=")
    for k in (key, key + "@a-z0-9_-*/"):
        _, _, _, sent = propagated(server, [("traceparent", SUITE_PARENT),
                                            ("tracestate", f"{k}={value}")])
        assert sent == [f"{k}={value}"]


@pytest.mark.parametrize("tracestate, expected", [
    ("foo=1 \t , \t bar=2, \t baz=3", "foo=1,bar=2,baz=3"),
    ("foo=1\t \t,\t \tbar=2,\t \tbaz=3", "foo=1,bar=2,baz=3"),
    (" foo=1", "foo=1"),
    ("\tfoo=1", "foo=1"),
    ("foo=1 ", "foo=1"),
    ("foo=1\t", "foo=1"),
    ("\t foo=1 \t", "foo=1"),
])
def test_suite_tracestate_ows_handling(server, tracestate, expected):
    trace_id, _, _, sent = propagated(server, [("traceparent", SUITE_PARENT),
                                               ("tracestate", tracestate)])
    assert trace_id == SUITE_TRACE_ID
    assert sent == [expected]


@pytest.mark.parametrize("tracestate", [
    "foo =1", "FOO=1", "foo.bar=1",          # test_tracestate_key_illegal_characters
    "@foo=1,bar=2",                          # test_tracestate_key_illegal_vendor_format
    "foo=bar=baz", "foo=,bar=3",             # test_tracestate_value_illegal_characters
])
def test_suite_invalid_tracestate_is_discarded(server, tracestate):
    trace_id, _, _, sent = propagated(server, [("traceparent", SUITE_PARENT),
                                               ("tracestate", tracestate)])
    assert trace_id == SUITE_TRACE_ID
    assert sent == []


@pytest.mark.parametrize("tracestate", ["foo@=1,bar=2", "foo@@bar=1,bar=2", "foo@bar@baz=1,bar=2"])
def test_suite_tracestate_key_vendor_format(server, tracestate):
    _, _, _, sent = propagated(server, [("traceparent", SUITE_PARENT), ("tracestate", tracestate)])
    assert sent == [tracestate]


def suite_members(first, last):
    return ",".join(f"bar{i:02d}={i:02d}" for i in range(first, last + 1))


def test_suite_tracestate_member_count_limit(server):
    fields = [suite_members(1, 10), suite_members(11, 20), suite_members(21, 30)]
    _, _, _, sent = propagated(server, [("traceparent", SUITE_PARENT)] +
                               [("tracestate", f) for f in fields + [suite_members(31, 32)]])
    assert sent == [suite_members(1, 32)]
    _, _, _, sent = propagated(server, [("traceparent", SUITE_PARENT)] +
                               [("tracestate", f) for f in fields + [suite_members(31, 33)]])
    assert sent == []


@pytest.mark.parametrize("key, kept", [
    ("z" * 256, True),
    ("z" * 257, False),
    ("t" * 241 + "@" + "v" * 14, True),
    ("t" * 242 + "@v", True),
    ("t@" + "v" * 15, True),
], ids=["256", "257", "tenant-241-vendor-14", "tenant-242-vendor-1", "tenant-1-vendor-15"])
def test_suite_tracestate_key_length_limit(server, key, kept):
    _, _, _, sent = propagated(server, [("traceparent", SUITE_PARENT), ("tracestate", "foo=1"),
                                        ("tracestate", f"{key}=1")])
    assert sent == ([f"foo=1,{key}=1"] if kept else [])


def test_suite_multiple_requests_with_valid_traceparent(server):
    # AdvancedTest: one trace id, a new parent id for every outgoing request.
    seen = [propagated(server, [("traceparent", f"00-{SUITE_TRACE_ID}-{SUITE_PARENT_ID}-01")])
            for _ in range(3)]
    assert {trace_id for trace_id, _, _, _ in seen} == {SUITE_TRACE_ID}
    assert len({parent_id for _, parent_id, _, _ in seen}) == 3


def test_suite_multiple_requests_with_illegal_traceparent(server):
    seen = [propagated(server, [("traceparent", f"00-{'0' * 32}-{SUITE_PARENT_ID}-01")])
            for _ in range(3)]
    assert "0" * 32 not in {trace_id for trace_id, _, _, _ in seen}
    assert len({parent_id for _, parent_id, _, _ in seen}) == 3


def test_suite_level2_propagates_random_flag(server):
    # TraceContext2Test.test_propagates_random_flag
    trace_id, parent_id, flags, _ = propagated(
        server, [("traceparent", f"00-{SUITE_TRACE_ID}-{SUITE_PARENT_ID}-02")])
    assert trace_id == SUITE_TRACE_ID
    assert parent_id != SUITE_PARENT_ID
    assert flags & 0x02
    assert flags == 0x02  # not sampled: the caller's decision is kept
