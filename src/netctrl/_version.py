"""The version of netctrl (one place: the package and its metadata read it from here)."""

__version__ = "0.3.0"
