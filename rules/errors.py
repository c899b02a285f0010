"""What the rules refuse: a reference they do not know, a level a department may not take, an extension."""

from __future__ import annotations


class ExtensionTooLong(ValueError):
    """An extension would exceed the rules' maximum resolution limit."""


class ExtensionNotAllowed(ValueError):
    """The rules allow no extension (延期) for a case of this urgency."""


class UnknownReference(ValueError):
    """A case names a category, district or street the rules do not know."""


class LevelProhibited(ValueError):
    """Department-level work may not be dispatched to a street-level department."""
