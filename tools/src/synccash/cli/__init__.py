"""The synccash command-line interface (Typer)."""
