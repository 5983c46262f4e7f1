"""HTTPS end to end, real everything: the controller gets certificates from a real ACME CA
(Debian's pebble, t/acme_ca.py) through lego over HTTP-01, the challenge served by the real
nginx it drives; clients verify what nginx serves against pebble's root, per SNI name.

Names: apps are <app>.captain.test; every name resolves to 127.0.0.1 for pebble (its DNS is
pebble-challtestsrv), and clients here connect to 127.0.0.1 with the name as SNI and Host.
"""

import ssl
import subprocess
import threading
import time

import pytest

from acme_ca import Pebble
from captain_stack import ROOT_DOMAIN, Stack
from conftest import free_port, wait_until

CAPTAIN = f"captain.{ROOT_DOMAIN}"
EMAIL = "ops@example.org"


def serial_of(der):
    """The certificate's serial number, from its DER (no third-party parser needed)."""
    out = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-serial"],
                         input=der, capture_output=True, check=True).stdout.decode()
    return out.strip().split("=", 1)[1]


def subject_of(der):
    """The certificate as `openssl x509 -text` prints it."""
    return subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-text"], input=der,
                          capture_output=True, check=True).stdout.decode()


class TlsStack(Stack):
    """The stack with pebble as its ACME CA."""

    def __init__(self, start_controller, swarm, workdir, ca_port=None, **env):
        super().__init__(start_controller, swarm, workdir, **env)
        self.ca = Pebble(self.workdir / "pebble", http_port=self.nginx_port, port=ca_port)
        self.extra_env.setdefault("CAPTAIN_ACME_DIRECTORY", self.ca.directory)
        self.extra_env.setdefault("CAPTAIN_ACME_CA_BUNDLE", str(self.ca.listener_cert))

    def root(self):
        return self.ca.root_file()

    def enable_root_ssl(self):
        envelope = self.api.v2("POST", "/user/system/enablessl", {"emailAddress": EMAIL})
        assert envelope["status"] == 100, envelope
        return envelope

    def shutdown(self):
        super().shutdown()
        self.ca.stop()


@pytest.fixture
def tls(start_controller, swarm, tmp_path):
    s = TlsStack(start_controller, swarm, tmp_path)
    s.ca.start()
    s.start_controller()
    s.start_nginx()
    yield s
    s.shutdown()


