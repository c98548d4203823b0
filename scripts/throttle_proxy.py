#!/usr/bin/env python3
"""A TCP proxy that holds a link to a fixed byte rate: a slow WAN between two nodes, for benchmarks.

Usage: scripts/throttle_proxy.py TARGET_PORT BYTES_PER_SEC [LISTEN_PORT]

Listens on 127.0.0.1 (LISTEN_PORT, default 0 = a free port) and forwards every connection to
127.0.0.1:TARGET_PORT, whatever it carries (TLS included). Each direction, over all connections
together, goes no faster than BYTES_PER_SEC: a chunk of n bytes is passed on only when the link
has had n / BYTES_PER_SEC seconds for it after the previous one (a serialisation delay, as on a
line of that speed). Prints `proxy PORT` once bound, and `bytes UP DOWN` (client → target, target
→ client) when stopped with SIGTERM or SIGINT.
"""
import asyncio
import signal
import sys
import time

CHUNK = 16 * 1024


class Line:
    """One direction of the link: when it is free to send again."""

    def __init__(self, rate: float):
        self.rate = rate
        self.free_at = time.monotonic()
        self.bytes = 0

    async def send(self, n: int) -> None:
        now = time.monotonic()
        self.free_at = max(self.free_at, now) + n / self.rate
        self.bytes += n
        delay = self.free_at - now
        if delay > 0:
            await asyncio.sleep(delay)


async def pipe(reader, writer, line: Line) -> None:
    try:
        while True:
            data = await reader.read(CHUNK)
            if not data:
                break
            await line.send(len(data))
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def main() -> None:
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: throttle_proxy.py TARGET_PORT BYTES_PER_SEC [LISTEN_PORT]")
    target, rate = int(sys.argv[1]), float(sys.argv[2])
    listen = int(sys.argv[3]) if len(sys.argv) == 4 else 0
    if rate <= 0:
        sys.exit("BYTES_PER_SEC must be positive")
    up, down = Line(rate), Line(rate)

    async def handle(client_r, client_w):
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            client_w.close()
            return
        try:
            await asyncio.gather(pipe(client_r, up_w, up), pipe(up_r, client_w, down))
        except asyncio.CancelledError:
            pass

    server = await asyncio.start_server(handle, "127.0.0.1", listen, reuse_address=True)
    print(f"proxy {server.sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    print(f"bytes {up.bytes} {down.bytes}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
