"""Geometry errors: an impossible request, named by its key inside the geometry spec."""


class GeometryError(ValueError):
    """A geometry that cannot be built; ``key`` is the dotted path inside ``geometry``."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
