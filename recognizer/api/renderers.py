"""Lets image endpoints pass content negotiation for `Accept: image/*`; the view returns the file itself."""

import json

from rest_framework import renderers


class ImageRenderer(renderers.BaseRenderer):
    media_type = "image/*"
    format = "image"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        # Only an error reaches a renderer here (a file is returned as it is); it stays JSON.
        return json.dumps(data).encode() if isinstance(data, dict) else data
