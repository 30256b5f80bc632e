"""`make bench` (`python -m bench`): how fast the core pipeline runs on one core, what state costs, cold start, memory.

Not part of `make test`: it measures, and prints and writes figures (bench/results.json) rather than asserting.
"""
