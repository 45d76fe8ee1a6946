import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.units import format_duration, parse_duration, parse_ratio


@pytest.mark.parametrize(
    "text,seconds",
    [("30s", 30.0), ("2m", 120.0), ("300ms", 0.3), ("1.5h", 5400.0), ("250us", 250e-6), (" 7 s ", 7.0), (3, 3.0), ("10", 10.0)],
)
def test_durations_parse_to_seconds(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "s", "10 parsecs", "-3s", "1e3s", True])
def test_bad_durations_are_rejected_with_an_example(text):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize("text,ratio", [("99.9%", 0.999), ("50%", 0.5), (0.25, 0.25), ("0.999", 0.999)])
def test_ratios(text, ratio):
    assert parse_ratio(text) == pytest.approx(ratio)


@given(st.floats(min_value=0.001, max_value=1e5, allow_nan=False))
def test_formatted_durations_parse_back(seconds):
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds, rel=1e-5)
