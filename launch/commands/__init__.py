"""The `sweep` subcommands, one module each (what it does and prints); launch/cli.py parses the
command line and calls them."""
