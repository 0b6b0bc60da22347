// The reference backend writes its answer straight into bytes; it must be exactly the text the JSON tree of that
// answer serializes to (the form it had before, kept here as the reference), for every shape of answer.

import PlatformWire
import Testing

@testable import PlatformProduction

@Suite struct ReferenceBackendAnswerTests {
    /// The answer as a `JSONValue` tree, member by member as the KServe v2 response is defined.
    static func tree(
        modelName: String, version: Int, id: String?, outputs wanted: [String],
        results: [(label: String, scores: [Float])]
    ) -> JSONValue {
        var outputs: [JSONValue] = []
        if wanted.isEmpty || wanted.contains(SampleClassifier.scoresName) {
            outputs.append(
                .object([
                    ("name", .string(SampleClassifier.scoresName)),
                    ("datatype", .string(SampleClassifier.scoresDatatype)),
                    (
                        "shape",
                        .array([
                            .number(Double(results.count), isInteger: true),
                            .number(Double(SampleClassifier.classCount), isInteger: true),
                        ])
                    ),
                    (
                        "data",
                        .array(results.flatMap { $0.scores.map { .number(Double($0), isInteger: false) } })
                    ),
                ]))
        }
        if wanted.isEmpty || wanted.contains(SampleClassifier.labelName) {
            outputs.append(
                .object([
                    ("name", .string(SampleClassifier.labelName)),
                    ("datatype", .string(SampleClassifier.labelDatatype)),
                    ("shape", .array([.number(Double(results.count), isInteger: true)])),
                    ("data", .array(results.map { .string($0.label) })),
                ]))
        }
        var answer: [(String, JSONValue)] = [
            ("model_name", .string(modelName)), ("model_version", .string(String(version))),
        ]
        if let id { answer.append(("id", .string(id))) }
        answer.append(("outputs", .array(outputs)))
        return .object(answer)
    }

    @Test func theWrittenAnswerIsTheTreesText() {
        let rows: [(label: String, scores: [Float])] = [
            ("setosa", [0.9815572500228882, 0.01844271831214428, 1.448083697397351e-08]),
            ("versicolor", [0.25, 0.5, 0.25]),
            ("virginica", [0, 1, -0.0]),
            ("a \"quoted\"\nlabel", [Float.leastNonzeroMagnitude, Float.greatestFiniteMagnitude, 3]),
        ]
        let outputSets: [[String]] = [[], ["scores"], ["label"], ["label", "scores"], ["other"]]
        for count in 0...rows.count {
            let results = Array(rows.prefix(count))
            for id in [nil, "", "req-1", "with \"quotes\" and \\ and \t"] as [String?] {
                for outputs in outputSets {
                    for (name, version) in [("sample-classifier", 1), ("m\u{e9}", 12)] {
                        let written = ReferenceBackendService.answer(
                            modelName: name, version: version, id: id, outputs: outputs, results: results)
                        let expected = Self.tree(
                            modelName: name, version: version, id: id, outputs: outputs, results: results
                        ).serializedBytes()
                        #expect(
                            written == expected,
                            "\(count) rows, id \(id ?? "nil"), outputs \(outputs): \(String(decoding: written, as: UTF8.self))"
                        )
                    }
                }
            }
        }
    }

    /// Wherever the fast path reads a body, it gives the rows, id and outputs the JSON tree gives; bodies it does
    /// not read (nested data, escapes, other members, refusals) are left to the tree.
    @Test func theFastPathReadsWhatTheTreeReads() throws {
        let bodies = [
            #"{"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 4], "data": [5.1, 3.5, 1.4, 0.2]}]}"#,
            #"{"id":"r-1","inputs":[{"name":"features","datatype":"FP32","shape":[2,4],"data":[1,2,3,4,5e0,6.5,-7,0.125]}],"outputs":[{"name":"label"}]}"#,
            #"{"inputs":[{"name":"other","datatype":"INT32","shape":[1],"data":[3]},{"name":"features","datatype":"FP32","shape":[1,4],"data":[1,1,1,1]}]}"#,
            #"{"inputs":[{"data":[0.1,0.2,0.3,0.4],"shape":[1,4],"datatype":"FP32","name":"features"}],"id":"x"}"#,
            #"{"inputs":[{"name":"features","datatype":"FP32","shape":[1,4],"data":[[1,2,3,4]]}]}"#,
            #"{"inputs":[{"name":"features","datatype":"FP64","shape":[1,4],"data":[1,2,3,4]}]}"#,
            #"{"inputs":[{"name":"features","datatype":"FP32","shape":[2,4],"data":[1,2,3,4]}]}"#,
            #"{"inputs":[{"name":"features","datatype":"FP32","shape":[1,3],"data":[1,2,3]}]}"#,
            #"{"inputs":[{"name":"features","datatype":"FP32","shape":[9007199254740993,4],"data":[1,2,3,4]}]}"#,
            #"{"inputs":[{"name":"features","datatype":"FP32","shape":[1e300,4],"data":[1,2,3,4]}]}"#,
            #"{"inputs":[{"name":"feat\u0075res","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}]}"#,
            #"{"inputs":[{"name":"features","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}],"parameters":{}}"#,
            #"{"inputs":[]}"#, #"{}"#, #"[]"#,
            #"{"inputs":[{"name":"features","datatype":"FP32","shape":[0,4],"data":[]}]}"#,
            #"{"inputs":[{"name":"features","datatype":"FP32","shape":[1,4],"data":[1.5e38,3.4028235e38,-1e-45,4e-46]}]}"#,
        ]
        var read = 0
        for text in bodies {
            let bytes = Array(text.utf8)
            let tree = try? JSONValue.parse(bytes)
            let treeRows: [[Float]]? = tree.flatMap {
                if case .success(let rows) = ReferenceBackendService.featureRows($0) { rows } else { nil }
            }
            guard let fast = InferenceJSON.decodeNumericRequestFast(bytes),
                let rows = ReferenceBackendService.featureRows(fast)
            else { continue }
            read += 1
            let body = try #require(tree, "the fast path read a body the tree refuses: \(text)")
            #expect(rows == treeRows, "\(text)")
            let treeID: String? = if case .string(let id)? = body["id"] { id } else { nil }
            #expect(fast.id == treeID, "\(text)")
            #expect(fast.outputs == ReferenceBackendService.requestedOutputs(body), "\(text)")
        }
        #expect(read == 5, "the fast path read \(read) of the common bodies")
    }
}
