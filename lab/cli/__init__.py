"""The command line, ``python -m lab``: one module per subcommand."""
