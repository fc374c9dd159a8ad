"""Declarative descriptions of the vendor APIs, shared by the hooks, the emulator and the docs."""
