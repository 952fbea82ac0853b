"""Runtime shared by every Clearframe service.

Server bootstrap (grpc.aio with health, reflection and a graceful drain), settings, structlog and
OpenTelemetry set-up, the mapping of domain errors to gRPC status codes, the trusted principal the
gateway forwards, and the async database layer. (The local mesh of `make run` and the tests is `clearframe_mesh`.)
"""
