"""nginx -t catches bad captain_* directives and names the directive and the bad token."""

import pytest


def server_with(directives):
    return f"""
    server {{
        listen 127.0.0.1:@PORT@;
        location / {{
            {directives}
            return 204;
        }}
    }}
"""


@pytest.mark.parametrize("directives, expected", [
    ("captain_trace maybe;",
     'invalid value "maybe" in "captain_trace" directive, it must be "on" or "off"'),
    ("captain_request_id yes;",
     'invalid value "yes" in "captain_request_id" directive'),
    ("captain_security_headers 1;",
     'invalid value "1" in "captain_security_headers" directive'),
    ("captain_response_time enabled;",
     'invalid value "enabled" in "captain_response_time" directive'),
    ("captain_trace_sample_rate 1.5;",
     'invalid value "1.5" in "captain_trace_sample_rate" directive, it must be a ratio from 0 to 1'),
    ("captain_trace_sample_rate 10%;",
     'invalid value "10%" in "captain_trace_sample_rate" directive'),
    ("captain_trace_sample_rate 0.0000001;",
     'invalid value "0.0000001" in "captain_trace_sample_rate" directive'),
    ("captain_request_id_format base64;",
     'invalid value "base64" in "captain_request_id_format" directive, it must be "uuid" or "hex"'),
    ('captain_security_header "X Frame" DENY;',
     'invalid header name "X Frame" in "captain_security_header" directive'),
    ("captain_security_header X-Frame:Options DENY;",
     'invalid header name "X-Frame:Options" in "captain_security_header" directive'),
    ("captain_security_header Content-Length 5;",
     'invalid header name "Content-Length" in "captain_security_header" directive, '
     '"Content-Length" is managed by nginx'),
    ("captain_security_header X-Request-ID abc;",
     '"X-Request-ID" is managed by captain_request_id'),
    ("captain_security_header traceparent abc;",
     '"traceparent" is managed by captain_trace'),
    ("captain_security_header X-Custom value always;",
     'invalid parameter "always" in "captain_security_header" directive, the only one is "if_absent"'),
    ('captain_security_header X-Custom "" if_absent;',
     'invalid parameter "if_absent" in "captain_security_header" directive'),
    ("captain_hide_header X-Debug Content-Type;",
     'invalid header name "Content-Type" in "captain_hide_header" directive'),
    ("captain_hide_header;",
     'invalid number of arguments in "captain_hide_header" directive'),
    ("captain_request_id;",
     'invalid number of arguments in "captain_request_id" directive'),
    ("captain_trace on; captain_trace off;",
     '"captain_trace" directive is duplicate'),
    ("captain_trace_sample_rate 0.5; captain_trace_sample_rate 0.1;",
     '"captain_trace_sample_rate" directive is duplicate'),
])
def test_bad_directive_is_rejected_with_a_precise_message(nginx_config, directives, expected):
    server = nginx_config(server_with(directives))
    code, output = server.test_config()
    assert code != 0
    assert expected in output, output
    assert "nginx.conf:" in output, "the message points at the file and line"


def test_control_characters_in_a_header_value_are_rejected(nginx_config):
    server = nginx_config(server_with('captain_security_header X-Custom "a\x01b";'))
    code, output = server.test_config()
    assert code != 0
    assert 'invalid header value' in output and '"captain_security_header"' in output
    assert "control characters" in output


def test_directive_outside_http_is_rejected(nginx_config):
    server = nginx_config("server { listen 127.0.0.1:@PORT@; }")
    conf = server.conf.read_text().replace("events {", "captain_trace on;\nevents {")
    server.conf.write_text(conf)
    code, output = server.test_config()
    assert code != 0
    assert '"captain_trace" directive is not allowed here' in output


def test_too_many_headers_in_one_location(nginx_config):
    many = " ".join(f"captain_security_header X-H{i} v;" for i in range(60))
    server = nginx_config("captain_security_headers on;" + server_with(many))
    code, output = server.test_config()
    assert code != 0
    assert "too many headers" in output


def test_per_location_headers_without_the_feature_warn(nginx_config):
    server = nginx_config(server_with("captain_security_header X-Frame-Options DENY;"))
    code, output = server.test_config()
    assert code == 0
    assert '[warn]' in output and '"captain_security_headers" is off' in output


def test_good_configuration_passes(nginx_config):
    server = nginx_config("""
        captain_trace on;
        captain_trace_sample_rate 0.25;
        captain_security_headers on;
        captain_response_time on;
        captain_request_id_format hex;
        captain_hide_header X-AspNet-Version Server;
        server {
            listen 127.0.0.1:@PORT@;
            captain_security_header Content-Security-Policy "default-src 'self'" if_absent;
            location / { captain_security_header X-Frame-Options DENY; return 204; }
        }
    """)
    code, output = server.test_config()
    assert code == 0, output
    assert "[warn]" not in output
