"""CLEARFRAME_TRITON_CPU_THREADS: parsed once, written into every generated local model config."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from clearframe_mesh.launcher import MeshOptions
from clearframe_mesh.triton import (
    CPU_THREADS_ENV,
    DEFAULT_MODELS_DIR,
    _local_config,
    cpu_threads_from_environment,
    onnx_model_paths,
)


def test_unset_or_empty_means_onnxruntime_decides() -> None:
    assert cpu_threads_from_environment({}) is None
    assert cpu_threads_from_environment({CPU_THREADS_ENV: " "}) is None
    assert cpu_threads_from_environment({CPU_THREADS_ENV: "2"}) == 2


@pytest.mark.parametrize("raw", ["0", "-1", "two", "1.5"])
def test_a_bad_value_fails_naming_the_setting(raw: str) -> None:
    with pytest.raises(ValueError, match=CPU_THREADS_ENV):
        cpu_threads_from_environment({CPU_THREADS_ENV: raw})


def test_mesh_options_read_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CPU_THREADS_ENV, "1")
    assert MeshOptions.free(tmp_path).triton_cpu_threads == 1
    monkeypatch.delenv(CPU_THREADS_ENV)
    assert MeshOptions.free(tmp_path).triton_cpu_threads is None


@pytest.mark.parametrize("threads", [None, 1])
def test_local_configs_carry_the_onnxruntime_backends_thread_parameters(threads: int | None) -> None:
    production = DEFAULT_MODELS_DIR / "nudenet" / "config.pbtxt"
    text = _local_config(production, onnx_model_paths()["nudenet"], threads)
    config = text_format.Parse(text, model_config_pb2.ModelConfig())
    keys = ("intra_op_thread_count", "inter_op_thread_count")
    if threads is None:
        assert not any(key in config.parameters for key in keys)
    else:
        assert [config.parameters[key].string_value for key in keys] == ["1", "1"]
    assert config.backend == "python" and config.max_batch_size == 16
