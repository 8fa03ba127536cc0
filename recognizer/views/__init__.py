"""Server-rendered pages, thin: people's pages (people), accounts, health, and the staff pages (staff)."""

from recognizer.views.accounts import account_delete_view, signup
from recognizer.views.people import (
    draw,
    history,
    result_panel_context,
    submission_correct_view,
    submission_delete_view,
    submission_detail,
    submission_image,
    submission_input,
    submission_preview,
    upload,
)

__all__ = [
    "account_delete_view",
    "draw",
    "history",
    "result_panel_context",
    "signup",
    "submission_correct_view",
    "submission_delete_view",
    "submission_detail",
    "submission_image",
    "submission_input",
    "submission_preview",
    "upload",
]
