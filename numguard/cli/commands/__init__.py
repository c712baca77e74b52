"""One module per subcommand: `register()` adds its parser, its handler runs it."""
