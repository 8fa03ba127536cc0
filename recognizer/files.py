"""Stored submission images sent back to the people allowed to see them, never to shared caches."""

from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404


def private_file_response(file: FieldFile) -> FileResponse:
    """The file as a response; a missing file is a 404, as if the submission had none."""
    try:
        handle = file.open("rb")
    except (FileNotFoundError, ValueError) as exc:
        raise Http404("The image file is missing.") from exc
    response = FileResponse(handle)
    # Private to the signed-in owner (or staff); a browser may keep it, a shared cache may not.
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response
