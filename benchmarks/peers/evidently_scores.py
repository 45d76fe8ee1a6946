"""Evidently's drift statistics on the columns in an .npz, timed; run in the Evidently venv.

    python evidently_scores.py DATA.npz ROUNDS     # JSON on stdout

DATA.npz holds `names`, `kinds` (continuous | binary), and per window W and column i the
arrays `reference_i` and `W__i`. Each column is scored as Evidently's DataDrift scores it:
normed Wasserstein and the KS p-value for numeric columns, Jensen-Shannon (its default
natural-log base) and PSI for categorical ones.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import pandas as pd
from evidently.legacy.calculations.stattests.jensenshannon import _jensenshannon
from evidently.legacy.calculations.stattests.ks_stattest import _ks_stat_test
from evidently.legacy.calculations.stattests.psi import _psi
from evidently.legacy.calculations.stattests.wasserstein_distance_norm import _wasserstein_distance_norm
from evidently.legacy.core import ColumnType


def scores(reference: pd.Series, current: pd.Series, kind: str) -> dict[str, float]:
    if kind == "continuous":
        return {"wasserstein_norm": float(_wasserstein_distance_norm(reference, current, ColumnType.Numerical, 0.1)[0]),
                "ks_pvalue": float(_ks_stat_test(reference, current, ColumnType.Numerical, 0.05)[0])}
    return {"jensenshannon": float(_jensenshannon(reference, current, ColumnType.Categorical, 0.1)[0]),
            "psi": float(_psi(reference, current, ColumnType.Categorical, 0.1)[0])}


def main(path: str, rounds: int) -> None:
    data = np.load(path, allow_pickle=False)
    names, kinds = list(data["names"]), list(data["kinds"])
    windows = sorted({key.split("__")[0] for key in data.files if "__" in key})
    references = [pd.Series(data[f"reference_{i}"]) for i in range(len(names))]
    result = {"windows": {}, "seconds": []}
    for window in windows:
        currents = [pd.Series(data[f"{window}__{i}"]) for i in range(len(names))]
        result["windows"][window] = {name: scores(ref, cur, kind)
                                     for name, kind, ref, cur in zip(names, kinds, references, currents)}
    for _ in range(rounds):
        started = time.perf_counter()
        for window in windows:
            for i, kind in enumerate(kinds):
                scores(references[i], pd.Series(data[f"{window}__{i}"]), kind)
        result["seconds"].append((time.perf_counter() - started) / len(windows))
    import evidently
    result["version"] = evidently.__version__
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
