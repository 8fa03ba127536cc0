"""Lets image endpoints pass content negotiation for `Accept: image/*`; the view returns the file itself."""

import json

from rest_framework import renderers
from rest_framework.request import Request
from rest_framework.response import Response


class ImageRenderer(renderers.BaseRenderer):
    media_type = "image/*"
    format = "image"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        # Only an error reaches a renderer here (a file is returned as it is); it stays JSON.
        return json.dumps(data).encode() if isinstance(data, dict) else data


class ImageErrorsAsJsonMixin:
    """For a view with image endpoints: an error from one is JSON (and says so) even when the client asked for
    an image."""

    def finalize_response(self, request: Request, response, *args, **kwargs):
        if isinstance(response, Response) and isinstance(getattr(request, "accepted_renderer", None), ImageRenderer):
            json_renderer = renderers.JSONRenderer()
            request.accepted_renderer, request.accepted_media_type = json_renderer, json_renderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)
