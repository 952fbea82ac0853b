"""Run the gateway companion service: `python -m services.gateway`."""

from __future__ import annotations

import importlib
import pkgutil

import clearframe
from clearframe.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from clearframe_runtime.server import Servicer, run_service, serve
from clearframe_runtime.settings import load_settings
from services.gateway.health import GatewayServicer
from services.gateway.settings import GatewaySettings


def contract_service_names() -> list[str]:
    """Every service of every Clearframe contract, so reflection through the gateway lists them all."""
    names = []
    for module_info in pkgutil.walk_packages(clearframe.__path__, "clearframe."):
        if module_info.name.endswith("_pb2"):
            module = importlib.import_module(module_info.name)
            names += [service.full_name for service in module.DESCRIPTOR.services_by_name.values()]
    return sorted(names)


async def main() -> None:
    settings = load_settings("gateway", GatewaySettings)
    servicer = GatewayServicer(settings.services(), settings.triton_url, settings.health_timeout_s)
    await serve(
        "gateway",
        settings,
        [
            Servicer(
                servicer,
                gateway_pb2_grpc.add_GatewayServiceServicer_to_server,
                gateway_pb2.DESCRIPTOR.services_by_name["GatewayService"],
            )
        ],
        reflection_names=contract_service_names(),
        on_stop=servicer.close,
    )


if __name__ == "__main__":
    run_service("gateway", main)
