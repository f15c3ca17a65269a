"""The HTTP server: the FastAPI app, the plain-ASGI webhook lane, the REST routers, request
authentication and the request context (request ids, latency metric)."""
