"""The FastAPI application: ``create_app`` in ``tocsin.api.app``, routers in ``routers/``."""
