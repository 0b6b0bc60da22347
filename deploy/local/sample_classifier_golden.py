#!/usr/bin/env python3
"""Asks a running Triton (deploy/local/triton.sh start ...) to classify a fixed list of rows with
sample-classifier and prints the answers as Swift literals for
Tests/PlatformProductionTests/SampleClassifierTests.swift, so the golden vectors can be regenerated
after the weights change.

Usage: python3 deploy/local/sample_classifier_golden.py --http-port 18000

Standard library only. Inputs and scores cross the wire as raw little-endian float32 (the KServe v2
binary-data extension) rather than JSON decimals, so no decimal conversion on either side can move a
bit: the scores printed are exactly the bits Triton computed for exactly the bits the test feeds in.
"""

import argparse
import json
import struct
import sys
import urllib.request

MODEL = "sample-classifier"

# (why the row is here, features). The two boundary rows were found by bisecting between class
# means until two logits differ by about 1e-5, so a one-ulp difference in the arithmetic would
# show in their scores.
ROWS = [
    ("the seed example, a typical setosa", [5.1, 3.5, 1.4, 0.2]),
    ("a typical versicolor", [6.0, 2.9, 4.5, 1.5]),
    ("a typical virginica", [6.3, 3.3, 6.0, 2.5]),
    ("iris row 71, a versicolor the model calls virginica", [5.9, 3.2, 4.8, 1.8]),
    ("iris row 134, a virginica close to versicolor", [6.3, 2.8, 5.1, 1.5]),
    ("iris row 107, a virginica the model calls versicolor", [4.9, 2.5, 4.5, 1.7]),
    ("on the versicolor/virginica boundary", [6.25571, 2.87003, 4.89353, 1.66925]),
    ("on the setosa/versicolor boundary", [5.43179, 3.12674, 2.74302, 0.740461]),
    # Values in the millions on a boundary: the logits are differences of products near 1e7 that
    # cancel, so their last bits reach the float32 scores and any change in the order of the
    # additions (bias last, features reversed) changes the answer. Found by a random search.
    ("millions, versicolor/virginica", [7310941.5, -7136.6685, 4728732.0, -3079416.2]),
    ("millions, setosa/versicolor", [-1547618.6, -1327319.1, 435011.66, -8850593.0]),
    ("millions, setosa/virginica", [15568.717, 98.12785, -6962653.0, 11737737.0]),
    ("all zeros", [0.0, 0.0, 0.0, 0.0]),
    ("all 100", [100.0, 100.0, 100.0, 100.0]),
    ("only a huge petal", [0.0, 0.0, 100.0, 0.0]),
    ("negative lengths", [-1.0, -2.0, -3.0, -4.0]),
    ("tiny values", [1e-30, 2e-30, 3e-30, 4e-30]),
    ("near the float32 limit: two classes underflow to exactly 0", [3e38, -3e38, 3e38, -3e38]),
]


def float32(value):
    """The float32 nearest to a Python float, back as a Python float."""
    return struct.unpack("<f", struct.pack("<f", value))[0]


def float32_bits(value):
    return struct.unpack("<I", struct.pack("<f", value))[0]


def swift_float_literal(value):
    """The shortest decimal that reads back as the same float32, spelled as a Swift literal."""
    for digits in range(1, 10):
        text = "%.*g" % (digits, value)
        if float32(float(text)) == value:
            break
    # repr() of the same value keeps those digits but spells 100 as 100.0 rather than 1e+02.
    return repr(float(text)).replace("e+", "e")


def infer(port, rows):
    """One batch request; returns (scores as float32 rows, labels)."""
    count = len(rows)
    payload = b"".join(struct.pack("<f", value) for row in rows for value in row)
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "features",
                    "shape": [count, 4],
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": len(payload)},
                }
            ],
            "outputs": [
                {"name": "scores", "parameters": {"binary_data": True}},
                {"name": "label", "parameters": {"binary_data": False}},
            ],
        }
    ).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v2/models/{MODEL}/infer",
        data=header + payload,
        headers={"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": str(len(header))},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
        json_length = int(response.headers["Inference-Header-Content-Length"])
    answer = json.loads(body[:json_length])
    outputs = {output["name"]: output for output in answer["outputs"]}
    size = outputs["scores"]["parameters"]["binary_data_size"]
    raw = body[json_length : json_length + size]
    flat = list(struct.unpack(f"<{count * 3}f", raw))
    scores = [flat[i * 3 : i * 3 + 3] for i in range(count)]
    return scores, outputs["label"]["data"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--http-port", type=int, required=True)
    args = parser.parse_args()
    rows = [[float32(value) for value in row] for _, row in ROWS]
    scores, labels = infer(args.http_port, rows)
    # The same rows one at a time must give the same bits: batching may not change the arithmetic.
    for index, row in enumerate(rows):
        single_scores, single_labels = infer(args.http_port, [row])
        if single_scores[0] != scores[index] or single_labels[0] != labels[index]:
            sys.exit(f"row {index} differs between the batch and a single request")
    print(f"    // Generated by deploy/local/sample_classifier_golden.py from Triton, {len(rows)} rows.")
    for (why, _), row, row_scores, label in zip(ROWS, rows, scores, labels):
        features = ", ".join(swift_float_literal(value) for value in row)
        bits = ", ".join("0x%08X" % float32_bits(value) for value in row_scores)
        decimals = ", ".join("%.9g" % value for value in row_scores)
        print(f"    // {why}: {decimals}")
        print(f'    .init([{features}], "{label}", [{bits}]),')


if __name__ == "__main__":
    main()
