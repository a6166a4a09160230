"""The refusal every core function raises for a request it cannot serve as it is.

Uploads, the gallery and deletion raise :class:`Rejected`; the entry points turn it
into an answer (the status in ``status_code``, the words in ``reason``), as they do
:class:`kitteh.decoding.ImageError` for bytes that are no usable image.
"""

from __future__ import annotations


class Rejected(ValueError):
    """A request that cannot be served as it is; ``status_code`` says how to answer."""

    def __init__(self, reason: str, status_code: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status_code = status_code
