"""Whether this process serves the chat API, and the API app when it does.

The chat API is not served on its own: ``hexabot run`` and ``hexabot serve-api`` (composed in
:mod:`app.run`) put it inside the process's one HTTP app (:mod:`app.http.site`), with whichever
notifier the composition root installed on the decision service.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI

from app.api import routes
from app.services import Services
from app.settings import ConfigError, Settings

log = logging.getLogger("hexabot.api")


def enabled(settings: Settings) -> bool:
    """The chat API is on when the platform's token key (a file or a JWKS URL) is configured."""
    return bool(settings.api_token_public_key_file or settings.api_token_jwks_url)


def require(settings: Settings) -> None:
    """Refuse to serve the chat API alone without a token key."""
    if not enabled(settings):
        raise ConfigError(["HEXABOT_API_TOKEN_PUBLIC_KEY_FILE or HEXABOT_API_TOKEN_JWKS_URL: "
                           "the chat API accepts only the platform's signed tokens"])


def build(services: Services) -> FastAPI:
    """The chat API over ``services`` (refused without a token key)."""
    require(services.settings)
    return routes.build(services)


def optional(services: Services) -> FastAPI | None:
    """The chat API over ``services``, or None (said in the log) when it is off."""
    if not enabled(services.settings):
        log.info("chat API off: no HEXABOT_API_TOKEN_PUBLIC_KEY_FILE or _JWKS_URL")
        return None
    return routes.build(services)
