"""``python -m quicksearch``: the same as the ``quicksearch`` command."""

from quicksearch.cli import main

if __name__ == "__main__":
    main(prog_name="quicksearch")
