"""The installed version of urvc-core, read from the package metadata."""

import importlib.metadata

try:
    __version__ = importlib.metadata.version("urvc-core")
except importlib.metadata.PackageNotFoundError:  # running from a source tree, not installed
    __version__ = "0+unknown"
