"""chat.postMessage's documented limit on the Slack emulator: a short burst per channel, then 429 with Retry-After."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.slack import SlackEmulator
from sandbox.slack_rate_limits import PostingLimit
from sandbox.slack_workspace import APPROVAL_CHANNEL, ONCALL_CHANNEL


class Ticks:
    """A hand-moved monotonic clock."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_per_channel_refills_at_one_post_a_second() -> None:
    ticks = Ticks()
    limit = PostingLimit(burst=3, per_second=1.0, clock=ticks)
    assert [limit.take("C1") for _ in range(3)] == [None, None, None]
    assert limit.take("C1") == 1
    assert limit.take("C2") is None, "another channel has its own bucket"
    ticks.now += 1.0
    assert limit.take("C1") is None
    assert limit.take("C1") == 1
    ticks.now += 10.0
    assert [limit.take("C1") for _ in range(4)] == [None, None, None, 1], "a pause refills only up to the burst"


async def test_past_the_burst_slack_answers_429_ratelimited_with_retry_after(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    slack.posting_limit = PostingLimit(burst=2, clock=Ticks())
    for n in range(2):
        await client.chat_postMessage(channel=APPROVAL_CHANNEL, text=f"card {n}")
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel=APPROVAL_CHANNEL, text="one too many")
    assert caught.value.response.status_code == 429
    assert caught.value.response["error"] == "ratelimited"
    assert caught.value.response.headers["Retry-After"] == "1"
    assert [m.text for m in slack.messages_in(APPROVAL_CHANNEL)][-2:] == ["card 0", "card 1"]
    await client.chat_postMessage(channel=ONCALL_CHANNEL, text="elsewhere")
    await client.chat_update(channel=APPROVAL_CHANNEL, ts=slack.messages_in(APPROVAL_CHANNEL)[-1].ts, text="edited")
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [200, 200, 429, 200]
