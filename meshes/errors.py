"""Geometry errors: an impossible request, named by its key inside the geometry spec."""


class GeometryError(ValueError):
    """A geometry that cannot be built.

    ``key`` is the dotted path inside the case's ``geometry`` section (e.g.
    ``"particles.volume_fraction"``); the solver prefixes ``geometry.`` and the file name. The
    message says what is allowed or what was reached. Picklable, so it can be broadcast from the
    rank that built the geometry.
    """

    def __init__(self, key: str, message: str) -> None:
        super().__init__(key, message)
        self.key = key
        self.message = message

    def __str__(self) -> str:
        return self.message
