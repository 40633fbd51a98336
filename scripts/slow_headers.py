#!/usr/bin/env python3
"""Slow-header flood (a Slowloris): opens N connections to a Docket that each send a request
line and then one header line a second, never ending their headers, while a prober GETs
/healthz on fresh connections every 50 ms (from a process of its own). Prints how long the server took to close the
flood's connections and the /healthz latencies meanwhile.

    scripts/slow_headers.py --url http://127.0.0.1:8080 --sockets 2000

Only for a server you run yourself (loopback); the flood is bounded in count and time.
"""
import argparse
import asyncio
import multiprocessing
import resource
import statistics
import time
from urllib.parse import urlparse


async def trickler(host, port, interval, limit, opened, closed_after, failed):
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        failed.append(1)
        return
    start = time.perf_counter()
    opened.append(start)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: docket\r\n")
        await writer.drain()
        while time.perf_counter() - start < limit:
            try:
                data = await asyncio.wait_for(reader.read(1), timeout=interval)
                if not data:
                    break  # closed by the server
                # The server answered a request whose headers never ended: count it as open.
            except asyncio.TimeoutError:
                writer.write(b"X-Trickle: 1\r\n")
                await writer.drain()
        else:
            return  # never closed within the limit
    except (ConnectionError, OSError):
        pass
    closed_after.append(time.perf_counter() - start)
    writer.close()


async def probe(host, port, latencies, stop):
    while not stop.is_set():
        start = time.perf_counter()
        try:
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: docket\r\nConnection: close\r\n\r\n")
            await writer.drain()
            response = await asyncio.wait_for(reader.read(), timeout=5)
            writer.close()
            if response.startswith(b"HTTP/1.1 200"):
                latencies.append((time.perf_counter() - start) * 1000)
            else:
                latencies.append(float("inf"))
        except (OSError, asyncio.TimeoutError):
            latencies.append(float("inf"))
        await asyncio.sleep(0.05)


def probe_process(host, port, seconds, out):
    """The prober in a process of its own, so that the flood's event loop cannot delay it."""
    async def run():
        latencies = []
        stop = asyncio.Event()
        task = asyncio.create_task(probe(host, port, latencies, stop))
        await asyncio.sleep(seconds)
        stop.set()
        await task
        return latencies
    out.put(asyncio.run(run()))


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between header lines")
    parser.add_argument("--limit", type=float, default=30.0, help="give up on a socket after this")
    parser.add_argument("--header-deadline", type=float, default=10.0,
                        help="the server's header deadline; /healthz is probed this long + 3 s")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.sockets + 256)), hard))
    url = urlparse(args.url)
    host, port = url.hostname, url.port or 80

    baseline = []
    stop = asyncio.Event()
    prober = asyncio.create_task(probe(host, port, baseline, stop))
    await asyncio.sleep(1.0)
    stop.set()
    await prober

    opened, closed_after, failed = [], [], []
    results = multiprocessing.Queue()
    prober = multiprocessing.Process(
        target=probe_process, args=(host, port, args.header_deadline + 3, results))
    prober.start()
    started = time.perf_counter()
    tasks = []
    for i in range(args.sockets):
        tasks.append(asyncio.create_task(
            trickler(host, port, args.interval, args.limit, opened, closed_after, failed)))
        if i % 100 == 99:
            await asyncio.sleep(0)  # let the connects go out in waves
    await asyncio.gather(*tasks)
    total = time.perf_counter() - started
    latencies = results.get()
    prober.join()

    def summary(values):
        finite = sorted(v for v in values if v != float("inf"))
        if not finite:
            return "none answered"
        p99 = finite[min(len(finite) - 1, int(len(finite) * 0.99))]
        return (f"n={len(values)}, p50 {statistics.median(finite):.1f} ms, p99 {p99:.1f} ms, "
                f"max {finite[-1]:.1f} ms, failed {len(values) - len(finite)}")

    print(f"sockets: {args.sockets} opened {len(opened)}, connect failures {len(failed)}")
    if closed_after:
        closed_after.sort()
        print(f"closed by the server: {len(closed_after)}; time from connect to close: "
              f"p50 {statistics.median(closed_after):.2f} s, max {closed_after[-1]:.2f} s")
    never = len(opened) - len(closed_after)
    print(f"still open after {args.limit:.0f} s: {never}")
    print(f"whole flood over in {total:.2f} s")
    print(f"/healthz before the flood: {summary(baseline)}")
    print(f"/healthz during the flood: {summary(latencies)}")


if __name__ == "__main__":
    asyncio.run(main())
