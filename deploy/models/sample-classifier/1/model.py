"""The iris classifier as a Triton Python-backend model.

The arithmetic is written with plain Python floats (IEEE doubles) in a fixed order rather than
numpy's vectorised math, because the platform's Swift reference backend
(Shells/Production/Backend/SampleClassifier.swift) repeats the very same operations in the same
order: both must produce bit-identical scores for the same float32 inputs. Change one, change both.
"""

import json
import math
import os

import numpy as np
import triton_python_backend_utils as pb_utils

FEATURE_COUNT = 4


def _load_weights(path):
    with open(path, "rb") as handle:
        doc = json.load(handle)
    labels = doc["labels"]
    weights = doc["weights"]
    bias = doc["bias"]
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
        raise ValueError(f"{path}: labels must be a non-empty array of strings")
    if not isinstance(weights, list) or len(weights) != len(labels):
        raise ValueError(f"{path}: weights must have one row per label")
    if not isinstance(bias, list) or len(bias) != len(labels):
        raise ValueError(f"{path}: bias must have one value per label")
    rows = []
    for row in weights:
        if not isinstance(row, list) or len(row) != FEATURE_COUNT:
            raise ValueError(f"{path}: each weights row must have {FEATURE_COUNT} numbers")
        rows.append([float(w) for w in row])
    return labels, rows, [float(b) for b in bias]


def classify_row(labels, weights, bias, row):
    """One row of float32 features (already widened to Python floats) -> (scores as doubles, label index)."""
    logits = []
    for k in range(len(labels)):
        # Start from the bias and add the products left to right: the Swift side does the same.
        z = bias[k]
        for j in range(FEATURE_COUNT):
            z = z + weights[k][j] * row[j]
        logits.append(z)
    # An explicit loop instead of max(): the first maximum wins, and NaN handling is spelled out
    # the same way the Swift code spells it.
    m = logits[0]
    for z in logits[1:]:
        if z > m:
            m = z
    exps = [math.exp(z - m) for z in logits]
    s = exps[0]
    for e in exps[1:]:
        s = s + e
    probs = [e / s for e in exps]
    best = 0
    for k in range(1, len(probs)):
        if probs[k] > probs[best]:
            best = k
    return probs, best


class TritonPythonModel:
    def initialize(self, args):
        here = os.path.dirname(os.path.abspath(__file__))
        self.labels, self.weights, self.bias = _load_weights(os.path.join(here, "weights.json"))
        self.label_bytes = [label.encode("utf-8") for label in self.labels]

    def execute(self, requests):
        # One response per request, in order; a bad request gets an error response so the
        # other requests of the same batch still get their answers.
        return [self._answer(request) for request in requests]

    def _answer(self, request):
        try:
            tensor = pb_utils.get_input_tensor_by_name(request, "features")
            if tensor is None:
                return pb_utils.InferenceResponse(error=pb_utils.TritonError("input 'features' is missing"))
            features = tensor.as_numpy()
            if features.ndim != 2 or features.shape[1] != FEATURE_COUNT:
                return pb_utils.InferenceResponse(
                    error=pb_utils.TritonError(
                        f"input 'features' must have shape [-1, {FEATURE_COUNT}], got {list(features.shape)}"
                    )
                )
            # tolist() widens each float32 to the Python float with the same value, exactly.
            rows = features.astype(np.float32, copy=False).tolist()
            scores = np.zeros((len(rows), len(self.labels)), dtype=np.float32)
            names = np.empty((len(rows),), dtype=np.object_)
            for i, row in enumerate(rows):
                probs, best = classify_row(self.labels, self.weights, self.bias, row)
                for k, p in enumerate(probs):
                    scores[i, k] = np.float32(p)
                names[i] = self.label_bytes[best]
            return pb_utils.InferenceResponse(
                output_tensors=[pb_utils.Tensor("scores", scores), pb_utils.Tensor("label", names)]
            )
        except Exception as error:  # noqa: BLE001 - any failure becomes this request's error, not a crash
            return pb_utils.InferenceResponse(error=pb_utils.TritonError(f"sample-classifier: {error}"))
