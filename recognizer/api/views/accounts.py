"""API accounts: tokens for a username and password, and deleting an account with all it sent."""

from drf_spectacular.utils import (
    extend_schema,
)
from rest_framework import status
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from recognizer.api import docs
from recognizer.api.serializers import (
    AccountDeleteSerializer,
    TokenSerializer,
)
from recognizer.api.throttling import AuthThrottle
from recognizer.services import (
    account_delete,
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
        request=AuthTokenSerializer,
        responses={200: TokenSerializer, 400: docs.ERROR, 429: docs.ERROR},
        examples=docs.TOKEN_EXAMPLES,
        auth=[],
        summary="Get an API token",
    )
    def post(self, request: Request) -> Response:
        serializer = AuthTokenSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        token, _ = Token.objects.get_or_create(user=serializer.validated_data["user"])
        return Response({"token": token.key})

    @extend_schema(responses={204: None, 401: docs.ERROR, 429: docs.ERROR}, summary="Revoke your API token")
    def delete(self, request: Request) -> Response:
        Token.objects.filter(user=request.user).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class AccountDeleteView(APIView):
    """Delete your account and everything you sent (predictions, images, token), after your password again."""

    throttle_classes = [AuthThrottle]  # a password check: as slow to guess as a token request

    @extend_schema(
        request=AccountDeleteSerializer,
        responses=docs.responses(204, None, 400),
        summary="Delete your account and all you sent",
    )
    def post(self, request: Request) -> Response:
        serializer = AccountDeleteSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        account_delete(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
