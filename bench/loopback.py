"""Loopback servers for the benchmarks of the kinds that speak to a port (tcp, tls), each in
a process of its own so that its CPU is not counted as the check's:

    python -m bench.loopback accept|banner|tls [CERT KEY]

prints the port it listens on (127.0.0.1), and serves until its stdin closes. `accept`
takes connections and waits for the client to close; `banner` greets with a line of
SMTP and answers "PING" with "+PONG"; `tls` completes TLS handshakes (CERT, KEY: PEM files).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

BANNER = b"220 bench.example ESMTP ready\r\n"


async def _accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.CancelledError):  # cancelled: at our exit
        while await reader.read(4096):
            pass
    writer.close()


async def _banner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.CancelledError):  # cancelled: at our exit
        writer.write(BANNER)
        while line := await reader.readline():
            writer.write(b"+PONG\r\n" if line == b"PING\r\n" else b"-ERR unknown command\r\n")
    writer.close()


async def _serve(mode: str, files: list[str]) -> None:
    context = None
    if mode == "tls":
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*files)
    handler = _banner if mode == "banner" else _accept
    server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=context, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin
    server.close()


@contextlib.contextmanager
def server(mode: str, *files: str) -> Iterator[int]:
    """Start a server process of this module; yield its port; stop it."""
    with process("bench.loopback", mode, *files) as port:
        yield port


@contextlib.contextmanager
def process(module: str, *args: str) -> Iterator[int]:
    """Run `python -m MODULE ARGS...`, a loopback server that prints its port first and
    stops when its stdin closes; yield the port; stop it."""
    proc = subprocess.Popen([sys.executable, "-m", module, *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parent.parent)
    try:
        assert proc.stdout is not None
        yield int(proc.stdout.readline())
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


if __name__ == "__main__":
    asyncio.run(_serve(sys.argv[1], sys.argv[2:]))
