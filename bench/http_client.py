"""A minimal keep-alive HTTP/1.1 client for POSTing to loopback servers.

Why: the server under test and the load generator share two cores; a full client (aiohttp's costs several
times more CPU per request than the floor app spends answering) would mostly measure itself. This one only
writes a request and reads a ``Content-Length`` or chunked answer; it is meant for our own servers only.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass


class HttpError(RuntimeError):
    """The server answered something this client cannot read, or closed the connection mid-answer."""


@dataclass(frozen=True)
class HttpAnswer:
    """Status and body of one answer."""

    status: int
    body: bytes


class KeepAliveConnection:
    """One TCP connection reused for consecutive requests; reconnects when the server closes it."""

    def __init__(self, host: str, port: int):
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> HttpAnswer:
        """Send one POST and read the whole answer."""
        if self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        head = [f"POST {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(body)}"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        self._writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        try:
            return await self._read_answer(self._reader)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            await self.close()
            raise HttpError(f"connection to {self.host}:{self.port} broke: {exc!r}") from exc

    async def _read_answer(self, reader: asyncio.StreamReader) -> HttpAnswer:
        raw = await reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        try:
            status = int(lines[0].split(" ", 2)[1])
        except (IndexError, ValueError) as exc:
            raise HttpError(f"not an HTTP status line: {lines[0]!r}") from exc
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name:
                fields[name.strip().lower()] = value.strip()
        if fields.get("transfer-encoding", "").lower() == "chunked":
            body = await _read_chunked(reader)
        else:
            body = await reader.readexactly(int(fields.get("content-length", "0")))
        if fields.get("connection", "").lower() == "close":
            await self.close()
        return HttpAnswer(status, body)

    async def close(self) -> None:
        """Close the connection (the next ``post`` opens a new one)."""
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)
