"""The version of profilelab (the package root and the writers that stamp files read it)."""

__version__ = "0.1.0"
