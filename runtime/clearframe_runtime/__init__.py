"""Runtime shared by every Clearframe service.

Server bootstrap (grpc.aio with health, reflection and a graceful drain), settings, structlog and
OpenTelemetry set-up, the mapping of domain errors to gRPC status codes, the trusted principal the
gateway forwards, the async database layer, and the local mesh used by `make run` and the tests.
"""
