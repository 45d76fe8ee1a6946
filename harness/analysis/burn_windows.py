"""The SRE Workbook's multiwindow, multi-burn-rate alerts, in the four pairs Sloth generates:
one table that the budget section (offline, from a run's records) and `slogate rules`
(Prometheus alerting rules) both read, so the two can be compared figure for figure.

Each pair is stated as the Workbook states it: a share of the SLO period's error budget
spent within the long window. The burn rate it alerts at follows from the period (Sloth's
rule): `budget_share * period / long`. For a 30-day period that gives the familiar 14.4×
over 1 h (with 5 min), 6× over 6 h (30 min), 3× over 1 d (2 h) and 1× over 3 d (6 h).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.analysis.spec import BurnWindow

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
WORKBOOK_PERIOD_S = 30 * DAY


@dataclass(frozen=True)
class AlertWindows:
    """One multiwindow pair: it alerts while both windows burn faster than `burn(period)`."""

    severity: str  # page | ticket
    budget_share: float  # the share of the period's budget its long window spends at the threshold
    long_s: float
    short_s: float

    def burn(self, period_s: float) -> float:
        return self.budget_share * period_s / self.long_s


PAGE_FAST = AlertWindows("page", 0.02, HOUR, 5 * MINUTE)
PAGE_SLOW = AlertWindows("page", 0.05, 6 * HOUR, 30 * MINUTE)
TICKET_FAST = AlertWindows("ticket", 0.10, DAY, 2 * HOUR)
TICKET_SLOW = AlertWindows("ticket", 0.10, 3 * DAY, 6 * HOUR)
WORKBOOK = (PAGE_FAST, PAGE_SLOW, TICKET_FAST, TICKET_SLOW)
SEVERITIES = ("page", "ticket")

# A run is its own SLO period when nothing else is asked: each pair keeps its 30-day burn
# rate and its long-to-short ratio, and its long window becomes this share of the run.
RUN_SHARES = ((PAGE_FAST, 1 / 5), (PAGE_SLOW, 1 / 2), (TICKET_SLOW, 1.0))


def workbook_pairs(period_s: float = WORKBOOK_PERIOD_S, window_scale: float = 1.0) -> tuple[BurnWindow, ...]:
    """The four pairs for an SLO period, every window divided by `window_scale` (a game day
    compressed 60× alerts as an hour would); the burn rates stay the period's own."""
    return tuple(BurnWindow(w.burn(period_s), w.long_s / window_scale, w.short_s / window_scale, w.severity)
                 for w in WORKBOOK)


def run_scaled_pairs(duration_s: float) -> tuple[BurnWindow, ...]:
    """The default of a run: 14.4× over D/5 and D/60, 6× over D/2 and D/24, 1× over D and D/12."""
    pairs = []
    for windows, share in RUN_SHARES:
        long_s = share * duration_s
        pairs.append(BurnWindow(windows.burn(WORKBOOK_PERIOD_S), long_s, long_s * windows.short_s / windows.long_s,
                                windows.severity))
    return tuple(pairs)
