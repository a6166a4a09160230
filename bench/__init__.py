"""Kitteh's benchmarks (``make bench``; start at :mod:`bench.run`).

Import-free on purpose: each measurement runs in a fresh ``python -m bench.worker``
process, and whatever this imported would count against the method measured.
"""
