"""Outer loops: experiments that run many sessions and judge across them (a capacity search).

They sit above `harness.session` (each step is an `execute`) and below `harness.entry`; the
plans they follow (`harness.experiments.capacity.search`) and the figures they compute
(`harness.analysis.capacity`) know nothing of sessions.
"""
