"""Errors that are the user's, not the grader's: the CLI prints them as one line and exits 2."""


class UserError(Exception):
    """A mistake in what the user asked for or gave (an unknown assignment, a bad YAML key, a
    missing file); its message says what and where."""
