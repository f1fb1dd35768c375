"""The REST API (Flask + flask-smorest): `create_app()` in webapp.app, gunicorn runner in webapp.server."""
