"""The "from me" page's HTML, read back by Python's own HTML parser: whatever a requester typed or Slack calls
them is shown as text and never becomes markup; the only form posts the token and nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest

from bot.source_page.client_address import AddressKind
from bot.source_page.page import confirm_page, done_page, refused_page
from jit.results import RequestDraft
from jit.store.source_links import PendingSource

HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)"> & "quotes"'


class Page(HTMLParser):
    """The tags, form fields and text of one page."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.inputs: list[dict[str, str | None]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "input":
            self.inputs.append(dict(attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def pending() -> PendingSource:
    draft = RequestDraft("U0ENGINE01", "web-01", (22,), timedelta(hours=1), None, HOSTILE)
    return PendingSource(draft, HOSTILE, "D0ENGINE01", datetime(2026, 12, 4, 12, 10, tzinfo=UTC))


@pytest.mark.parametrize("kind", list(AddressKind))
def test_the_confirm_page_shows_hostile_text_as_text_and_posts_only_the_token(kind: AddressKind) -> None:
    page = Page(confirm_page(pending(), "tok-123", "100.64.1.2", kind, "/from-me/confirm"))

    assert "script" not in page.tags and "img" not in page.tags
    assert HOSTILE in "".join(page.text)
    assert page.tags.count("form") == 1
    assert page.inputs == [{"type": "hidden", "name": "token", "value": "tok-123"}]


def test_the_result_pages_escape_what_azure_or_the_checks_said() -> None:
    for html in (done_page("203.0.113.7", HOSTILE), refused_page("203.0.113.7", HOSTILE)):
        page = Page(html)
        assert "script" not in page.tags and "img" not in page.tags and "form" not in page.tags
        assert HOSTILE in "".join(page.text)
