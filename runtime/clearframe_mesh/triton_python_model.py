"""Generic Triton python-backend model that runs one ONNX file with onnxruntime on CPU.

The `tritonserver` binary shipped in the nvidia-pytriton wheel only bundles the python backend, while
production Triton runs the same `.onnx` files with the onnxruntime backend. `LocalTriton` copies this
file into every generated model version directory (`<model>/1/model.py`), so that local Triton serves
the same model names, tensor names, shapes and batching as production and clients cannot tell the
difference.

The model reads everything it needs from its own `config.pbtxt`:
- parameter `onnx_path`: absolute path of the `.onnx` file to load;
- optional parameters `intra_op_thread_count` / `inter_op_thread_count`: onnxruntime thread counts (the
  onnxruntime backend's names; default: onnxruntime's own). `intra_op_num_threads` is read as before;
- the input/output tensor names, which are the ONNX graph's names (production uses them verbatim).

This file is executed by the python backend stub, not imported by Clearframe: it must depend on nothing
but numpy, onnxruntime and `triton_python_backend_utils` (which only exists inside the stub).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import triton_python_backend_utils as pb_utils  # provided by the python backend stub at run time


def _parameter(config: dict[str, Any], key: str) -> str | None:
    value = config.get("parameters", {}).get(key)
    return None if value is None else str(value.get("string_value", ""))


class TritonPythonModel:
    """Runs a batch of requests through one onnxruntime session."""

    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        self._model_name = args.get("model_name", config.get("name", "?"))
        onnx_path = _parameter(config, "onnx_path")
        if not onnx_path:
            raise pb_utils.TritonModelException(f"{self._model_name}: parameter 'onnx_path' is not set")

        options = ort.SessionOptions()
        intra = _parameter(config, "intra_op_thread_count") or _parameter(config, "intra_op_num_threads")
        if intra:
            options.intra_op_num_threads = int(intra)
        inter = _parameter(config, "inter_op_thread_count")
        if inter:
            options.inter_op_num_threads = int(inter)
        self._session = ort.InferenceSession(onnx_path, sess_options=options, providers=["CPUExecutionProvider"])

        # Names come from the model config (identical to the graph's); the dtypes let us return exactly
        # the type Triton announced, whatever onnxruntime produced.
        self._inputs = [tensor["name"] for tensor in config["input"]]
        self._outputs = [
            (tensor["name"], pb_utils.triton_string_to_numpy(tensor["data_type"])) for tensor in config["output"]
        ]
        graph_inputs = {node.name for node in self._session.get_inputs()}
        graph_outputs = {node.name for node in self._session.get_outputs()}
        missing = [n for n in self._inputs if n not in graph_inputs]
        missing += [n for n, _ in self._outputs if n not in graph_outputs]
        if missing:
            raise pb_utils.TritonModelException(
                f"{self._model_name}: tensors {missing} are not in {onnx_path} "
                f"(graph inputs {sorted(graph_inputs)}, outputs {sorted(graph_outputs)})"
            )

    def execute(self, requests: list[Any]) -> list[Any]:
        # Dynamic batching hands us several requests at once: run them as ONE onnxruntime call (that is
        # the point of batching), then split the outputs back per request along the batch axis.
        feeds = [
            {name: pb_utils.get_input_tensor_by_name(request, name).as_numpy() for name in self._inputs}
            for request in requests
        ]

        responses: list[Any] = [None] * len(requests)
        try:
            mergeable = len(feeds) > 1 and all(
                feed[name].shape[1:] == feeds[0][name].shape[1:] for feed in feeds for name in self._inputs
            )
            if mergeable:
                merged = {name: np.concatenate([feed[name] for feed in feeds]) for name in self._inputs}
                results = self._run(merged)
                sizes = [len(feed[self._inputs[0]]) for feed in feeds]
                offsets = np.cumsum([0, *sizes])
                for i in range(len(requests)):
                    part = [result[offsets[i] : offsets[i + 1]] for result in results]
                    responses[i] = self._response(part)
            else:
                for i, feed in enumerate(feeds):
                    responses[i] = self._response(self._run(feed))
        except Exception as exc:  # a failed run must answer every request, not kill the stub
            error = pb_utils.TritonError(f"{self._model_name}: inference failed: {exc}")
            return [pb_utils.InferenceResponse(output_tensors=[], error=error) for _ in requests]
        return responses

    def _run(self, feed: dict[str, npt.NDArray[Any]]) -> list[npt.NDArray[Any]]:
        return list(self._session.run([name for name, _ in self._outputs], feed))

    def _response(self, results: list[npt.NDArray[Any]]) -> Any:
        tensors = [
            pb_utils.Tensor(name, np.ascontiguousarray(result, dtype=dtype))
            for (name, dtype), result in zip(self._outputs, results, strict=True)
        ]
        return pb_utils.InferenceResponse(output_tensors=tensors)

    def finalize(self) -> None:
        self._session = None
