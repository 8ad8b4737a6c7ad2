"""``python -m runwell.testing.receivers``: serve every receiver until SIGTERM."""

from runwell.testing.receivers.hub import main

main()
