"""Rendering and reports from run-directory files only (never imports DOLFINx)."""
