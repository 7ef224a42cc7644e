"""The pure core of xbuild: no docker, no processes, standard library only."""
