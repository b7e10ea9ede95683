"""Production entry point (gunicorn -k gevent): patch the standard library first, then build the app."""

from gevent import monkey

monkey.patch_all()

import gc  # noqa: E402

from armada import create_app  # noqa: E402 - must come after monkey-patching

app = create_app()

# Everything imported and built so far lives as long as the process: move it out of the collector's sight.
# Otherwise every full collection walks it again, and a request that triggers one took ~80 ms longer (about
# one room-list request in a hundred; BENCHMARKS.md "Room list").
gc.freeze()
