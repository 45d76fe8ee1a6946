"""pytest plugin: collects scenarios/*.yaml as release-gate tests (one item per SLO)."""
