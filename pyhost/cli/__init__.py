"""The command line: `main.py` parses and dispatches; one module per subcommand.

Subcommand modules import only argparse-level code at the top; anything heavy (Fabric, rich,
the inspector) is imported inside their ``execute`` so that ``pyhost --help`` stays fast.
"""
