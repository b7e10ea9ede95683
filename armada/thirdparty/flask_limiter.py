"""Flask-Limiter's internals: its switch between the configured storage and the in-memory fallback.

flask-limiter counts in memory while its storage (Redis) is unreachable, but only a REST request finding it so
flips the switch (`Limiter._storage_dead`), and whether a fallback exists at all is kept private too
(`_in_memory_fallback_enabled`). Socket events count through the same Limiter outside any request, so they read
and flip that switch here.
"""

from __future__ import annotations

from flask_limiter import Limiter

from armada.thirdparty import require

SUPPORTED = ">=4.1,<4.2"
require("Flask-Limiter", SUPPORTED)


def in_memory_fallback_enabled(limiter: Limiter) -> bool:
    """Whether `limiter` counts in memory while its storage is unreachable (RATELIMIT_IN_MEMORY_FALLBACK_ENABLED)."""
    return bool(limiter._in_memory_fallback_enabled)


def fall_back_to_memory(limiter: Limiter) -> None:
    """Make `limiter` count in memory from now on, as it does itself when a request finds the storage unreachable
    (`limiter.limiter` is then the in-memory one); its requests check the storage again now and then and switch
    back. Only for a limiter with the fallback enabled."""
    limiter._storage_dead = True
