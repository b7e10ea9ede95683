"""Production entry point (gunicorn -k gevent): patch the standard library first, then build the app."""

from gevent import monkey

monkey.patch_all()

from armada import create_app  # noqa: E402 - must come after monkey-patching

app = create_app()
