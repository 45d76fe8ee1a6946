"""What the `fraud-online` demo's feature store holds: each card's stored features, keyed by
card id. The harness seeds a Redis from the shipped CSV (scenarios/data/card_features.csv),
never from this module; `python -m reference_server.demo.card_features PATH` writes it again,
and a test checks that the shipped file is what this writes.
"""

from __future__ import annotations

import sys

from .shipped_csv import write_shipped_csv
from .synthetic_fraud import DATA_SEED, FEATURES, transactions

CARDS = 1000  # card ids 0..999
CARD_SEED = DATA_SEED + 3  # neither the training (+0), test (+1) nor labelled-sample (+2) rows
KEY = "card_id"
KEY_PREFIX = "card:"
STORED = ["account_age_days", "avg_amount_30d", "txn_count_24h", "failed_logins_7d"]  # per-card aggregates


def card_features_csv() -> str:
    rows, _ = transactions(CARDS, CARD_SEED)
    columns = [FEATURES.index(name) for name in STORED]
    lines = [",".join([KEY, *STORED])]
    lines += [",".join([str(card), *(f"{rows[card, c]:.6g}" for c in columns)]) for card in range(CARDS)]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    return write_shipped_csv(argv, "card_features", card_features_csv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
