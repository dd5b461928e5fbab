"""``python -m quicksearch``: the same as the ``quicksearch`` command."""

from .cli import main

if __name__ == "__main__":
    main(prog_name="quicksearch")
