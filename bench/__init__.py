"""Kitteh's benchmark harness (``make bench``).

Kept import-free on purpose: every timing and peak-RSS measurement runs in a fresh
``python -m bench.worker`` process, and anything imported here would be counted
against the method being measured.
"""
