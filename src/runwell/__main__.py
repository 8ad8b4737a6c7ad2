"""Allow ``python -m runwell``."""

from runwell.cli.main import main

main()
