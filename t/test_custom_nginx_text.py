"""An app's customNginxConfig against the real controller and nginx: only directives on the
allow-list (README, nginx -> Custom text) are taken. Each directive issue 15 found accepted is
refused with 1116 naming it, nothing is stored, and the file it names is never created (the
controller's own `nginx -t`, run as root, used to create log files and temp directories at once).
"""

from conftest import wait_until


def test_directives_off_the_allow_list_are_refused_and_create_nothing(stack, tmp_path):
    stack.api.register("web")
    good = "location = /hello { return 200 \"allowed\\n\"; }"
    assert stack.update("web", customNginxConfig=good)["status"] == 100
    wait_until(lambda: stack.request("web", "/hello")[2] == "allowed\n", "the allowed snippet")
    live_snippet = (stack.conf_dir / "current" / "snippets" / "app-web.conf").read_text()

    files = tmp_path / "must-not-exist"
    files.mkdir()
    # (directive, the text; the path it would create or read, if any)
    refused = [
        ("root", "root /;", None),
        ("alias", "location /etc-files/ { alias /etc/; }", None),
        ("autoindex", "location /list/ { autoindex on; }", None),
        ("access_log", f"access_log {files}/access.log;", files / "access.log"),
        ("error_log", f"location /e {{ error_log {files}/error.log; }}", files / "error.log"),
        ("auth_basic_user_file", "auth_basic_user_file /etc/passwd;", None),
        ("ssl_certificate_key", f"ssl_certificate_key {files}/key.pem;", files / "key.pem"),
        ("client_body_temp_path", f"client_body_temp_path {files}/body;", files / "body"),
        ("captain_status", "location = /captain-status { captain_status; }", None),
    ]
    for name, text, path in refused:
        envelope = stack.update("web", customNginxConfig=f"gzip on;\n{text}")
        assert envelope["status"] == 1116, (name, envelope)
        assert f'"{name}" ' in envelope["description"], (name, envelope)
        assert "line 2" in envelope["description"], (name, envelope)
        assert stack.definition_of("web")["customNginxConfig"] == good, name
        if path is not None:
            assert not path.exists(), f"{name} created {path}"

    assert list(files.iterdir()) == []
    live = (stack.conf_dir / "current" / "snippets" / "app-web.conf").read_text()
    assert live == live_snippet
    assert stack.request("web", "/hello")[2] == "allowed\n"
    assert stack.request("web", "/captain-status")[0] != 200


def test_a_snippet_location_serves_no_file_of_the_host(stack):
    """Without a root of its own an app's location would serve nginx's default html directory,
    and a rewrite built from the query could climb out of it; app servers have a root that
    does not exist."""
    stack.api.register("web")
    text = "location /files/ { rewrite ^ /$arg_p break; }"
    assert stack.update("web", customNginxConfig=text)["status"] == 100
    wait_until(lambda: stack.request("web", "/files/?p=x")[0] == 404, "the snippet live")
    for probe in ("../../../../../../etc/hostname", "index.html", "../../../../etc/passwd"):
        status, _, body = stack.request("web", f"/files/?p={probe}")
        assert status == 404, (probe, status, body[:200])
