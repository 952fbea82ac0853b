"""The resolved analysis configuration from the config service, as the decision engine's Policy
(:class:`services.scanner.ports.PolicySource`)."""

from __future__ import annotations

import grpc

from clearframe.config.v1 import config_service_pb2 as config_pb2
from clearframe.config.v1 import config_service_pb2_grpc as config_grpc
from clearframe_runtime.errors import InvalidArgument, Unavailable
from clearframe_runtime.principal import KIND_API_KEY, PRINCIPAL_HEADER, SIGNATURE_HEADER, Principal, PrincipalCodec
from services.scanner.domain.decision import Policy

SERVICE_PRINCIPAL = Principal("service:scanner", KIND_API_KEY, frozenset({"config.read"}))


class GrpcPolicySource:
    """Asks the config service as the scanner itself (a signed service principal with config.read): the
    uploader's own credentials need not allow reading configurations."""

    def __init__(self, target: str, codec: PrincipalCodec, timeout_s: float = 3.0):
        self._codec = codec
        self._channel = grpc.aio.insecure_channel(target)
        self._stub = config_grpc.AnalysisConfigServiceStub(self._channel)
        self._timeout_s = timeout_s

    async def resolve(self, usage_intent: str, model_id: str, metadata: tuple[tuple[str, str], ...]) -> Policy:
        del metadata  # the uploader's identity is not the one that reads configurations
        value, signature = self._codec.encode(SERVICE_PRINCIPAL)
        try:
            answer = await self._stub.ResolveAnalysisConfig(
                config_pb2.ResolveAnalysisConfigRequest(usage_intent=usage_intent, model_id=model_id),
                timeout=self._timeout_s,
                metadata=((PRINCIPAL_HEADER, value), (SIGNATURE_HEADER, signature)),
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
                raise InvalidArgument(
                    exc.details() or "invalid usage intent", field="usage_intent", reason="INVALID_USAGE_INTENT"
                ) from exc
            raise Unavailable(
                f"configuration service: {exc.code().name}: {exc.details()}", reason="CONFIG_UNAVAILABLE"
            ) from exc
        config = answer.config
        components = config.detection_config.nudenet_components
        blip = config.detection_config.blip_components
        scoring = config.scoring_config
        return Policy(
            usage_intent=config.usage_intent or usage_intent,
            model_id=config.model_id if config.HasField("model_id") else "",
            version=answer.version or config.version,
            source=config_pb2.ConfigSource.Name(answer.source),
            components={
                "breast_detection": components.breast_detection,
                "genitalia_detection": components.genitalia_detection,
                "buttocks_detection": components.buttocks_detection,
                "anus_detection": components.anus_detection,
                "face_detection": components.face_detection,
            },
            weights=dict(scoring.detection_weights),
            auto_approve_under=scoring.thresholds.auto_approve_under,
            auto_flag_over=scoring.thresholds.auto_flag_over,
            auto_reject_over=scoring.thresholds.auto_reject_over,
            underage_multiplier=scoring.risk_multipliers.underage_detected,
            child_multiplier=scoring.risk_multipliers.child_content_blip,
            age_estimation=blip.age_estimation,
            child_content_detection=blip.child_content_detection,
            image_description=blip.image_description,
            child_keywords=tuple(config.blip_config.child_detection_keywords),
            age_threshold=config.blip_config.age_estimation_threshold or 18,
            description_analysis=config.blip_config.description_analysis,
            webhook_delivery=config.blip_config.webhook_delivery,
            config_warnings=tuple(config.warnings),
        )

    async def close(self) -> None:
        await self._channel.close()
