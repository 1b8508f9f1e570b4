"""ltv: long-term signatures from smartphone-held keys.

The core (this package minus :mod:`ltv.cli` and :mod:`ltv.server`) is pure logic over bytes plus
narrow ports (fetchers, a :class:`~ltv.timestamps.TimestampClient`, a :class:`~ltv.clock.Clock`).
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
