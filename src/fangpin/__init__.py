"""Fangpin (防贫): precise poverty prevention for a city and its counties."""

__version__ = "0.1.0"
