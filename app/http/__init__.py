"""The process's one HTTP stack: a single ASGI app (probes, metrics, the OAuth callback and the
chat API; :mod:`app.http.site`) served by one uvicorn server (:mod:`app.http.server`)."""
