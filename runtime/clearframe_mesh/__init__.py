"""Local mesh: starts the real binaries (Triton, ...) that the services talk to on one machine."""
