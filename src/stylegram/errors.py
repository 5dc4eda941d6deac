"""The one exception type the library raises for a user's mistake (bad file, bad option)."""


class StylegramError(ValueError):
    """A problem with the user's input; the CLI prints its message as one line and exits 2."""
