"""The shipped labelled sample is what the fraud demo's generating process writes."""

from pathlib import Path

from reference_server.demo.labelled_sample import labelled_sample_csv
from reference_server.demo.synthetic_fraud import FEATURES

SHIPPED = Path(__file__).resolve().parents[2] / "scenarios" / "data" / "fraud_labelled.csv"


def test_the_shipped_sample_is_the_generators():
    text = labelled_sample_csv()
    assert SHIPPED.read_text() == text, "regenerate: python -m reference_server.demo.labelled_sample " + str(SHIPPED)
    header, *rows = text.splitlines()
    assert header.split(",") == [*FEATURES, "label"] and len(rows) == 4000
    assert 0.02 < sum(row.endswith(",1") for row in rows) / len(rows) < 0.05  # ≈3% fraud, as trained on
