"""Identity: Slack user → Hexabase identity → workspaces, namespaces and cluster credentials.

Two directory providers: ``static`` (a YAML file, for self-hosting, the demo and tests) and
``hexabase`` (account linking by OAuth 2.0 + PKCE, tokens validated with PyJWT, workspaces and
kubeconfigs fetched from the Hexabase API and stored encrypted).  Either way a request's
:class:`tools.security.SecurityContext` is built here, from the directory only.
"""
