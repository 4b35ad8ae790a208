"""The spec layer: schema access, load/save, weights, and validation. Imports nothing above it."""
