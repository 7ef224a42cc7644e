"""The docker engine: the python-on-whales adapter and what runs a plan through it."""
