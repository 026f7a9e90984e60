"""`python -m mathrl …` runs the same command line as the `mathrl` console script."""

from mathrl.cli.commands import main

raise SystemExit(main())
