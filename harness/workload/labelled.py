"""A labelled sample: rows of the model's features with their ground truth (`label`), from
which tabular payloads are drawn so that correctness (accuracy, AUC) can be measured.

CSV or Parquet; its columns are matched to the model's by name, so the file's column order
does not matter, and extra columns are ignored.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from harness.workload.tabular_layout import FeatureLayout

LABEL_COLUMN = "label"


def read_labelled(path: Path, layout: FeatureLayout) -> tuple[np.ndarray, np.ndarray]:
    """(rows [n, width] in the model's column order, labels [n]); a ValueError names the file."""
    try:
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise ValueError(f"labelled_sample {path}: {exc}") from None
    missing = [name for name in [*layout.names, LABEL_COLUMN] if name not in frame.columns]
    if missing:
        raise ValueError(f"labelled_sample {path}: no column {', '.join(missing)} (the model takes "
                         f"{', '.join(layout.names)}, and the ground truth is `{LABEL_COLUMN}`)")
    if frame.empty:
        raise ValueError(f"labelled_sample {path}: no rows")
    return frame[layout.names].to_numpy(np.float64), frame[LABEL_COLUMN].to_numpy(np.float64)


def drawn_rows(rows: np.ndarray, labels: np.ndarray, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """`size` rows drawn with replacement, and their labels."""
    picks = rng.integers(0, len(rows), size)
    return rows[picks].copy(), labels[picks]
