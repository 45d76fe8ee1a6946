"""Synthetic card transactions with realistic marginals and a known fraud mechanism.

Used to train the demo `fraud` models; the same generator (other seeds) makes test data.
"""

from __future__ import annotations

import numpy as np

FEATURES = [
    "amount",  # USD, lognormal (median ≈ 37)
    "hour",  # local hour of day, 0–23, daytime-heavy
    "merchant_risk",  # merchant category risk score, beta(2, 8)
    "account_age_days",  # gamma, capped at 10 years
    "distance_from_home_km",  # lognormal
    "txn_count_24h",  # poisson
    "avg_amount_30d",  # the card's 30-day mean amount, lognormal
    "amount_to_avg_ratio",  # amount / avg_amount_30d
    "failed_logins_7d",  # poisson, mostly 0
    "card_present",  # binary; only point-of-sale transactions have the card present
    "is_foreign",  # binary
    "channel_web",  # one-hot channel ...
    "channel_mobile",
    "channel_pos",
]
DATA_SEED = 20261128  # the demo models' training rows; their test rows use DATA_SEED + 1
BINARY = frozenset(["card_present", "is_foreign", "channel_web", "channel_mobile", "channel_pos"])
CHANNEL_P = (0.35, 0.40, 0.25)  # web, mobile, pos
HOUR_WEIGHTS = np.array(
    [1, 0.6, 0.4, 0.3, 0.3, 0.5, 1.2, 2.5, 4, 5, 5.5, 6, 6.5, 6, 5.5, 5.5, 6, 6.5, 7, 6.5, 5, 4, 3, 2]
)


def transactions(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(features float32 [n, 14] in FEATURES order, labels float32 [n]) with ≈3% fraud."""
    rng = np.random.default_rng(seed)
    avg_amount = rng.lognormal(3.6, 0.8, n)
    amount = avg_amount * rng.lognormal(0.0, 0.7, n)
    hour = rng.choice(24, n, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    merchant_risk = rng.beta(2, 8, n)
    account_age = np.minimum(rng.gamma(1.5, 400, n), 3650).round()
    distance = rng.lognormal(1.5, 1.2, n)
    txn_count = rng.poisson(2.5, n)
    failed_logins = rng.poisson(0.15, n)
    channel = rng.choice(3, n, p=CHANNEL_P)
    one_hot = np.eye(3)[channel]
    card_present = (channel == 2) & (rng.random(n) < 0.95)
    foreign = rng.random(n) < 0.06
    ratio = amount / avg_amount

    night = (hour <= 5).astype(float)
    logit = (
        -4.4 + 1.2 * np.log(ratio) + 3.0 * merchant_risk + 0.9 * night + 0.9 * foreign
        + 0.6 * failed_logins + 0.5 * (distance > 50) - 0.35 * np.log1p(account_age / 30)
        + 0.9 * one_hot[:, 0] - 1.2 * card_present + 0.08 * txn_count + rng.normal(0, 0.5, n)
    )
    labels = rng.random(n) < 1 / (1 + np.exp(-logit))
    columns = [amount, hour, merchant_risk, account_age, distance, txn_count, avg_amount, ratio,
               failed_logins, card_present, foreign, one_hot[:, 0], one_hot[:, 1], one_hot[:, 2]]
    return np.column_stack(columns).astype(np.float32), labels.astype(np.float32)
