"""The teacher's unlock, kept across reloads: a signed, expiring token, never the passphrase.

The token is ``EXPIRY.SIGNATURE``: the Unix time it expires at and an HMAC-SHA256 of that time
under a key derived from the server's passphrase. It proves that whoever holds it unlocked the
panel on a server with that passphrase, until it expires; it holds nothing a student could turn
into the passphrase short of guessing it (each guess one HMAC: keep the passphrase long). A new
passphrase makes every token given before it worthless. Pure Python: the page keeps the token in a
cookie of the teacher's browser (``ui.app.teacher_access``).
"""

from __future__ import annotations

import hashlib
import hmac
import time

TOKEN_SECONDS = 12 * 3600  # a school day: the teacher unlocks once a morning
_KEY_LABEL = b"mlp-lab teacher token v1"  # what the derived key is for: no other use of the passphrase shares it


def _key(passphrase: str) -> bytes:
    """The signing key: derived from the passphrase, so that the token never contains or reveals it directly."""
    return hmac.new(passphrase.encode(), _KEY_LABEL, hashlib.sha256).digest()


def _signature(expiry: int, passphrase: str) -> str:
    return hmac.new(_key(passphrase), str(expiry).encode(), hashlib.sha256).hexdigest()


def make_token(passphrase: str, now: float | None = None, seconds: int = TOKEN_SECONDS) -> str:
    """A token that unlocks the panel on a server with ``passphrase`` for ``seconds`` from ``now``."""
    expiry = int((time.time() if now is None else now) + seconds)
    return f"{expiry}.{_signature(expiry, passphrase)}"


def token_valid(token: str | None, passphrase: str, now: float | None = None) -> bool:
    """Whether ``token`` was made with ``passphrase`` and has not expired (signature compared in constant time).

    Never valid for an empty passphrase (a server without one keeps the panel locked).
    """
    if not isinstance(token, str) or not token or not passphrase:
        return False
    expiry_text, _, signature = token.partition(".")
    if not expiry_text.isdigit() or len(expiry_text) > 12:
        return False
    expiry = int(expiry_text)
    if expiry <= (time.time() if now is None else now):
        return False
    return hmac.compare_digest(signature.encode(), _signature(expiry, passphrase).encode())
