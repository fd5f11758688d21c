"""Hypothesis on the nginx path: any text is analysed without an exception escaping, and the patch
scanner finds directives whatever the layout (indentation, comments, quotes, one-line blocks)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlsdoctor.evidence.nginx import analyze_config
from tlsdoctor.evidence.nginx_patch import patched_texts

TOKENS = st.sampled_from(["http", "server", "location", "/", "{", "}", ";", "proxy_pass", "https://g/", "upstream",
                          "g", "server", "a.test:443", "include", "x.conf", "map", "$a", "$b", "proxy_ssl_name",
                          "$host", '"q;}"', "'", "#", "\n", " ", "proxy_ssl_server_name", "on", "off", "set"])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(TOKENS, max_size=60))
def test_any_token_soup_is_analysed_without_raising(tokens: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        conf = Path(folder) / "nginx.conf"
        conf.write_text(" ".join(tokens))
        analysis = analyze_config(str(conf))
        patched_texts(analysis.findings, analysis.texts)  # must not raise either


@settings(max_examples=150, deadline=None)
@given(indent=st.sampled_from(["", " ", "    ", "\t", "\t\t"]), one_line=st.booleans(),
       comment=st.sampled_from(["", "  # note; with { braces }", "#x"]),
       quoted=st.booleans(), off_first=st.booleans())
def test_patch_lands_inside_the_block_whatever_the_layout(indent: str, one_line: bool, comment: str, quoted: bool,
                                                          off_first: bool) -> None:
    target = '"https://g/"' if quoted else "https://g/"
    off = "proxy_ssl_server_name off;" if off_first else ""
    if one_line:
        body = f"{indent}location / {{ {off} proxy_pass {target}; }}{comment}\n"
    else:
        body = (f"{indent}location / {{{comment}\n" + (f"{indent}    {off}{comment}\n" if off else "")
                + f"{indent}    proxy_pass {target};{comment}\n{indent}}}\n")
    text = f"events {{}}\nhttp {{\n upstream g {{ server a.test:443; }}\n server {{\n{body} }}\n}}\n"
    with tempfile.TemporaryDirectory() as folder:
        conf = Path(folder) / "nginx.conf"
        conf.write_text(text)
        before = analyze_config(str(conf))
        assert [f.cause for f in before.findings][:1] == ["upstream_sni_off"]
        new = patched_texts(before.findings, before.texts)[str(conf)]
        conf.write_text(new)
        after = analyze_config(str(conf))
        assert after.anomalies == (), new
        (loc,) = after.locations
        assert loc.sni_enabled and loc.targets[0].sni == "a.test" and loc.verify, new
        assert after.findings == (), new
