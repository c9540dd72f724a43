"""Jinja2 templates, shipped as package data. Templates are data: no code lives here."""
