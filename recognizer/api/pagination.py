"""Page-number pagination; clients may ask for up to 100 items a page."""

from rest_framework import pagination
from rest_framework.exceptions import ValidationError


class PageNumberPagination(pagination.PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def paginate_queryset(self, queryset, request, view=None):
        raw = request.query_params.get(self.page_query_param)
        if raw is not None and not raw.isdigit():  # DRF would read an empty page as page 1
            raise ValidationError({self.page_query_param: ["A page number from 1."]})
        return super().paginate_queryset(queryset, request, view)

    def get_page_size(self, request) -> int:
        # DRF quietly falls back to the default for a bad page_size; a client deserves to know.
        raw = request.query_params.get(self.page_size_query_param)
        if raw is not None and not (raw.isdigit() and 1 <= int(raw) <= self.max_page_size):
            raise ValidationError({self.page_size_query_param: [f"A whole number from 1 to {self.max_page_size}."]})
        return super().get_page_size(request)

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            bounds = {"page": {"minimum": 1}, "page_size": {"minimum": 1, "maximum": self.max_page_size}}
            parameter["schema"].update(bounds.get(parameter["name"], {}))
        return parameters
