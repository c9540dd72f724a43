"""Provisioning Docker CE over SSH: facts, steps, apply, verify."""
