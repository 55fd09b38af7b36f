"""tether: work on other machines from Python."""

__version__ = "0.1.0.dev0"
