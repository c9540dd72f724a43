"""Jinja2 templates for the files pyhost writes, shipped as package data.

Templates are data: `pyhost.provision.files.render` loads them (StrictUndefined).
"""
