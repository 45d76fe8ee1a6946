"""The fraud demo's labelled reference sample: held-out rows of its generating process with
their labels, which a scenario sends to measure correctness (accuracy, AUC) under drift.

The harness reads the shipped CSV (scenarios/data/fraud_labelled.csv), never this module;
`python -m reference_server.demo.labelled_sample PATH` writes it again, and a test checks
that the shipped file is what this writes.
"""

from __future__ import annotations

import sys

from .shipped_csv import write_shipped_csv
from .synthetic_fraud import DATA_SEED, FEATURES, transactions

SAMPLE_ROWS = 4000
SAMPLE_SEED = DATA_SEED + 2  # neither the training rows (DATA_SEED) nor the test rows (+1)


def labelled_sample_csv(rows: int = SAMPLE_ROWS) -> str:
    features, labels = transactions(rows, SAMPLE_SEED)
    lines = [",".join([*FEATURES, "label"])]
    lines += [",".join(f"{value:.6g}" for value in row) + f",{int(label)}" for row, label in zip(features, labels)]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    return write_shipped_csv(argv, "labelled_sample", labelled_sample_csv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
