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
    ONNXRUNTIME_DEFAULT,
    _local_config,
    cpu_threads_from_environment,
    default_cpu_threads,
    onnx_model_paths,
)


@pytest.mark.parametrize(("cores", "threads"), [(1, 1), (2, 1), (4, 1), (6, 2), (16, 5)])
def test_unset_or_empty_gives_each_model_a_share_of_the_cores(cores: int, threads: int) -> None:
    assert cpu_threads_from_environment({}, cores=cores) == threads
    assert cpu_threads_from_environment({CPU_THREADS_ENV: " "}, cores=cores) == threads


def test_a_number_is_taken_and_onnxruntime_leaves_it_to_onnxruntime() -> None:
    assert cpu_threads_from_environment({CPU_THREADS_ENV: "2"}, cores=2) == 2
    assert cpu_threads_from_environment({CPU_THREADS_ENV: ONNXRUNTIME_DEFAULT}) is None


@pytest.mark.parametrize("raw", ["0", "-1", "two", "1.5"])
def test_a_bad_value_fails_naming_the_setting(raw: str) -> None:
    with pytest.raises(ValueError, match=CPU_THREADS_ENV):
        cpu_threads_from_environment({CPU_THREADS_ENV: raw})


def test_mesh_options_read_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CPU_THREADS_ENV, "1")
    assert MeshOptions.free(tmp_path).triton_cpu_threads == 1
    monkeypatch.setenv(CPU_THREADS_ENV, ONNXRUNTIME_DEFAULT)
    assert MeshOptions.free(tmp_path).triton_cpu_threads is None
    monkeypatch.delenv(CPU_THREADS_ENV)
    assert MeshOptions.free(tmp_path).triton_cpu_threads == default_cpu_threads()


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
