"""The host: every process that is not docker (through cmd.py), files, QEMU, the registry."""
