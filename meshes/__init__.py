"""Gmsh geometry generators (pure geometry, no physics): ``build(comm, spec) -> MeshBundle``."""
