"""Per-user, per-anonymous-IP and per-scope request rates, read from settings on each request."""

import logging

from django.conf import settings
from redis.exceptions import RedisError
from rest_framework import throttling

from recognizer.client_address import client_address

logger = logging.getLogger(__name__)


class _RatesFromSettings:
    # DRF copies its rates at import time; reading them per request lets settings (and tests) change them.
    def get_rate(self) -> str | None:
        return settings.DIGITVISION_API_THROTTLE_RATES.get(self.scope)

    def get_ident(self, request) -> str | None:
        # The same client address django-axes counts sign-in failures by (NUM_PROXIES trusted proxies).
        return client_address(request)

    def allow_request(self, request, view) -> bool:
        # The counters live in the cache (Redis when several processes serve). If it cannot be reached, the
        # request goes through uncounted: predictions keep working while Redis is down.
        try:
            return super().allow_request(request, view)
        except (RedisError, OSError):
            logger.warning("request rate not checked: the cache is unreachable", exc_info=True)
            return True


class UserThrottle(_RatesFromSettings, throttling.UserRateThrottle):
    """Each signed-in person: `user` rate (anonymous requests are counted by AnonThrottle)."""


class AnonThrottle(_RatesFromSettings, throttling.AnonRateThrottle):
    """Each anonymous client IP: `anon` rate."""


class AuthThrottle(_RatesFromSettings, throttling.SimpleRateThrottle):
    """Token requests per client IP: `auth` rate, so passwords cannot be guessed quickly."""

    scope = "auth"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
