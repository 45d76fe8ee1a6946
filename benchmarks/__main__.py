import sys

from benchmarks.run import main

if sys.argv[1:2] == ["micro"]:
    from benchmarks.micro_cli import main as micro

    sys.exit(micro(sys.argv[2:]))
sys.exit(main())
