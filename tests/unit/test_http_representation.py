"""Which representation a public id answers with, by the Accept header."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request

from shared.http.representation import html_page, prefers_html


@pytest.mark.parametrize("accept, html", [
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),  # a browser
    ("", False), ("*/*", False), ("application/ld+json", False), ("application/json, text/html;q=0.5", False),
    ("text/html;q=0", False), ("text/html;q=abc", False), ("application/vc+ld+json", False),
])
def test_browsers_get_html_and_api_clients_json(accept, html):
    request = make_mocked_request("GET", "/achievements/a1", headers={"Accept": accept} if accept else {})
    assert prefers_html(request) is html


def test_pages_escape_every_value():
    page = html_page("Achievement", "<b>Title</b>", [("Issuer", "A & B"), ("Skills", ["<i>x</i>"])],
                     'https://example.org/a?"x"')
    body = page.text
    assert "&lt;b&gt;Title&lt;/b&gt;" in body and "A &amp; B" in body and "&lt;i&gt;x&lt;/i&gt;" in body
    assert "<b>" not in body and "<i>" not in body and 'href="https://example.org/a?&quot;x&quot;"' in body
    assert page.content_type == "text/html" and page.headers["Vary"] == "Accept"
