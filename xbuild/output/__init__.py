"""What a person reads: the console on stderr, progress, tables. Never what a program parses."""
