"""The injected dependencies, named explicitly (litestar 3 drops inferred ones)."""

from litestar.di import NamedDependency

from server.catalog import Catalog
from server.store import Store

StoreDep = NamedDependency[Store]
CatalogDep = NamedDependency[Catalog]
