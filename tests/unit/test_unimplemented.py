"""A contract whose implementation has not landed answers UNIMPLEMENTED with ErrorInfo NOT_IMPLEMENTED_YET
(REST: 501), never fake data. Every service of the mesh is implemented now, so this runs the runtime's
``unimplemented_servicer`` on an in-process server (it used to be checked through the gateway on analytics)."""

from __future__ import annotations

import grpc
import pytest

from clearframe.analytics.v1 import analytics_service_pb2 as pb
from clearframe.analytics.v1 import analytics_service_pb2_grpc as pb_grpc
from clearframe_runtime.server import unimplemented_servicer
from clearframe_runtime.status import ErrorInterceptor, error_info


async def test_an_unimplemented_contract_answers_unimplemented_with_error_info() -> None:
    servicer = unimplemented_servicer(
        pb_grpc.AnalyticsServiceServicer,
        pb.DESCRIPTOR.services_by_name["AnalyticsService"],
        pb_grpc.add_AnalyticsServiceServicer_to_server,
        "a later issue",
    )
    server = grpc.aio.server(interceptors=[ErrorInterceptor()])
    servicer.add_to_server(servicer.implementation, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            with pytest.raises(grpc.aio.AioRpcError) as failure:
                await pb_grpc.AnalyticsServiceStub(channel).ListEvents(pb.ListEventsRequest(), timeout=5)
    finally:
        await server.stop(0)
    assert failure.value.code() is grpc.StatusCode.UNIMPLEMENTED
    assert "not implemented yet (a later issue)" in (failure.value.details() or "")
    info = error_info(failure.value)
    assert info is not None and info.reason == "NOT_IMPLEMENTED_YET" and info.domain == "clearframe"
