"""pyhost: install, inspect, run and audit Docker CE hosts.

Nothing is imported here on purpose: `pyhost --help` must stay fast, and the
subpackage `pyhost.inspect` must never be reachable as a bare `inspect`.
"""

__version__ = "0.1.0"
