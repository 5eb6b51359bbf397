"""``python -m betavae_sym`` is the ``betavae-sym`` command."""

from betavae_sym.cli import main

raise SystemExit(main())