def test_certificates_per_name_from_the_ca_and_https_served_by_sni(tls):
    api = tls.api
    info = api.v2("GET", "/user/system/info")["data"]
    assert (info["hasRootSsl"], info["forceSsl"]) == (False, False)
    # CapRover's order: the root first.
    api.register("web")
    refused = api.v2("POST", "/user/apps/appDefinitions/enablebasedomainssl", {"appName": "web"})
    assert refused == {"status": 1000, "description":
                       "You have to first enable SSL for your root domain", "data": {}}

    started = time.monotonic()
    tls.enable_root_ssl()
    issue_seconds = time.monotonic() - started
    info = api.v2("GET", "/user/system/info")["data"]
    assert (info["hasRootSsl"], info["forceSsl"]) == (True, False)
    root = tls.root()
    # The call answered once nginx served the certificate: no wait needed.
    status, headers, body, cert = tls.https(CAPTAIN, "/api/v2/user/system/info", cafile=root)
    assert status == 200 and '"status":1106' in body.replace(" ", ""), body
    assert f"DNS:{CAPTAIN}" in subject_of(cert)

    # The app's default domain, and a custom domain with its own certificate.
    envelope = api.v2("POST", "/user/apps/appDefinitions/enablebasedomainssl", {"appName": "web"})
    assert envelope == {"status": 100, "description": "General SSL is enabled for: web",
                        "data": {}}
    assert api.v2("POST", "/user/apps/appDefinitions/customdomain",
                  {"appName": "web", "customDomain": "shop.example.test"})["status"] == 100
    envelope = api.v2("POST", "/user/apps/appDefinitions/enablecustomdomainssl",
                      {"appName": "web", "customDomain": "shop.example.test"})
    assert envelope["status"] == 100, envelope
    app = api.apps()["web"]
    assert app["hasDefaultSubDomainSsl"] is True
    assert app["customDomain"] == [{"publicDomain": "shop.example.test", "hasSsl": True}]
    assert app["nginxProblems"] == []

    # Every name gets its own certificate, verified against pebble's root; not yet deployed,
    # so the app's honest 503 comes back over HTTPS.
    for name in (f"web.{ROOT_DOMAIN}", "shop.example.test"):
        status, headers, _, cert = tls.https(name, cafile=root)
        assert status == 503, (name, status)
        assert f"DNS:{name}" in subject_of(cert)
        # HSTS on TLS only (the module's security headers).
        assert headers["strict-transport-security"] == "max-age=63072000; includeSubDomains"
    status, headers, _ = tls.request("web")
    assert status == 503 and "strict-transport-security" not in headers

    # An unknown name never gets another site's certificate: a self-signed one and 421.
    with pytest.raises(ssl.SSLCertVerificationError):
        tls.https("nobody.example.test", cafile=root)
    status, _, _, cert = tls.https("nobody.example.test")
    assert status == 421
    assert "CN = invalid" in subject_of(cert)

    # Deployed: proxied over HTTPS, and the app hears it was HTTPS.
    tls.deploy("web", "captain-test/web:1")
    wait_until(lambda: tls.https(f"web.{ROOT_DOMAIN}", cafile=root)[0] == 200, "web over HTTPS")
    assert tls.https(f"web.{ROOT_DOMAIN}", cafile=root)[2] == "web v1\n"

    # forceSsl needs a domain with SSL (CapRover's 1108); web has two.
    api.register("plain")
    assert api.update("plain", forceSsl=True) == {
        "status": 1108, "description": "Cannot force SSL without at least one SSL-enabled domain!",
        "data": {}}
    # forceSsl: GET and HEAD 301, every other method 308 (method and body kept); the ACME
    # path stays on plain HTTP.
    assert api.update("web", forceSsl=True)["status"] == 100
    wait_until(lambda: tls.request("web")[0] == 301, "the redirect")
    status, headers, _ = tls.request("web", "/a?b=1")
    assert (status, headers["location"]) == (
        301, f"https://web.{ROOT_DOMAIN}:{tls.tls_port}/a?b=1")
    assert tls.request("web", "/a", method="POST")[0] == 308
    assert tls.request("web", "/a", method="PUT")[0] == 308
    assert tls.request("web", "/.well-known/acme-challenge/none")[0] == 404
    # The root's forceSsl (CapRover's forcessl) does the same for captain.<root>.
    assert api.v2("POST", "/user/system/forcessl", {"isEnabled": True}) == {
        "status": 100, "description": "Non-SSL traffic is now rejected.", "data": {}}
    assert tls.request("captain", "/api/v2/user/system/info", host=CAPTAIN)[0] == 301
    assert tls.request("captain", "/api/v2/login", method="POST", host=CAPTAIN)[0] == 308
    assert api.v2("GET", "/user/system/info")["data"]["forceSsl"] is True

    # The dashboard's certificate panels and the alert read series this controller exports.
    check_certificate_panels(api)

    # One certificate took pebble + lego + nginx a few seconds.
    assert issue_seconds < 60, issue_seconds
    print(f"\nenablessl (issue + reload) took {issue_seconds:.1f}s")


def test_a_failed_challenge_answers_with_the_cas_message_and_changes_nothing(tls):
    api = tls.api
    tls.enable_root_ssl()
    api.register("web")
    assert api.v2("POST", "/user/apps/appDefinitions/customdomain",
                  {"appName": "web", "customDomain": "elsewhere.example.test"})["status"] == 100
    # The name points at another server: the CA's validation cannot reach us.
    tls.ca.resolve("elsewhere.example.test", "127.0.0.9")
    wait_until(lambda: tls.request("web", host="elsewhere.example.test")[0] == 503,
               "nginx to serve the custom domain")
    before = (tls.conf_dir / "current").resolve()
    reloads = tls.controller_metric("captain_nginx_reloads_total")
    envelope = api.v2("POST", "/user/apps/appDefinitions/enablecustomdomainssl",
                      {"appName": "web", "customDomain": "elsewhere.example.test"})
    assert envelope["status"] == 1107, envelope
    assert "Verification Failed for elsewhere.example.test" in envelope["description"]
    assert "urn:ietf:params:acme:error:connection" in envelope["description"], envelope
    assert "127.0.0.9" in envelope["description"], envelope
    assert api.apps()["web"]["customDomain"] == [
        {"publicDomain": "elsewhere.example.test", "hasSsl": False}]
    time.sleep(1)
    assert (tls.conf_dir / "current").resolve() == before
    assert tls.controller_metric("captain_nginx_reloads_total") == reloads
    assert not (tls.conf_dir / "current" / "certs" / "elsewhere.example.test.crt").exists()
    rows = [r for r in api.audit_rows() if r["action"] == "apps.ssl.customdomain"]
    assert rows and rows[-1]["result"] == "error:1107", rows
    assert tls.controller_metric('captain_acme_orders_total{outcome="refused"}') == 1


