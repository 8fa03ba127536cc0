"""The pages' formatting filters: one rule for percentages, times with their zone, durations in words."""

from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format

register = template.Library()


@register.filter
def percent(p: float | None, decimals: int = 1) -> str:
    """A fraction in [0, 1] as a percentage (one decimal unless told); never a flat "100.0%" or "0.0%" that is
    not exactly so: ">99.9%", "<0.1%". static/recognizer/result_panel.js applies the same rule."""
    if p is None or p == "":
        return ""
    p, decimals = float(p), int(decimals)
    text = f"{p * 100:.{decimals}f}"
    smallest = f"{10**-decimals:.{decimals}f}"
    if p < 1.0 and text == f"{100:.{decimals}f}":
        return f">{100 - 10**-decimals:.{decimals}f}%"
    if p > 0.0 and float(text) == 0.0:
        return f"<{smallest}%"
    return f"{text}%"


@register.filter
def when(value: datetime | None, seconds: bool = False) -> str:
    """A moment in the site's time zone, which it names: "1 Dec 2026, 09:57 UTC"."""
    if not value:
        return ""
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    return date_format(local, "j M Y, H:i:s T" if seconds else "j M Y, H:i T")


@register.filter
def duration(value: timedelta | float | None) -> str:
    """A span of time in words: "15 minutes", "1 hour 30 minutes", "45 seconds"."""
    if value is None or value == "":
        return ""
    total = round(value.total_seconds() if isinstance(value, timedelta) else float(value))
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [
        f"{n} {unit}{'' if n == 1 else 's'}"
        for n, unit in ((hours, "hour"), (minutes, "minute"), (seconds if not hours else 0, "second"))
        if n
    ]
    return " ".join(parts) or "0 seconds"
