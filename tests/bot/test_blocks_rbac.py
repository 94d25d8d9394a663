"""The approval card's line about the requester's own Azure RBAC: allowed, lacking (what), unverified (why), or
nothing when no check was made; always valid Block Kit with the user-supplied text escaped."""

from __future__ import annotations

from bot.blocks.request import approval_card
from jit.model import RbacVerdict
from jit.requester_access import INITIATE_ACTION, verdict_extra
from tests.bot.blocks_support import access_request, all_text, check_message


def card_text(verdict: RbacVerdict | None) -> str:
    extra = verdict_extra(verdict) if verdict is not None else {}
    message = approval_card(access_request(extra=extra))
    check_message(message)
    return all_text(message)


def test_no_check_no_line() -> None:
    assert "Azure RBAC" not in card_text(None)


def test_allowed_names_the_identity() -> None:
    text = card_text(RbacVerdict.allowed("alice@contoso.com"))
    assert "`alice@contoso.com` may request JIT access to this VM itself" in text


def test_missing_says_what_the_identity_lacks() -> None:
    text = card_text(RbacVerdict.lacking("alice@contoso.com", (INITIATE_ACTION,)))
    assert "lacks the permission" in text
    assert f"`{INITIATE_ACTION}`" in text


def test_unverified_says_why_escaped() -> None:
    text = card_text(RbacVerdict.unverified("no Entra ID user has the email `<!channel>@x`."))
    assert "Could not verify" in text
    assert "<!channel>" not in text