def test_a_deleted_or_corrupt_certificate_serves_that_app_over_http_and_the_others_keep_tls(tls):
    api = tls.api
    tls.enable_root_ssl()
    for app in ("a", "b", "c"):
        api.register(app)
        assert api.v2("POST", "/user/apps/appDefinitions/enablebasedomainssl",
                      {"appName": app})["status"] == 100
    assert api.update("a", forceSsl=True)["status"] == 100
    root = tls.root()
    for app in ("a", "b", "c"):
        assert tls.https(f"{app}.{ROOT_DOMAIN}", cafile=root)[0] == 503
    certs = tls.data_dir / "letsencrypt" / "certificates"
    (certs / f"a.{ROOT_DOMAIN}.crt").unlink()
    (certs / f"b.{ROOT_DOMAIN}.key").write_text("-----BEGIN PRIVATE KEY-----\ngarbage\n")

    def fell_back():
        problems = {n: api.apps()[n]["nginxProblems"] for n in ("a", "b", "c")}
        return problems if problems["a"] and problems["b"] else None
    problems = wait_until(fell_back, "the controller to notice", 30)
    assert problems["c"] == []
    assert "is missing" in problems["a"][0] and "served over HTTP only" in problems["a"][0]
    assert "no PEM private key" in problems["b"][0], problems
    # a and b: plain HTTP serves them (a's forceSsl needs a certificate to redirect to);
    # HTTPS for their names is the unknown-name server. c keeps its certificate.
    wait_until(lambda: tls.request("a")[0] == 503, "a served over HTTP")
    assert tls.request("b")[0] == 503
    for app in ("a", "b"):
        with pytest.raises(ssl.SSLCertVerificationError):
            tls.https(f"{app}.{ROOT_DOMAIN}", cafile=root)
    assert tls.https(f"c.{ROOT_DOMAIN}", cafile=root)[0] == 503
    assert tls.https(CAPTAIN, "/api/v2/user/system/info", cafile=root)[0] == 200
    logged = [line for line in tls.controller.log_lines()
              if line.get("msg") == "certificate not usable; served over HTTP only"]
    assert {line["app"] for line in logged} == {"a", "b"}, logged


def test_renewal_replaces_certificates_without_a_dropped_request(start_controller, swarm,
                                                                 tmp_path):
    # Every certificate is due at once (renew_before beyond pebble's 5-year lifetime), checked
    # every 2 s: renewals follow one another while clients keep connecting.
    tls = TlsStack(start_controller, swarm, tmp_path, CAPTAIN_ACME_RENEW_BEFORE="2000d",
                   CAPTAIN_ACME_RENEW_CHECK="2s")
    tls.ca.start()
    try:
        tls.start_controller()
        tls.start_nginx()
        tls.enable_root_ssl()
        tls.api.register("web")
        assert tls.api.v2("POST", "/user/apps/appDefinitions/enablebasedomainssl",
                          {"appName": "web"})["status"] == 100
        root = tls.root()
        serials, errors, done = set(), [], threading.Event()

        def client():
            while not done.is_set():
                try:
                    status, _, _, cert = tls.https(f"web.{ROOT_DOMAIN}", cafile=root)
                    if status != 503:
                        errors.append(f"status {status}")
                    serials.add(serial_of(cert))
                except Exception as e:  # noqa: BLE001 - every failure is a dropped request
                    errors.append(repr(e))
        threads = [threading.Thread(target=client) for _ in range(2)]
        for t in threads:
            t.start()
        try:
            wait_until(lambda: len(serials) >= 3, "two renewals seen by clients", 90)
        finally:
            done.set()
            for t in threads:
                t.join(timeout=30)
        assert errors == [], errors[:5]
        assert tls.controller_metric('captain_acme_orders_total{outcome="success"}') >= 4
        expiry = tls.controller_metric(
            f'captain_tls_certificate_expiry_timestamp_seconds{{domain="web.{ROOT_DOMAIN}"}}')
        assert expiry > time.time() + 4 * 365 * 86400
    finally:
        tls.shutdown()


