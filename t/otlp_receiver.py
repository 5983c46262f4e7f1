"""A real OTLP/HTTP trace receiver on loopback for the tests.

It decodes what the module and the controller send per the OTLP/HTTP specification's JSON
encoding (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding): POST /v1/traces,
Content-Type application/json, an ExportTraceServiceRequest. Every request is checked against
the spec's rules (hex trace and span ids of the right length, integer enums, 64-bit integers and
timestamps as decimal strings or numbers, one value kind per AnyValue) and a violation is
recorded in `.errors` — tests assert that list is empty, so a malformed export fails them.
"""

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")
VALUE_KINDS = {"stringValue", "boolValue", "intValue", "doubleValue", "arrayValue",
               "kvlistValue", "bytesValue"}


class ExportError(ValueError):
    pass


def _int64(value, what):
    if isinstance(value, bool):
        raise ExportError(f"{what} is a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value):
        return int(value)
    raise ExportError(f"{what} is not a 64-bit integer: {value!r}")


def decode_value(any_value):
    if not isinstance(any_value, dict) or len(any_value) != 1:
        raise ExportError(f"AnyValue must hold exactly one field: {any_value!r}")
    (kind, v), = any_value.items()
    if kind not in VALUE_KINDS:
        raise ExportError(f"unknown AnyValue field {kind}")
    if kind == "stringValue":
        if not isinstance(v, str):
            raise ExportError("stringValue is not a string")
        return v
    if kind == "boolValue":
        if not isinstance(v, bool):
            raise ExportError("boolValue is not a boolean")
        return v
    if kind == "intValue":
        return _int64(v, "intValue")
    if kind == "doubleValue":
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
        if v in ("NaN", "Infinity", "-Infinity"):
            return float(v)
        raise ExportError(f"doubleValue is not a number: {v!r}")
    if kind == "arrayValue":
        return [decode_value(x) for x in v.get("values", [])]
    if kind == "kvlistValue":
        return decode_attributes(v.get("values", []))
    return v


def decode_attributes(attributes):
    out = {}
    for kv in attributes:
        key = kv.get("key")
        if not isinstance(key, str) or not key:
            raise ExportError(f"attribute without a key: {kv!r}")
        if key in out:
            raise ExportError(f"attribute {key} appears twice")
        out[key] = decode_value(kv.get("value"))
    return out


def decode_span(span, resource, scope):
    trace_id = span.get("traceId", "")
    span_id = span.get("spanId", "")
    if not HEX32.match(trace_id) or trace_id == "0" * 32:
        raise ExportError(f"traceId is not 32 lowercase hex digits: {trace_id!r}")
    if not HEX16.match(span_id) or span_id == "0" * 16:
        raise ExportError(f"spanId is not 16 lowercase hex digits: {span_id!r}")
    parent = span.get("parentSpanId", "")
    if parent and not HEX16.match(parent):
        raise ExportError(f"parentSpanId is not 16 lowercase hex digits: {parent!r}")
    kind = span.get("kind", 0)
    if not isinstance(kind, int) or not 0 <= kind <= 5:
        raise ExportError(f"kind must be an integer enum: {kind!r}")
    start = _int64(span.get("startTimeUnixNano", 0), "startTimeUnixNano")
    end = _int64(span.get("endTimeUnixNano", 0), "endTimeUnixNano")
    if end < start:
        raise ExportError("the span ends before it starts")
    status = span.get("status", {})
    if "code" in status and status["code"] not in (0, 1, 2):
        raise ExportError(f"status.code must be an integer enum: {status['code']!r}")
    if not isinstance(span.get("name"), str) or not span["name"]:
        raise ExportError("a span needs a name")
    return {
        "traceId": trace_id,
        "spanId": span_id,
        "parentSpanId": parent,
        "traceState": span.get("traceState", ""),
        "flags": span.get("flags", 0),
        "name": span["name"],
        "kind": kind,
        "start": start,
        "end": end,
        "attributes": decode_attributes(span.get("attributes", [])),
        "status": status,
        "resource": resource,
        "scope": scope,
    }


def decode_request(body):
    doc = json.loads(body)
    spans = []
    for rs in doc.get("resourceSpans", []):
        resource = decode_attributes(rs.get("resource", {}).get("attributes", []))
        for ss in rs.get("scopeSpans", []):
            scope = ss.get("scope", {})
            for span in ss.get("spans", []):
                spans.append(decode_span(span, resource, scope))
    return spans


class OtlpReceiver:
    """Start with OtlpReceiver() (binds 127.0.0.1 on an ephemeral port unless `port` is given);
    `.endpoint` is the base URL to configure."""

    def __init__(self, port=0):
        self._lock = threading.Lock()
        self._spans = []
        self.errors = []
        self.requests = 0
        self.status = 200  # what export requests are answered with
        self.delay = 0.0   # seconds to wait before answering
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver._handle(self.path, self.headers.get("Content-Type", ""), body)
                if receiver.delay:
                    time.sleep(receiver.delay)
                reply = b"{}"
                self.send_response(receiver.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _handle(self, path, content_type, body):
        with self._lock:
            self.requests += 1
            try:
                if path != "/v1/traces":
                    raise ExportError(f"posted to {path}, not /v1/traces")
                if content_type.split(";")[0].strip() != "application/json":
                    raise ExportError(f"Content-Type {content_type!r}")
                if self.status == 200:
                    self._spans.extend(decode_request(body))
            except (ExportError, ValueError) as e:
                self.errors.append(str(e))

    def spans(self):
        with self._lock:
            return list(self._spans)

    def clear(self):
        with self._lock:
            self._spans.clear()

    def wait_for(self, predicate, timeout=10.0):
        """Waits until predicate(spans) is true; returns the spans (asserting on timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            spans = self.spans()
            if predicate(spans):
                return spans
            if time.monotonic() > deadline:
                raise AssertionError(f"spans never matched; got {len(spans)}: "
                                     f"{[s['name'] for s in spans][:20]}")
            time.sleep(0.05)

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
