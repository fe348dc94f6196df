"""Material models and the named parameter library (values with their sources)."""

from solver.materials.base import Material
from solver.materials.library import LIBRARY, material_data

__all__ = ["LIBRARY", "Material", "material_data"]
