"""Config service: seed 004's analysis configuration per usage intent and model, with resolution and a
watch stream (see the contract, protos/clearframe/config/v1/config_service.proto)."""
