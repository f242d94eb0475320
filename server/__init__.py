"""coso: the sync server for offline data collection in grassroots community-security work."""

__version__ = "0.1.0"
