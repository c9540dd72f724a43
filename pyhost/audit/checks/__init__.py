"""The built-in checks: pytest modules, one test function per CIS check."""
