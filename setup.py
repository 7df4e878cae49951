"""Build script: only here for the compiled pprof decoder (everything else is in pyproject.toml)."""

from setuptools import setup

setup()
