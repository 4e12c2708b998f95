"""Reading a text/event-stream as a client does: blocks of `field: value` lines ended by a
blank line, from the chunks of a response as they come."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Block:
    """One block: an event (`event` and `data` set), an id alone, or a comment."""

    id: str | None = None
    event: str | None = None
    data: str | None = None
    retry: int | None = None
    comments: list[str] = field(default_factory=list)

    def json(self) -> Any:
        assert self.data is not None, self
        return json.loads(self.data)


def parse(text: str) -> Block:
    block = Block()
    for line in text.split("\n"):
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "":
            block.comments.append(value)
        elif name == "data":
            block.data = value if block.data is None else block.data + "\n" + value
        elif name in ("id", "event"):
            setattr(block, name, value)
        elif name == "retry":
            block.retry = int(value)
    return block


class Blocks:
    """The blocks of a stream of chunks, read on demand (each read may wait for a chunk)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = b""
        self.last_id: str | None = None  # as an EventSource keeps it

    def __iter__(self) -> Iterator[Block]:
        while True:
            end = self._buffer.find(b"\n\n")
            while end < 0:
                try:
                    self._buffer += next(self._chunks)
                except StopIteration:
                    return
                end = self._buffer.find(b"\n\n")
            text, self._buffer = self._buffer[:end].decode(), self._buffer[end + 2:]
            block = parse(text)
            if block.id is not None:
                self.last_id = block.id
            yield block

    def events(self, count: int, timeout: float = 10.0) -> list[Block]:
        """The next `count` events (blocks with data), skipping ids alone and comments;
        fails after `timeout` seconds (checked at each block: the stream's heartbeat
        must be short)."""
        found: list[Block] = []
        deadline = time.monotonic() + timeout
        for block in self:
            if block.data is not None:
                found.append(block)
                if len(found) == count:
                    return found
            if time.monotonic() > deadline:
                break
        raise AssertionError(f"{len(found)} of {count} events before the end or timeout:"
                             f" {found}")

    def until_idle(self, comment: str = "keep-alive") -> list[Block]:
        """The events up to the next heartbeat comment (the stream had nothing more)."""
        found = []
        for block in self:
            if block.data is not None:
                found.append(block)
            elif any(text.strip() == comment for text in block.comments):
                return found
        return found
