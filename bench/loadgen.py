"""The load generator, run as its own process (``python -m bench.loadgen``) so the emulators' work in the
benchmark process never shows up in the latencies it measures.

It reads one job per line of JSON on stdin, runs it, and writes one line of JSON with the results:

    {"url": "http://127.0.0.1:PORT/slack/events", "secret": "...", "bodies": ["command=/jit&..."],
     "concurrency": 50, "gap": 0.0}
    -> {"latencies": [...], "statuses": {"200": 1000}, "errors": 0, "with_body": 0, "elapsed": 1.23, "cpu": 0.9}

Each body is signed just before it is sent (Slack's v0 signature with a fresh timestamp) and timed from the
first byte written to the last byte of the answer; ``starts`` gives, per body, when it was sent (``perf_counter``,
which is the system-wide monotonic clock, so the benchmark process can compare it with what the emulators saw).
``concurrency`` clients each keep one connection open and send their next request as soon as the previous answer
arrives, after ``gap`` seconds. ``with_body`` counts
answers that carried a body: a bare ack is empty, so for ``/jit ssh web-01 2h`` a body means a refusal.

With ``"realtime": true`` the job runs at real-time priority (``SCHED_FIFO``) where the OS allows it, so the
work a server does after its answer cannot keep this client from reading the answer: on a small machine the
client shares the cores with the servers, the emulators and Redis, while Slack reads acks on its own machines.
The result's ``realtime`` says whether the priority was granted.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from bench.http_client import HttpError, KeepAliveConnection
from sandbox.slack_driver import signed_headers


async def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Send every body of ``job`` with ``concurrency`` clients; returns latencies (s), statuses and timings."""
    url = urlsplit(str(job["url"]))
    host, port, path = url.hostname or "127.0.0.1", int(url.port or 80), url.path or "/"
    secret = str(job["secret"])
    gap = float(job.get("gap", 0.0))
    bodies: Iterator[tuple[int, str]] = iter(enumerate(job["bodies"]))
    starts: list[float] = [0.0] * len(job["bodies"])
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors: list[str] = []
    answered: list[str] = []

    async def client() -> None:
        connection = KeepAliveConnection(host, port)
        try:
            for index, body in bodies:
                headers = signed_headers(secret, body)
                data = body.encode()
                started = time.perf_counter()
                starts[index] = started
                try:
                    answer = await connection.post(path, data, headers)
                except HttpError as exc:
                    errors.append(str(exc))
                    continue
                latencies.append(time.perf_counter() - started)
                statuses[answer.status] += 1
                if answer.body.strip():
                    answered.append(answer.body.decode(errors="replace")[:300])
                if gap > 0:
                    await asyncio.sleep(gap)
        finally:
            await connection.close()

    cpu_before = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(max(1, int(job.get("concurrency", 1))))))
    elapsed = time.perf_counter() - started
    return {
        "latencies": latencies,
        "starts": starts,
        "statuses": {str(k): v for k, v in statuses.items()},
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "with_body": len(answered),
        "first_body": answered[0] if answered else None,
        "elapsed": elapsed,
        "cpu": time.process_time() - cpu_before,
    }


REALTIME_PRIORITY = 10


def set_realtime(wanted: bool) -> bool:
    """Switch this process to real-time (FIFO) or normal scheduling; True when it now runs real-time."""
    try:
        if wanted:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(REALTIME_PRIORITY))
        else:
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    except (OSError, AttributeError):
        return False
    return wanted


def main() -> None:
    """Serve jobs from stdin until it closes."""
    for line in sys.stdin:
        if line.strip():
            job = json.loads(line)
            realtime = set_realtime(bool(job.get("realtime", False)))
            result = asyncio.run(run_job(job))
            result["realtime"] = realtime
            sys.stdout.write(json.dumps(result) + "\n")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
