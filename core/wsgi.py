"""WSGI entry point for gunicorn: ``gunicorn core.wsgi:app``."""
from core.app import create_app

app = create_app(serving=True)
