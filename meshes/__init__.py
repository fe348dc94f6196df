"""Gmsh geometry generators (pure geometry, no physics): each ``build(comm, spec) -> MeshBundle``."""
