"""X's OAuth 2.0 token endpoint as the simulator serves it: short-lived user tokens that rotate.

`POST /2/oauth2/token` with grant_type=refresh_token spends the refresh token it is given and
issues a new access token, living `SimState.token_lifetime` seconds, and a new refresh token, as
X does. A spent or unknown refresh token gets 400 invalid_grant (RFC 6749 section 5.2), so a
desk that lets two workers spend one refresh token is caught. The client names itself with
HTTP Basic (a confidential client) or `client_id` in the form (a public client); neither gets
X's 401 unauthorized_client. Client secrets are not checked.

The consent screen is out of scope: `/_sim/oauth/grants` hands out a first pair of tokens,
standing for a brand account that authorised the app.

Access tokens are enforced only while `SimState.check_tokens` is on: the X endpoints then answer
401 to an unknown or expired one. Off (the default), any non-empty token is accepted, so the
demo's and the tests' fixed tokens keep working.
"""

import base64
import binascii
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from listening.simulator.state import ApiError

if TYPE_CHECKING:
    from listening.simulator.state import SimState

TOKEN_PATH = "/2/oauth2/token"
DEFAULT_CLIENT_ID = "sim-client"
SCOPE = "tweet.read tweet.write users.read dm.read dm.write offline.access"


@dataclass(slots=True)
class Grant:
    """What a live refresh token stands for: a brand account that authorised a client."""

    account_id: str
    client_id: str


@dataclass(slots=True)
class AccessToken:
    account_id: str
    expires_at: float


def oauth_error(status: int, error: str, description: str) -> ApiError:
    """An error answer of the token endpoint: OAuth's shape, not X API v2's."""
    return ApiError(status, {"error": error, "error_description": description})


def basic_client_id(header: str) -> str | None:
    """The client id of an `Authorization: Basic base64(id:secret)` header, or None."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, _, _ = decoded.partition(":")
    return client_id or None


class XOAuth:
    """The tokens the simulator issued. Call its methods with `state.lock` held."""

    def __init__(self, state: "SimState") -> None:
        self.state = state
        self.access: dict[str, AccessToken] = {}
        self.grants: dict[str, Grant] = {}  # live refresh token -> what it stands for
        self.refreshed = 0
        self.refused = 0

    def authorise(self, account_id: str | None, client_id: str) -> dict[str, Any]:
        """A first token pair for a brand account, as the end of the consent flow gives it."""
        if not client_id:
            raise ValueError("client_id must not be empty")
        account = self.state.account("x", account_id)
        return self._issue(Grant(account.account_id, client_id))

    def refresh(self, form: dict[str, Any], authorization: str) -> dict[str, Any]:
        """Answer one token request; raises the OAuth error X would answer with."""
        if form.get("grant_type") != "refresh_token":
            raise oauth_error(
                400, "unsupported_grant_type", "Only the refresh_token grant is simulated."
            )
        client_id = basic_client_id(authorization) or form.get("client_id")
        if not client_id:
            raise oauth_error(401, "unauthorized_client", "Missing valid authorization header")
        token = str(form.get("refresh_token") or "")
        grant = self.grants.get(token)
        if grant is None or grant.client_id != client_id:
            self.refused += 1
            raise oauth_error(400, "invalid_grant", "Value passed for the token was invalid.")
        del self.grants[token]
        self.refreshed += 1
        return self._issue(grant)

    def owner(self, token: str) -> str | None:
        """The account an issued access token acts for, expired or not; None if never issued."""
        issued = self.access.get(token)
        return issued.account_id if issued else None

    def is_live(self, token: str) -> bool:
        issued = self.access.get(token)
        return issued is not None and issued.expires_at > self.state.now()

    def _issue(self, grant: Grant) -> dict[str, Any]:
        access_token = "simat-" + secrets.token_urlsafe(24)
        refresh_token = "simrt-" + secrets.token_urlsafe(24)
        lifetime = self.state.token_lifetime
        self.access[access_token] = AccessToken(grant.account_id, self.state.now() + lifetime)
        self.grants[refresh_token] = grant
        return {
            "token_type": "bearer",
            "expires_in": lifetime,
            "access_token": access_token,
            "scope": SCOPE,
            "refresh_token": refresh_token,
        }
