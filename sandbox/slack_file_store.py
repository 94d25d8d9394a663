"""The Slack emulator's uploaded files: each upload ticket, the bytes that arrived for it, and where it was shared.

Slack's upload flow has three steps (https://docs.slack.dev/reference/methods/files.getUploadURLExternal):
``files.getUploadURLExternal`` reserves a file id and an upload URL for a declared ``length``; the client POSTs
the bytes to that URL; ``files.completeUploadExternal`` finishes the upload and shares it. Uploads that are
never completed are discarded ("If this method is not called, the uploaded file and associated metadata will be
discarded"), and completion "can only be called once". Slack documents no lifetime for an upload URL; the
emulator discards an upload that is not completed within ``upload_ttl`` seconds of being reserved, so tests can
exercise the expired case.

Kept apart from the Web API methods (``sandbox.slack_files``) so ``SlackState`` can hold it without an import
cycle; it raises ``UploadRefused`` with the reason and leaves Slack's error codes to its callers.
"""

from __future__ import annotations

import mimetypes
import secrets
import string
import time
from dataclasses import dataclass, field
from pathlib import PurePosixPath

DEFAULT_UPLOAD_TTL = 600.0


class UploadRefused(Exception):
    """The file store cannot do what was asked; ``reason`` says why (``unknown``, ``expired``, ``length``…)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason
        self.detail = detail or reason


@dataclass
class StoredFile:
    """One upload: what was declared, the bytes that arrived, and once completed its title and shares."""

    id: str
    ticket: str
    filename: str
    length: int
    user: str
    issued: float
    created: int
    alt_txt: str | None = None
    snippet_type: str | None = None
    data: bytes | None = None
    title: str | None = None
    completed: bool = False
    channels: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        """How many bytes arrived (0 before the upload)."""
        return len(self.data or b"")

    @property
    def filetype(self) -> str:
        """Slack's short file type: the extension in lower case (``png``, ``csv``), ``binary`` without one."""
        suffix = PurePosixPath(self.filename).suffix.lower().lstrip(".")
        return suffix or "binary"

    @property
    def mimetype(self) -> str:
        """The MIME type guessed from the file name, ``application/octet-stream`` when unknown."""
        guessed, _ = mimetypes.guess_type(self.filename, strict=False)
        return guessed or "application/octet-stream"


def _file_id() -> str:
    alphabet = string.ascii_uppercase + string.digits
    return "F" + "".join(secrets.choice(alphabet) for _ in range(10))


class FileStore:
    """Every upload the emulator has seen, by file id and by upload ticket."""

    def __init__(self, upload_ttl: float = DEFAULT_UPLOAD_TTL) -> None:
        self.upload_ttl = upload_ttl
        self._by_id: dict[str, StoredFile] = {}
        self._by_ticket: dict[str, StoredFile] = {}

    def reserve(
        self, *, filename: str, length: int, user: str, alt_txt: str | None = None, snippet_type: str | None = None
    ) -> StoredFile:
        """A new upload of ``length`` bytes named ``filename``, with its file id and secret upload ticket."""
        stored = StoredFile(
            id=_file_id(),
            ticket=secrets.token_urlsafe(32),
            filename=filename,
            length=length,
            user=user,
            issued=time.monotonic(),
            created=int(time.time()),
            alt_txt=alt_txt,
            snippet_type=snippet_type,
        )
        self._by_id[stored.id] = stored
        self._by_ticket[stored.ticket] = stored
        return stored

    def _expired(self, stored: StoredFile) -> bool:
        return not stored.completed and time.monotonic() - stored.issued > self.upload_ttl

    def receive(self, ticket: str, data: bytes) -> StoredFile:
        """Take the bytes POSTed to an upload URL; they must be exactly the declared length.

        Raises UploadRefused: ``unknown`` (no such ticket, or already completed), ``expired``, ``length``.
        """
        stored = self._by_ticket.get(ticket)
        if stored is None or stored.completed:
            raise UploadRefused("unknown", "no upload is waiting at this URL")
        if self._expired(stored):
            raise UploadRefused("expired", "this upload URL has expired; ask files.getUploadURLExternal for a new one")
        if len(data) != stored.length:
            raise UploadRefused(
                "length", f"received {len(data)} bytes, but files.getUploadURLExternal declared {stored.length}"
            )
        stored.data = data
        return stored

    def completable(self, file_id: str) -> StoredFile:
        """The upload ``file_id`` if it can be completed now: known, bytes received, not expired, not completed.

        Raises UploadRefused with ``unknown``, ``not_uploaded``, ``expired`` or ``completed``.
        """
        stored = self._by_id.get(file_id)
        if stored is None:
            raise UploadRefused("unknown", f"no upload has the id {file_id}")
        if stored.completed:
            raise UploadRefused("completed", f"{file_id} was already completed")
        if self._expired(stored):
            raise UploadRefused("expired", f"the upload of {file_id} expired before it was completed")
        if stored.data is None:
            raise UploadRefused("not_uploaded", f"no bytes were uploaded for {file_id}")
        return stored

    def complete(self, stored: StoredFile, *, title: str | None, channels: list[str]) -> None:
        """Finish an upload that ``completable`` returned: set its title and where it is shared."""
        stored.completed = True
        stored.title = title or stored.filename
        stored.channels = list(channels)

    def get(self, file_id: str) -> StoredFile | None:
        """One upload by id, in whatever state it is."""
        return self._by_id.get(file_id)

    def completed(self) -> list[StoredFile]:
        """Completed uploads, oldest reservation first."""
        return [f for f in self._by_id.values() if f.completed]
