"""pl-tui: what do I have? Integration per target, filter and night, from FITS headers."""

__version__ = "0.1.0"
