import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.units import format_duration, parse_duration, parse_point_increase, parse_ratio, parse_relative_increase


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


@pytest.mark.parametrize("text,fraction", [("+10%", 0.10), ("10%", 0.10), ("+2.5 %", 0.025), (0.1, 0.1), ("0.2", 0.2)])
def test_relative_increases(text, fraction):
    assert parse_relative_increase(text) == pytest.approx(fraction)


@pytest.mark.parametrize("text,fraction", [("+0.1pp", 0.001), ("2pp", 0.02), (0.001, 0.001), ("+0", 0.0)])
def test_point_increases(text, fraction):
    assert parse_point_increase(text) == pytest.approx(fraction)


@pytest.mark.parametrize(("parse", "text", "message"), [
    (parse_relative_increase, "+1pp", "percentage points are for rates"),
    (parse_point_increase, "+0.1%", "ambiguous for a rate"),
    (parse_point_increase, "-1pp", "expected an increase"),
    (parse_relative_increase, -0.1, "not negative"),
    (parse_relative_increase, "ten", "expected a relative increase"),
])
def test_bad_increases_say_what_to_write(parse, text, message):
    with pytest.raises(ValueError, match=message):
        parse(text)
