"""`python -m mathrl …` runs the same command line as the `mathrl` console script."""

from mathrl.cli import main

raise SystemExit(main())
