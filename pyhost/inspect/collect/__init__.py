"""The collector: reads /proc, /sys and the Docker Engine API and returns plain data.

Standard library only, and only relative imports inside this package: the same code runs on
this machine and, shipped as one zipapp, on remote hosts that have nothing but python3.
"""
