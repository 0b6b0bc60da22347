import PlatformWire

// The iris classifier of deploy/models/sample-classifier, evaluated in Swift so the platform's
// built-in reference backend can serve the same model Triton serves, with the same answers to the
// bit. deploy/models/sample-classifier/1/model.py is the other half of that promise: both widen the
// float32 inputs to Double, add the products to the bias left to right, take the softmax with the
// C library's exp and round the probabilities back to float32, in exactly this order. The golden
// vectors in Tests/PlatformProductionTests/SampleClassifierTests.swift come from a real Triton.
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why a weights file could not be used; the message names the file and the part that is wrong.
public struct SampleClassifierError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A multinomial logistic regression over four float32 features, with its weights from weights.json.
public struct SampleClassifier: Sendable {
    /// The model's name in the repository (and in KServe v2 URLs).
    public static let modelName = "sample-classifier"
    /// The tensor names, KServe v2 datatypes and shapes, as deploy/models/sample-classifier/config.pbtxt
    /// declares them, so the backend can describe the model without reading the Triton config.
    public static let inputName = "features"
    public static let inputDatatype = "FP32"
    public static let inputShape = [-1, 4]
    public static let scoresName = "scores"
    public static let scoresDatatype = "FP32"
    public static let scoresShape = [-1, 3]
    public static let labelName = "label"
    public static let labelDatatype = "BYTES"
    public static let labelShape = [-1]
    /// Values per input row.
    public static let featureCount = 4
    /// Classes: config.pbtxt fixes the scores' second dimension, so a weights file must match it.
    public static let classCount = 3

    /// Class names, in the order of the score columns.
    public var labels: [String]
    /// The features' names, in input order (informational).
    public var featureNames: [String]
    /// One row of `featureCount` weights per class.
    var weights: [[Double]]
    var bias: [Double]

    /// Reads a weights document: `labels` (3 strings), `weights` (3 rows of 4 numbers), `bias`
    /// (3 numbers) and optionally `feature_names` (4 strings); other members are ignored.
    /// `source` only names the document in error messages.
    public init(weightsJSON: [UInt8], source: String = "weights.json") throws {
        let document: JSONValue
        do {
            document = try JSONValue.parse(weightsJSON)
        } catch {
            throw SampleClassifierError("\(source): not valid JSON: \(error)")
        }
        guard case .object = document else {
            throw SampleClassifierError("\(source): expected a JSON object, found \(document.typeName)")
        }
        func fail(_ message: String) -> SampleClassifierError { SampleClassifierError("\(source): \(message)") }
        func member(_ name: String) throws -> JSONValue {
            guard let value = document[name] else { throw fail("member \"\(name)\" is missing") }
            return value
        }
        func strings(_ value: JSONValue, _ name: String, count: Int) throws -> [String] {
            guard case .array(let items) = value, items.count == count else {
                throw fail("\"\(name)\" must be an array of \(count) strings")
            }
            return try items.enumerated().map { index, item in
                guard case .string(let text) = item, !text.isEmpty else {
                    throw fail("\"\(name)\"[\(index)] must be a non-empty string, found \(item.typeName)")
                }
                return text
            }
        }
        func numbers(_ value: JSONValue, _ name: String, count: Int) throws -> [Double] {
            guard case .array(let items) = value else {
                throw fail("\"\(name)\" must be an array of \(count) numbers, found \(value.typeName)")
            }
            guard items.count == count else {
                throw fail("\"\(name)\" must have \(count) numbers, found \(items.count)")
            }
            return try items.enumerated().map { index, item in
                guard case .number(let number, _) = item else {
                    throw fail("\"\(name)\"[\(index)] must be a number, found \(item.typeName)")
                }
                return number
            }
        }

        labels = try strings(try member("labels"), "labels", count: Self.classCount)
        if let names = document["feature_names"] {
            featureNames = try strings(names, "feature_names", count: Self.featureCount)
        } else {
            featureNames = (0..<Self.featureCount).map { "x\($0)" }
        }
        guard case .array(let rows) = try member("weights"), rows.count == Self.classCount else {
            throw fail("\"weights\" must be an array of \(Self.classCount) rows, one per label")
        }
        weights = try rows.enumerated().map { index, row in
            try numbers(row, "weights[\(index)]", count: Self.featureCount)
        }
        bias = try numbers(try member("bias"), "bias", count: Self.classCount)
    }

    /// Loads `<modelDirectory>/1/weights.json` (version 1 of a Triton-layout model directory).
    public static func load(modelDirectory: String) throws -> SampleClassifier {
        let path = modelDirectory + "/1/weights.json"
        return try SampleClassifier(weightsJSON: try readFile(path), source: path)
    }

    /// Classifies one row of `featureCount` values; the caller checks the row's length (the backend
    /// answers a shape error before it gets here), so a wrong length is a programming error.
    public func classify(_ features: [Float]) -> (label: String, scores: [Float]) {
        precondition(features.count == Self.featureCount, "a sample-classifier row has \(Self.featureCount) values")
        // Each step below mirrors one line of model.py's classify_row; reordering any of them
        // (or letting the compiler fuse a multiply-add) could move the last bit of a score.
        var logits: [Double] = []
        logits.reserveCapacity(labels.count)
        for k in 0..<labels.count {
            var z = bias[k]
            for j in 0..<Self.featureCount {
                z = z + weights[k][j] * Double(features[j])
            }
            logits.append(z)
        }
        var m = logits[0]
        for z in logits.dropFirst() where z > m {
            m = z
        }
        let exps = logits.map { exp($0 - m) }
        var sum = exps[0]
        for e in exps.dropFirst() {
            sum = sum + e
        }
        let probabilities = exps.map { $0 / sum }
        var best = 0
        for k in 1..<probabilities.count where probabilities[k] > probabilities[best] {
            best = k
        }
        return (labels[best], probabilities.map { Float($0) })
    }

    /// Classifies each row independently; one answer per row, in order.
    public func classify(rows: [[Float]]) -> [(label: String, scores: [Float])] {
        rows.map { classify($0) }
    }
}

/// The whole file at `path`, or an error naming the path and the C library's reason.
private func readFile(_ path: String) throws -> [UInt8] {
    guard let file = fopen(path, "rb") else {
        throw SampleClassifierError("\(path): cannot open: \(String(cString: strerror(errno)))")
    }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 << 10)
    while true {
        let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
        bytes.append(contentsOf: chunk[0..<count])
        if count < chunk.count { break }
    }
    if ferror(file) != 0 {
        throw SampleClassifierError("\(path): read error")
    }
    return bytes
}
