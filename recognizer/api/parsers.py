"""The API's JSON parser: a body nested too deeply to parse is a 400 parse_error, like any malformed JSON."""

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, with RecursionError (``[[[[...`` or ``{"a": {"a": ...`` thousands deep) as ParseError.

    Python's json module gives up on deep nesting with RecursionError, which DRF lets through as a 500; no
    endpoint takes anything nested more than a few levels, so refusing the body is always right.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - the body is nested too deeply.") from exc
