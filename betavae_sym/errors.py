"""Exceptions that the command line turns into one line and an exit status."""

from __future__ import annotations


class BadInput(ValueError):
    """A user-supplied input is invalid: the CLI prints the message, exits 2.

    Library code names the *parameter* (its Python name, e.g. ``"lr"`` or
    ``"batch_size"``) and says what is wrong and what to do; the command line
    replaces the parameter by the flag the user typed (``--lr``,
    ``--batch-size``). ``str(exc)`` is ``"<parameter>: <message>"``.

    Examples
    --------
    >>> str(BadInput("must be a finite number > 0, got -1.0", parameter="lr"))
    'lr: must be a finite number > 0, got -1.0'
    >>> str(BadInput("--betas: 'a:b' is not START:STOP:NUM; use e.g. 0.05:3:200"))
    "--betas: 'a:b' is not START:STOP:NUM; use e.g. 0.05:3:200"
    """

    def __init__(self, message: str, *, parameter: str | None = None):
        super().__init__(message)
        self.message = message
        self.parameter = parameter

    def __str__(self) -> str:
        return self.message if self.parameter is None else f"{self.parameter}: {self.message}"

    def naming(self, flags: dict[str, str]) -> str:
        """The message with the parameter replaced by its flag (``flags``: parameter -> flag)."""
        if self.parameter is None:
            return self.message
        return f"{flags.get(self.parameter, self.parameter)}: {self.message}"


class CheckFailed(RuntimeError):
    """A check or a run failed (e.g. stale derivations): exit status 1."""
