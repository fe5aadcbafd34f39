"""Exceptions raised by the enumeration layer.

Every message is a single line that names the offending input, so a CLI can print
``str(err)`` and exit.
"""

from __future__ import annotations


class EnumerationError(ValueError):
    """Base class: the enumeration input cannot be honoured."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


class PrototypeError(EnumerationError):
    """Unknown prototype name, or a parent file that is missing, unreadable or disordered."""


class SublatticeError(EnumerationError):
    """A sublattice definition is inconsistent with itself, its siblings or the parent."""


class CompositionError(EnumerationError):
    """A composition point is malformed (unknown species, fractions not summing to 1)."""


class OxidationStateError(EnumerationError):
    """An oxidation state is missing or cannot be guessed unambiguously."""


class UnrealisableCompositionError(EnumerationError):
    """A composition needs a fractional number of atoms in the requested supercell."""


class OrderingError(EnumerationError):
    """An ordering enumeration that cannot run as asked (size, restrictions)."""


class TooManyOrderingsError(OrderingError):
    """The enumeration would give more orderings than its cap allows."""


class ClusterExpansionError(EnumerationError):
    """A cluster expansion cannot be fitted, or does not fit the sublattices it is applied to."""
