"""ASGI entry point: ``uvicorn api.main:app``."""

import gc

from api.app import create_app

app = create_app()
# Everything built so far (the modules, the app, its routes and schemas) lives as long as the process: moved out of
# the collector's generations, a full collection no longer walks it, and the pauses a request may meet stay short.
gc.freeze()
