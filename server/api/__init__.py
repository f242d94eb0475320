"""Thin litestar handlers, one module per resource."""
