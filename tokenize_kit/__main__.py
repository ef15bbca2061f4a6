"""``python -m tokenize_kit`` runs the CLI."""

from tokenize_kit.cli import main

if __name__ == "__main__":
    main()
