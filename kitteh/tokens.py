"""Delete tokens: what lets an image's uploader, and only them, take it down.

A token is 32 bytes from the OS's CSPRNG, handed to the uploader once (in the
upload's answer) and never again. The database keeps only its SHA-256: with 256
bits of entropy a token cannot be guessed from its hash, so the slow, salted hashes
that passwords need would buy nothing here, and a plain digest lets a request be
checked with one lookup. Comparisons run in constant time, so that the time an
answer takes tells nothing about how much of a guess was right.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

#: Bytes of randomness in a token (43 characters of URL-safe base64).
TOKEN_BYTES = 32


def new_delete_token() -> str:
    """Return a fresh delete token, safe to put in URLs, headers and localStorage."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_delete_token(token: str) -> str:
    """Return what the database keeps of ``token``: its SHA-256, in hex (64 characters)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def delete_token_matches(stored_hash: str | None, presented: str | None) -> bool:
    """Say whether ``presented`` is the token whose hash is ``stored_hash``, in constant time.

    An image without a stored hash matches no token, and no token matches an image.
    """
    if not stored_hash or not presented:
        return False
    return hmac.compare_digest(stored_hash, hash_delete_token(presented))
