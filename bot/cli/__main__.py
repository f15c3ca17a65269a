"""`python -m bot.cli`: the same entry point as the `firebell` command."""

from bot.cli.main import main

raise SystemExit(main())
