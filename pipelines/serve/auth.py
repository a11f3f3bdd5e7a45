"""Who is asking: the `Authorization: Bearer <token>` header read strictly, the centre's operator token, and
the throttle on failed authentications.

A department's token is long and random, so guessing it is hopeless unless guesses are free: failed
authentications are limited per client address and per unit claimed (10 a minute each by default), after
which the answer is 429 with Retry-After until the minute has passed. Only failures count: a valid token is
never throttled (a department behind the same address as a stranger still gets through). The windows are
the `limits` library's moving windows, in memory: one `ioc serve` process holds them."""

from __future__ import annotations

import hmac
import os
import re
import time

from limits import RateLimitItemPerMinute, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

OPERATOR_TOKEN_ENV = "IOC_OPERATOR_TOKEN"  # the operations centre's own token: reads every submission's outcome
FAILURES_ENV = "IOC_AUTH_FAILURES"  # e.g. "10/minute": failed authentications allowed per address and per unit
RECORDED_ENV = "IOC_REFUSALS_RECORDED"  # e.g. "60/minute": refusals of strangers written to ops.submissions
BEARER = re.compile(r"^Bearer ([A-Za-z0-9\-._~+/]+=*)$", re.IGNORECASE)  # RFC 6750's b64token


def bearer(header: str | None) -> str | None:
    """The token of `Authorization: Bearer <token>` (the scheme's name in any case, one space, a token of
    RFC 6750's characters); None for anything else: no header, another scheme, a bare token."""
    match = BEARER.match(header.strip()) if header else None
    return match.group(1) if match else None


def is_operator(token: str | None) -> bool:
    known = os.environ.get(OPERATOR_TOKEN_ENV)
    if not token or not known:
        return False
    return hmac.compare_digest(known.encode(), token.encode())


class Throttle:
    """Failed authentications per client address and per claimed unit, in moving windows."""

    def __init__(self, failures: str | None = None, recorded: str | None = None):
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.failures = parse(failures or os.environ.get(FAILURES_ENV, "10/minute"))
        self.recorded = parse(recorded or os.environ.get(RECORDED_ENV, "60/minute"))
        self.first_blocked = RateLimitItemPerMinute(1)

    def _keys(self, address: str | None, unit: str | None) -> list[str]:
        return [f"address:{address}"] + ([f"unit:{unit}"] if unit else [])

    def blocked(self, address: str | None, unit: str | None = None) -> float | None:
        """Seconds until another failure may be tried, if the address or the unit has used up its failures."""
        waits = [
            self._wait(key)
            for key in self._keys(address, unit)
            if not self.limiter.test(self.failures, "failures", key)
        ]
        return max(waits) if waits else None

    def failed(self, address: str | None, unit: str | None = None) -> float | None:
        """Count one failure; the seconds to wait if it was one too many (then it is answered 429)."""
        over = [key for key in self._keys(address, unit) if not self.limiter.hit(self.failures, "failures", key)]
        return max(self._wait(key) for key in over) if over else None

    def _wait(self, key: str) -> float:
        reset = self.limiter.get_window_stats(self.failures, "failures", key).reset_time
        return max(reset - time.time(), 1.0)

    def worth_recording(self, address: str | None, throttled: bool) -> bool:
        """Whether a stranger's refusal is written to ops.submissions: a throttled address's first refusal of a
        minute only, and at most `recorded` of all such refusals server-wide (a flood is counted, not kept)."""
        if throttled and not self.limiter.hit(self.first_blocked, "throttled", f"address:{address}"):
            return False
        return self.limiter.hit(self.recorded, "recorded", "all")
