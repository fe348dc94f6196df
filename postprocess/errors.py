"""The one postprocess error (light module: the CLI imports it without PyVista)."""


class RenderError(Exception):
    """A run-directory file or a request is missing or invalid (the message names it)."""
