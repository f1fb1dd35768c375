"""WSGI entry point for servers that import a module-level app (`gunicorn webapp.wsgi:app`).

The only module-level `app` in the package: importing it reads the environment and binds the database.
`healthmon api` does not use this module; it builds the app per worker in webapp.server.
"""

from webapp.app import create_app

app = create_app()
