"""``python -m physxai ...`` runs the ``physxai`` command (see :mod:`physxai.cli`)."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
