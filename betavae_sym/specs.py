"""Settings as data: what the frozen settings dataclasses (a dataset, a training run, metrics, a sweep) share.

A spec is a frozen dataclass. Its ``__post_init__`` validates and normalizes
every field (plain ``int``, ``float``, ``tuple``), raising
:class:`~betavae_sym.errors.BadInput` that names the field, so an invalid spec
cannot exist. Field names are the parameters' Python names, which are also the
``dest`` of the command-line options (the command line reports ``--batch-size``
for ``batch_size``).

Its JSON form (:meth:`Spec.to_json`) has one key per field and only JSON
values; :meth:`Spec.from_json` reads it back, refusing unknown and missing keys
(a document written by another version is not silently completed with
defaults).
"""

from __future__ import annotations

import dataclasses

from betavae_sym.errors import BadInput


class Spec:
    """Base of the settings dataclasses: JSON form, validated construction from JSON, validated replacement."""

    def to_json(self) -> dict:
        """The JSON-ready document: ``{field: value}``, tuples as lists, nested specs as their documents."""
        return {field.name: _json_value(getattr(self, field.name)) for field in dataclasses.fields(self)}

    @classmethod
    def from_json(cls, document: dict):
        """The spec of a :meth:`to_json` document (BadInput on unknown, missing or invalid values)."""
        check_keys(document, [field.name for field in dataclasses.fields(cls)])
        return cls(**document)

    def with_options(self, **options):
        """A copy with ``options`` (field names) replaced, validated like a new spec."""
        check_keys(options, [field.name for field in dataclasses.fields(self)], complete=False)
        return dataclasses.replace(self, **options)

    def _normalize(self, name: str, value) -> None:
        """Store the validated form of field ``name`` (the dataclass is frozen; only ``__post_init__`` calls this)."""
        object.__setattr__(self, name, value)


def check_keys(document, names, *, complete: bool = True) -> None:
    """BadInput unless ``document`` is a dict whose keys are among ``names`` (all of them with ``complete``)."""
    if not isinstance(document, dict):
        raise BadInput(f"{document!r} is not a settings document (a JSON object with the keys "
                       f"{', '.join(names)})", parameter="settings")
    unknown = [key for key in document if key not in names]
    if unknown:
        raise BadInput(f"unknown setting; the settings are {', '.join(names)}", parameter=str(unknown[0]))
    missing = [name for name in names if name not in document] if complete else []
    if missing:
        raise BadInput("missing from the settings document", parameter=missing[0])


def _json_value(value):
    if isinstance(value, Spec):
        return value.to_json()
    if isinstance(value, tuple):
        return [_json_value(item) for item in value]
    return value
