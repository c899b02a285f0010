"""The REST API (FastAPI): routers per area, auth dependencies, HTTP schemas."""
