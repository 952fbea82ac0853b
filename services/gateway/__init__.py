"""Gateway: the Envoy configuration (rendered by envoy_config.py) and its companion gRPC service,
which answers `GET /healthz` for the whole mesh and serves reflection for every Clearframe contract."""
