"""`python -m adapters.fal.sim`: the fal simulator as a process of its own.

It prints one JSON line with its URLs (`queue_url`, `rest_url`, `cdn_url`, `jwks_url`,
`api_url`) and serves until SIGTERM or SIGINT. Point falbot at it with FALBOT_FAL_QUEUE_URL,
FALBOT_FAL_REST_URL, FALBOT_FAL_CDN_URL (and FALBOT_FAL_JWKS_URL for webhooks,
FALBOT_FAL_API_URL for prices): a falbot that is killed and restarted then finds fal's requests
where it left them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import signal
import sys

from adapters.fal.sim.faults import random_faults
from adapters.fal.simulator import FalSimulator


async def serve(args: argparse.Namespace) -> int:
    sim = FalSimulator(key=args.key)
    sim.run_time = args.run_time
    sim.queue_wait = args.queue_wait
    if args.failure_rate > 0:
        sim.chaos = random_faults(args.failure_rate, random.Random(args.seed))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with sim:
        urls = {
            "queue_url": sim.queue_url,
            "rest_url": sim.rest_url,
            "cdn_url": sim.cdn_url,
            "jwks_url": sim.jwks_url,
            "api_url": sim.api_url,
        }
        print(json.dumps(urls), flush=True)
        await stop.wait()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m adapters.fal.sim", description=__doc__)
    parser.add_argument("--key", default="sim-key", help="the FAL_KEY it accepts")
    parser.add_argument("--run-time", type=float, default=0.5, help="seconds each job runs")
    parser.add_argument("--queue-wait", type=float, default=0.0, help="seconds in fal's queue")
    parser.add_argument(
        "--failure-rate", type=float, default=0.0, help="share of calls failing (0 to 1)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the failures")
    return asyncio.run(serve(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
