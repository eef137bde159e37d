"""The command line's heavier commands, imported only when one of them runs."""
