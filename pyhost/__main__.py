"""``python -m pyhost``."""

from pyhost.cli.main import run

run()
