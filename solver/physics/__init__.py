"""Physics: one module per field or law."""
