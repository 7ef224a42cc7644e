"""The pure planning core: no docker, no processes, no terminal. Milliseconds to test."""
