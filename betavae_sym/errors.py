"""Exceptions that the command line turns into one line and an exit status."""


class BadInput(ValueError):
    """A user-supplied input is invalid: the CLI prints the message, exits 2.

    The message names the input and says what to do, e.g.
    ``"--betas: 'a:b' is not START:STOP:NUM; use e.g. 0.05:3:200"``.
    """


class CheckFailed(RuntimeError):
    """A check or a run failed (e.g. stale derivations): exit status 1."""
