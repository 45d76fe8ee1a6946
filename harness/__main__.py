from harness.entry.cli import main

raise SystemExit(main())
