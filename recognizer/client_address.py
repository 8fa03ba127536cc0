"""The client's IP address behind NUM_PROXIES trusted proxies: one rule for the API throttles and django-axes."""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str | None:
    """The address the request came from, as the outermost of our ``NUM_PROXIES`` proxies saw it.

    With no proxy (0, the default) it is the socket's address, REMOTE_ADDR: X-Forwarded-For is then whatever
    the client wrote, so trusting it would let anyone reset a throttle or dodge a lockout with a new header.
    Behind N proxies each appends the address it received from, so the N-th entry from the right of
    X-Forwarded-For is the last one a client cannot forge (DRF's own rule for its ``NUM_PROXIES``).
    """
    remote_addr = request.META.get("REMOTE_ADDR")
    num_proxies = settings.NUM_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if num_proxies <= 0 or not forwarded:
        return remote_addr
    hops = [hop.strip() for hop in forwarded.split(",")]
    candidate = hops[-min(num_proxies, len(hops))]
    try:
        # Anything but an address (a misconfigured proxy) would be stored by axes as one; the socket's it is.
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote_addr
