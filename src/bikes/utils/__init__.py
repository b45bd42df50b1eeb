"""Utilities: splitters, searchers and signers."""
