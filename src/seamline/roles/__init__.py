"""Seamline's roles as OS processes: collect, pipeline and deliver, and the supervisor that
runs them all on one machine (`seamline serve`)."""
