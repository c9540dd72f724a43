"""The lab: real engines, hosts and repositories for the tests (test code, not shipped)."""
