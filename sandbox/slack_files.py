"""Slack's file upload flow in the emulator: ``files.getUploadURLExternal``, the upload URL, and
``files.completeUploadExternal``, which is what slack_sdk's ``files_upload_v2`` calls.

From Slack's reference (https://docs.slack.dev/reference/methods/files.getUploadURLExternal and
https://docs.slack.dev/reference/methods/files.completeUploadExternal; both need the ``files:write`` bot scope):

- ``files.getUploadURLExternal`` takes ``filename`` and ``length`` (required; "Size in bytes of the file being
  uploaded"), ``alt_txt`` and ``snippet_type``, and answers ``{"ok": true, "upload_url": ..., "file_id": ...}``.
  Errors modelled: ``missing_argument`` ("Typically only occurs when the `length` provided is 0"),
  ``alt_txt_too_large`` (over 1000 characters), ``snippet_too_large`` (snippets are limited to 1 MB), and
  ``invalid_arguments`` for a missing or non-integer argument.
- The upload URL takes a POST of the bytes, "as raw bytes or ... multipart form encoded", and answers HTTP 200
  when the upload succeeded, "a non-200 response indicates a failure"; the body of a success is
  ``OK - <length>`` in text/plain (seen in slackapi/python-slack-sdk#1277). The emulator also refuses bytes that
  differ from the declared length (HTTP 400), an expired upload and an unknown or used URL (HTTP 404): Slack does
  not document these answers, only that they are not 200.
- ``files.completeUploadExternal`` takes ``files`` (a JSON array of ``{"id", "title"}``), ``channel_id`` or
  ``channels`` (comma-separated channel or user ids, at most 100), ``initial_comment``, ``thread_ts`` and
  ``blocks`` ("If the initial_comment field is provided, the blocks field is ignored"); it answers
  ``{"ok": true, "files": [{"id": ..., "title": ...}]}``. Without a channel the file stays private. Errors
  modelled: ``file_not_found`` ("Could not find the file from the upload ticket": unknown, never uploaded,
  expired or already completed — "This method can only be called once"), ``channel_not_found``,
  ``not_in_channel`` ("User/bot membership is required for the specified channel"), ``channels_limit_exceeded``,
  ``invalid_blocks``, and ``invalid_arguments`` for a malformed ``files`` or ``thread_ts`` with several channels
  ("make sure to provide only one channel when using 'thread_ts'").

Sharing posts one message per channel from the bot user, with ``text`` = the comment and ``files`` = Slack file
objects (https://docs.slack.dev/reference/objects/file-object). As in Slack, the response does not name that
message's ``ts``. The uploaded bytes stay in ``SlackState.files`` so tests can read them back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from sandbox.slack_blocks import MAX_MESSAGE_BLOCKS, blocks_errors
from sandbox.slack_file_store import StoredFile, UploadRefused
from sandbox.slack_methods import Args, handler
from sandbox.slack_state import Conversation, SlackError, SlackState

ALT_TXT_LIMIT = 1000
SNIPPET_LIMIT = 1024 * 1024
CHANNELS_LIMIT = 100
UPLOAD_PATH = "/upload/v1/"
DOWNLOAD_PATH = "/files-pri/"


def _invalid(message: str) -> SlackError:
    return SlackError("invalid_arguments", response_metadata={"messages": [f"[ERROR] {message}"]})


def _length(args: Args) -> int:
    raw = args.text("length")
    if raw is None:
        raise _invalid("missing required field: length")
    try:
        length = int(raw)
    except ValueError:
        raise _invalid("invalid `length`: must be an integer") from None
    if length == 0:
        raise SlackError("missing_argument")
    if length < 0:
        raise _invalid("invalid `length`: must be a positive integer")
    return length


@handler("files.getUploadURLExternal")
def files_get_upload_url_external(state: SlackState, args: Args) -> dict[str, Any]:
    """Reserve a file id and an upload URL for ``length`` bytes named ``filename``."""
    filename = args.text("filename")
    if not filename:
        raise _invalid("missing required field: filename")
    length = _length(args)
    alt_txt = args.text("alt_txt")
    if alt_txt is not None and len(alt_txt) > ALT_TXT_LIMIT:
        raise SlackError("alt_txt_too_large")
    snippet_type = args.text("snippet_type")
    if snippet_type is not None and length > SNIPPET_LIMIT:
        raise SlackError("snippet_too_large")
    stored = state.files.reserve(
        filename=filename,
        length=length,
        user=state.workspace.bot.user_id,
        alt_txt=alt_txt,
        snippet_type=snippet_type,
    )
    return {"ok": True, "upload_url": f"{state.base_url}{UPLOAD_PATH}{stored.ticket}", "file_id": stored.id}


def _requested_files(args: Args) -> list[tuple[str, str | None]]:
    """``files`` as (id, title) pairs; each entry must be an object with a string ``id``."""
    if args.raw.get("files") in (None, ""):
        raise _invalid("missing required field: files")
    entries = args.obj("files", error="invalid_arguments")
    if not isinstance(entries, list) or not entries:
        raise _invalid("invalid `files`: must be a non-empty JSON array of objects with an `id`")
    wanted: list[tuple[str, str | None]] = []
    for entry in entries:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("id"), str) or not entry["id"]:
            raise _invalid("invalid `files`: every entry needs an `id` from files.getUploadURLExternal")
        title = entry.get("title")
        wanted.append((entry["id"], str(title) if title else None))
    return wanted


def _share_target(state: SlackState, channel_id: str, *, user_ids: bool) -> Conversation:
    """A conversation the bot is in (``user_ids``: a user id means the bot's DM with that user)."""
    if user_ids and channel_id[:1] in ("U", "W"):
        user = state.workspace.user(channel_id)
        if user is None or user.deleted or user.is_bot:
            raise SlackError("channel_not_found")
        channel_id, _ = state.open_dm(user.id)
    conversation = state.conversation(channel_id)
    if conversation is None or (conversation.kind == "group" and not conversation.bot_is_member):
        raise SlackError("channel_not_found")
    if not conversation.bot_is_member:
        raise SlackError("not_in_channel")
    return conversation


def _destinations(state: SlackState, args: Args) -> list[Conversation]:
    channel_id = args.text("channel_id")
    listed = args.listing("channels")
    if len(listed) > CHANNELS_LIMIT:
        raise SlackError("channels_limit_exceeded")
    targets = [_share_target(state, channel_id, user_ids=False)] if channel_id else []
    targets += [_share_target(state, channel, user_ids=True) for channel in listed]
    unique = list({conversation.id: conversation for conversation in targets}.values())
    if args.text("thread_ts") and len(unique) > 1:
        raise _invalid("`thread_ts` needs exactly one channel")
    return unique


def _comment(args: Args) -> tuple[str, list[dict[str, Any]]]:
    """The share message's text and blocks: ``initial_comment`` wins, and then ``blocks`` are ignored."""
    comment = args.text("initial_comment")
    if comment is not None:
        return comment, []
    blocks = args.obj("blocks", error="invalid_blocks")
    if blocks is None:
        return "", []
    errors = blocks_errors(blocks, max_blocks=MAX_MESSAGE_BLOCKS)
    if errors:
        raise SlackError("invalid_blocks", response_metadata={"messages": errors})
    listed: list[dict[str, Any]] = blocks
    return "", listed


def file_object(state: SlackState, stored: StoredFile) -> dict[str, Any]:
    """A completed upload as Slack's file object, in a message and in files.* answers."""
    team = state.workspace.team_id
    private = f"{state.base_url}{DOWNLOAD_PATH}{team}-{stored.id}/{quote(stored.filename)}"
    body: dict[str, Any] = {
        "id": stored.id,
        "created": stored.created,
        "timestamp": stored.created,
        "name": stored.filename,
        "title": stored.title or stored.filename,
        "mimetype": stored.mimetype,
        "filetype": stored.filetype,
        "pretty_type": stored.filetype.upper(),
        "user": stored.user,
        "user_team": team,
        "editable": False,
        "size": stored.size,
        "mode": "hosted",
        "is_external": False,
        "external_type": "",
        "is_public": any(
            (c := state.conversation(channel)) is not None and c.kind == "channel" for channel in stored.channels
        ),
        "public_url_shared": False,
        "display_as_bot": False,
        "username": "",
        "url_private": private,
        "url_private_download": f"{private}?download=1",
        "permalink": f"{state.workspace.url}files/{stored.user}/{stored.id}/{quote(stored.filename)}",
    }
    if stored.alt_txt:
        body["alt_txt"] = stored.alt_txt
    return body


@handler("files.completeUploadExternal")
def files_complete_upload_external(state: SlackState, args: Args) -> dict[str, Any]:
    """Finish uploads and share them (one message per channel carrying every file), or keep them private."""
    wanted = _requested_files(args)
    try:
        uploads = [(state.files.completable(file_id), title) for file_id, title in wanted]
    except UploadRefused:
        raise SlackError("file_not_found") from None
    if len({stored.id for stored, _ in uploads}) != len(uploads):
        raise SlackError("file_not_found")
    destinations = _destinations(state, args)
    text, blocks = _comment(args)
    channel_ids = [conversation.id for conversation in destinations]
    for stored, title in uploads:
        state.files.complete(stored, title=title, channels=channel_ids)
    objects = [file_object(state, stored) for stored, _ in uploads]
    for conversation in destinations:
        state.post(
            conversation.id,
            text=text,
            blocks=blocks,
            via="files.completeUploadExternal",
            thread_ts=args.text("thread_ts"),
            files=objects,
        )
    return {"ok": True, "files": [{"id": stored.id, "title": stored.title} for stored, _ in uploads]}
