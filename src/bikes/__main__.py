"""Entry point of `python -m bikes`."""

from bikes import scripts

if __name__ == "__main__":
    scripts.cli()
