"""Official-client ApiClients built from a user's credentials (never a process-wide default).

Kubeconfig credentials load the user's own context; impersonation credentials load the bot's
context, and the per-request impersonation headers are added by the request layer (the official
client keeps one value per header name, so repeated ``Impersonate-Group`` headers cannot live in
its default headers).  Blocking calls run off the event loop.
"""

from __future__ import annotations

import asyncio

from kubernetes import client, config
from kubernetes.client.rest import ApiException
from kubernetes.config.config_exception import ConfigException
from urllib3.exceptions import HTTPError

from tools.security import Credentials, ImpersonationCredentials


class ClusterUnreachable(Exception):
    """The API server could not be reached or refused the credentials."""


def api_client(credentials: Credentials) -> client.ApiClient:
    if isinstance(credentials, ImpersonationCredentials):
        document, context = credentials.bot_kubeconfig, credentials.bot_context
    else:
        document, context = credentials.kubeconfig, credentials.context
    try:
        return config.new_client_from_config_dict(document, context=context,
                                                  persist_config=False)
    except ConfigException as exc:
        raise ClusterUnreachable(f"unusable kubeconfig ({credentials.source}): {exc}") from exc


def _server_version(credentials: Credentials) -> tuple[str, str]:
    api = api_client(credentials)
    try:
        info = client.VersionApi(api).get_code(_request_timeout=10)
        return api.configuration.host, str(info.git_version)
    except ApiException as exc:
        raise ClusterUnreachable(f"{api.configuration.host}: {exc.status} {exc.reason}") from exc
    except (HTTPError, OSError) as exc:
        raise ClusterUnreachable(f"{api.configuration.host}: {exc}") from exc
    finally:
        api.close()


async def server_version(credentials: Credentials) -> tuple[str, str]:
    """(API server URL, its gitVersion), or :class:`ClusterUnreachable`."""
    return await asyncio.to_thread(_server_version, credentials)
