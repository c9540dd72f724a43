"""Fleet audits (CIS Docker Benchmark style) on pytest and testinfra."""