def test_an_unreachable_ca_is_a_clear_error_and_renewals_retry(start_controller, swarm, tmp_path):
    ca_port = free_port()
    tls = TlsStack(start_controller, swarm, tmp_path, ca_port=ca_port,
                   CAPTAIN_ACME_RENEW_CHECK="2s")
    try:
        tls.start_controller()
        tls.start_nginx()
        # No CA listening yet.
        envelope = tls.api.v2("POST", "/user/system/enablessl", {"emailAddress": EMAIL})
        assert envelope["status"] == 1107, envelope
        assert f"ACME CA https://127.0.0.1:{ca_port}/dir unreachable" in envelope["description"]
        assert "connection refused" in envelope["description"], envelope
        assert "Nothing was changed" in envelope["description"]
        assert tls.api.v2("GET", "/user/system/info")["data"]["hasRootSsl"] is False
        assert tls.controller_metric('captain_acme_orders_total{outcome="unreachable"}') == 1
        # Once the CA is back, the same call works.
        tls.ca.start()
        tls.enable_root_ssl()
        root = tls.root()
        assert tls.https(CAPTAIN, "/api/v2/user/system/info", cafile=root)[0] == 200
        # A renewal while the CA is down fails, is retried with backoff, and the certificate
        # in place keeps serving.
        tls.ca.stop()
        tls.controller.proc.send_signal(15)
        tls.controller.wait(10)
        tls.extra_env["CAPTAIN_ACME_RENEW_BEFORE"] = "2000d"
        tls.start_controller()
        wait_until(lambda: tls.controller_metric(
            'captain_acme_orders_total{outcome="unreachable"}') >= 2, "renewal attempts", 90)
        failed = [line for line in tls.controller.log_lines()
                  if line.get("msg") == "certificate renewal failed; the current certificate "
                                        "keeps serving"]
        assert failed and failed[0]["retry_in_s"] >= 1, failed
        assert tls.https(CAPTAIN, "/api/v2/user/system/info", cafile=root)[0] == 200
        tls.ca.start()
        new_root = tls.root()
        wait_until(lambda: tls.controller_metric(
            'captain_acme_orders_total{outcome="success"}') >= 1, "a renewal once the CA is back",
            90)
        wait_until(lambda: _verifies(tls, CAPTAIN, new_root), "the renewed certificate served")
    finally:
        tls.shutdown()


def _verifies(tls, name, root):
    try:
        return tls.https(name, "/api/v2/user/system/info", cafile=root)[0] == 200
    except ssl.SSLError:
        return False


def check_certificate_panels(api):
    """Every dashboard query of the certificate series selects labels and values this
    controller (which holds certificates) really exports (t/test_monitoring_conf.py checks the
    rest of the dashboard against nginx and a controller without certificates)."""
    from test_monitoring_conf import (CERTIFICATE_METRICS, concrete, dashboard_queries,
                                      load_dashboard, parse_exposition, references)
    _, text = api.call("GET", "/metrics")
    exported = parse_exposition(text)
    checked = 0
    for where, expr, _ in dashboard_queries(load_dashboard()):
        selectors, grouping = references(concrete(expr))
        if not all(m.startswith(CERTIFICATE_METRICS) for m, _ in selectors):
            continue
        for metric, matchers in selectors:
            assert metric in exported, f"{where}: {metric} is not exported"
            labels = {label for series in exported[metric] for label in series}
            assert {label for label, _, _ in matchers} <= labels, where
            assert grouping <= labels, where
            checked += 1
    assert checked >= 2, checked
    domains = {s["domain"] for s in exported["captain_tls_certificate_expiry_timestamp_seconds"]}
    assert domains == {CAPTAIN, f"web.{ROOT_DOMAIN}", "shop.example.test"}, domains
