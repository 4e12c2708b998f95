"""A fast loopback HTTP target for the benchmarks: asyncio, one tiny 200 per request.

Run as its own process (`python -m bench.target PORT [DELAY_MS]`) so that it does not
share the monitor's GIL. Each response closes the connection, as the monitor asks.
It stops by itself after --lifetime seconds so that no run leaves it behind.
"""

from __future__ import annotations

import asyncio
import sys

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 delay: float) -> None:
    try:
        await reader.readuntil(b"\r\n\r\n")
        if delay:
            await asyncio.sleep(delay)
        writer.write(RESPONSE)
        await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def serve(port: int, delay: float, lifetime: float) -> None:
    server = await asyncio.start_server(lambda r, w: handle(r, w, delay), "127.0.0.1", port,
                                        backlog=4096, reuse_address=True)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await asyncio.sleep(lifetime)


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    delay_ms = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
    lifetime = float(sys.argv[3]) if len(sys.argv) > 3 else 600.0
    asyncio.run(serve(port, delay_ms / 1000.0, lifetime))


if __name__ == "__main__":
    main()
