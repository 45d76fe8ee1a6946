"""`python -m harness` is `slogate`, for environments without the console script on PATH."""

from harness.entry.cli import main

raise SystemExit(main())
