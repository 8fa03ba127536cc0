"""API accounts: tokens for a username and password, and deleting an account with all it sent."""

from drf_spectacular.utils import (
    extend_schema,
)
from rest_framework import status
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from recognizer.api import docs
from recognizer.api.errors import LockedOut
from recognizer.api.serializers import (
    AccountDeleteSerializer,
    TokenSerializer,
)
from recognizer.api.throttling import AuthThrottle
from recognizer.services import (
    account_delete,
    account_token_get_or_create,
    account_tokens_revoke,
)


class AuthTokenView(APIView):
    """Exchange a username and password for an API token; DELETE revokes the token in use."""

    throttle_classes = [AuthThrottle]

    def _is_post(self) -> bool:
        return getattr(getattr(self, "request", None), "method", None) == "POST"

    def get_authenticators(self):
        # POST carries credentials, so no session (and no CSRF) is involved; DELETE needs the token itself.
        return [] if self._is_post() else super().get_authenticators()

    def get_permissions(self):
        return [AllowAny()] if self._is_post() else super().get_permissions()

    @extend_schema(
        request=docs.json_body(AuthTokenSerializer),
        responses={200: TokenSerializer, 400: docs.ERROR, 429: docs.ERROR},
        examples=docs.TOKEN_EXAMPLES,
        auth=[],
        summary="Get an API token",
    )
    def post(self, request: Request) -> Response:
        serializer = AuthTokenSerializer(data=request.data, context={"request": request})
        if not serializer.is_valid():
            # django-axes refused (or just locked) this username from this address: say so, as the sign-in
            # page does, rather than a 400 that reads like one more wrong password.
            if getattr(request, "axes_locked_out", False):
                raise LockedOut(request)
            raise ValidationError(serializer.errors)
        token = account_token_get_or_create(user=serializer.validated_data["user"])
        return Response({"token": token.key})

    @extend_schema(responses={204: None, 401: docs.ERROR, 429: docs.ERROR}, summary="Revoke your API token")
    def delete(self, request: Request) -> Response:
        account_tokens_revoke(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AccountDeleteView(APIView):
    """Delete your account and everything you sent (predictions, images, token), after your password again."""

    throttle_classes = [AuthThrottle]  # a password check: as slow to guess as a token request

    @extend_schema(
        request=docs.json_body(AccountDeleteSerializer),
        responses=docs.responses(204, None, 400),
        summary="Delete your account and all you sent",
    )
    def post(self, request: Request) -> Response:
        serializer = AccountDeleteSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        account_delete(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
