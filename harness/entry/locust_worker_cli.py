"""`slogate locust-worker HOST:PORT`: a locust worker on this machine for a `slogate run` elsewhere
whose scenario has `engine: locust` and `workload.locust.local_workers` short of `procs`.

It runs the same locustfile as the workers the runner starts (harness/load/locust_shards.py):
the worker measures its clock against the master's, sends its shard of the schedule at the
runner's intended times, and ships its records back. It unpickles what the master sends, so
point it only at a master you run, with the same slogate version.

Exit codes: locust's own (0 when the master ends the test); 2 a malformed HOST:PORT.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

USAGE_ERROR = 2


def add_locust_worker_parser(commands: Any) -> None:
    parser = commands.add_parser("locust-worker", help="join a `slogate run --engine locust` master as a worker "
                                                       "from this machine")
    parser.add_argument("master", metavar="HOST:PORT", help="the master's address (the scenario's workload.locust.bind)")
    parser.set_defaults(handler=_locust_worker)


def _locust_worker(args: argparse.Namespace) -> int:
    host, _, port = args.master.rpartition(":")
    if not host or not port.isdigit():
        print(f"slogate locust-worker: {args.master!r}: expected HOST:PORT, e.g. 10.0.0.5:5557")
        return USAGE_ERROR
    from harness.session.locust_senders import locust_command, locust_env, worker_role  # the run's imports: not for every command

    command = locust_command(worker_role(host, int(port)))
    os.execve(command[0], command, locust_env())
    return 0  # not reached
