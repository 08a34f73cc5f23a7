"""The version of netctrl, read from the installed package's metadata: the one place it is written is
``[project] version`` in ``pyproject.toml``."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("netctrl")
except PackageNotFoundError:  # pragma: no cover - a source tree on sys.path that was never installed
    __version__ = "0+unknown"
