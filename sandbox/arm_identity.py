"""An App Service-style managed identity endpoint and the bearer tokens it hands out.

azure-identity's ``ManagedIdentityCredential`` (and so ``DefaultAzureCredential``) picks the App Service
flow when ``IDENTITY_ENDPOINT`` and ``IDENTITY_HEADER`` are set: ``GET <endpoint>?api-version=2019-08-01
&resource=<scope>`` with the header ``X-IDENTITY-HEADER: <secret>``. Tokens are opaque random strings that
the ARM side checks, so a client that skips authentication fails like it would in Azure.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

from sandbox.arm_errors import ArmError

TOKEN_LIFETIME_SECONDS = 24 * 3600
ARM_AUDIENCES = ("https://management.azure.com", "https://management.core.windows.net")


@dataclass(frozen=True)
class IssuedToken:
    """What the emulator remembers about a token it issued: for which audience, until when, and for whom.

    ``principal`` is what Azure records as ``requestor`` for a JIT initiate made with the token: the managed
    identity's name for jitbot's own tokens, a person's UPN for someone using the portal or the CLI.
    """

    resource: str
    expires_on: float
    principal: str


@dataclass
class TokenIssuer:
    """Issues tokens for the identity and checks them on every ARM call.

    Token lifetimes follow the wall clock (azure-identity caches by ``time.time()``), not the emulator's
    injectable clock, so moving a ManualClock never logs the client out.
    """

    header_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    client_id: str = "6f1e1f9c-0a3b-4d6e-9a51-7c1d2b3a4e5f"
    identity_name: str = "jitbot-managed-identity"
    extra_audiences: tuple[str, ...] = ()
    lifetime: float = TOKEN_LIFETIME_SECONDS
    _tokens: dict[str, IssuedToken] = field(default_factory=dict)

    def issue(self, resource: str) -> dict[str, str]:
        """The App Service 2019-08-01 token response for ``resource``."""
        token = secrets.token_urlsafe(32)
        expires_on = time.time() + self.lifetime
        self._tokens[token] = IssuedToken(resource, expires_on, self.identity_name)
        return {
            "access_token": token,
            "expires_on": str(int(expires_on)),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": self.client_id,
        }

    def issue_for_person(self, principal: str, resource: str = ARM_AUDIENCES[0]) -> str:
        """A bearer token for a person (``carol@contoso.com``), as the portal or ``az login`` would hold one."""
        token = secrets.token_urlsafe(32)
        self._tokens[token] = IssuedToken(resource, time.time() + self.lifetime, principal)
        return token

    def check_identity_header(self, presented: str | None) -> None:
        """Refuse a token request that lacks the secret header, as App Service does."""
        if presented is None or not secrets.compare_digest(presented, self.header_secret):
            raise ArmError(401, "Unauthorized", "The X-IDENTITY-HEADER header is missing or wrong.")

    def authenticate(self, authorization: str | None) -> IssuedToken:
        """The caller's token; ARM's 401 unless ``authorization`` is ``Bearer <a live token issued for ARM>``."""
        if not authorization:
            raise _unauthenticated(
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
                "The authentication failed because of missing 'Authorization' header.",
            )
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise _unauthenticated(
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is provided in an invalid format.",
                "The authentication failed because of an invalid 'Authorization' header.",
            )
        issued = self._tokens.get(token.strip())
        if issued is None:
            raise _unauthenticated(
                "InvalidAuthenticationToken", "The access token is invalid.", "The access token is invalid."
            )
        if issued.expires_on <= time.time():
            raise _unauthenticated(
                "ExpiredAuthenticationToken",
                "The access token expiry UTC time is earlier than current UTC time.",
                "The access token has expired.",
            )
        audiences = {a.rstrip("/").lower() for a in (*ARM_AUDIENCES, *self.extra_audiences)}
        if issued.resource.rstrip("/").lower() not in audiences:
            raise _unauthenticated(
                "InvalidAuthenticationTokenAudience",
                f"The access token has been obtained for wrong audience or resource '{issued.resource}'. "
                "It should exactly match with one of the allowed audiences "
                f"{', '.join(repr(a) for a in sorted(audiences))}.",
                "The access token has an invalid audience.",
            )
        return issued

    def live_token(self, authorization: str | None) -> IssuedToken | None:
        """The live token a ``Bearer`` header carries, for services other than ARM that check their own audience."""
        scheme, _, token = (authorization or "").partition(" ")
        issued = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        return issued if issued is not None and issued.expires_on > time.time() else None

    def revoke_all(self) -> None:
        """Forget every issued token (clients must fetch new ones)."""
        self._tokens.clear()


def _unauthenticated(code: str, message: str, description: str) -> ArmError:
    challenge = (
        'Bearer authorization_uri="https://login.microsoftonline.com/common", '
        f'error="invalid_token", error_description="{description}"'
    )
    return ArmError(401, code, message, headers={"WWW-Authenticate": challenge})
