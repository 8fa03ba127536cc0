"""Per-user, per-anonymous-IP and per-scope request rates, read from settings on each request."""

from django.conf import settings
from rest_framework import throttling


class _RatesFromSettings:
    # DRF copies its rates at import time; reading them per request lets settings (and tests) change them.
    def get_rate(self) -> str | None:
        return settings.DIGITVISION_API_THROTTLE_RATES.get(self.scope)


class UserThrottle(_RatesFromSettings, throttling.UserRateThrottle):
    """Each signed-in person: `user` rate (anonymous requests are counted by AnonThrottle)."""


class AnonThrottle(_RatesFromSettings, throttling.AnonRateThrottle):
    """Each anonymous client IP: `anon` rate."""


class AuthThrottle(_RatesFromSettings, throttling.SimpleRateThrottle):
    """Token requests per client IP: `auth` rate, so passwords cannot be guessed quickly."""

    scope = "auth"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
