"""The `firebell` command line: the entry point, one module per family of subcommands, and
`simulate`."""
