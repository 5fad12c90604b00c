"""Seamline's roles as OS processes: collect, pipeline and deliver, and the supervisor that
runs them all on one machine (`seamline serve`)."""

import threading

STOP_ASKED = threading.Event()
"""Set by a SIGTERM that came while a pipeline or deliver role was starting (see `serve`):
here, not in `process`, so that `serve` can install the handler before the slow imports."""
