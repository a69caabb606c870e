"""Benchmarks of the production topology started on this machine (tests/drills/topology.py)."""
