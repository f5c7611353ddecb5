"""Pipelogiq: an execution control plane for multi-stage workflows."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pipelogiq")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
