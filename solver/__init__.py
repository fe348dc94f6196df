"""ssbmech solver: case schema, materials, physics, time loop, writers and command line."""

__version__ = "0.1.0"
