"""What the tests share: pictures, events, stacks, fault set-ups, the lock reader.

Helpers only; fixtures live in ``tests/conftest.py`` and each tier's own ``conftest.py``.
"""
