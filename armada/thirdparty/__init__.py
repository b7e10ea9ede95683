"""Armada's only touches of third-party internals: private methods, undocumented attributes and modules.

A few behaviours Armada needs have no public API (a Redis listener that reports its resubscriptions, a cap on a
websocket message while it arrives, closing every connection at once on shutdown, counting in memory while Redis
is down). Each such touch lives here, one module per library, behind a small function or a base class with named
hooks, so the rest of the code uses only those and names no private member of a library.

Each module checks at import that the installed version is one it was written for (`require`), so an upgrade
fails at startup naming the package, instead of with an AttributeError in the middle of an outage.
tests/unit/test_thirdparty.py checks every touch against the installed library: that each private method exists with
the signature its override assumes, each attribute with the type it is used as. To upgrade a library: bump it in
requirements.txt, run that test, adapt the module it names, then widen the module's SUPPORTED range.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from packaging.specifiers import SpecifierSet
from packaging.version import Version


class UnsupportedVersion(RuntimeError):
    """The installed version of a library is outside the range the module touching its internals was written for."""


def require(distribution: str, supported: str) -> str:
    """The installed version of `distribution`; UnsupportedVersion unless it is in the `supported` specifier."""
    try:
        installed = version(distribution)
    except PackageNotFoundError:
        raise UnsupportedVersion(
            f"{distribution} is not installed; Armada needs {distribution}{supported} (see requirements.txt)"
        ) from None
    if not SpecifierSet(supported).contains(Version(installed), prereleases=True):
        raise UnsupportedVersion(
            f"{distribution} {installed} is installed, but armada.thirdparty reaches into its internals as they "
            f"are in {distribution}{supported}: install the version requirements.txt pins, or check each touch "
            f"against {installed} (tests/unit/test_thirdparty.py) and widen the supported range"
        )
    return installed
