"""Packaged configuration presets (YAML), readable from any install and any folder."""
