import Testing

@testable import PlatformProduction

/// A row, the label Triton gave it and the bits of the float32 scores Triton gave it.
struct SampleClassifierGolden: Sendable, CustomTestStringConvertible {
    var features: [Float]
    var label: String
    var scoreBits: [UInt32]
    init(_ features: [Float], _ label: String, _ scoreBits: [UInt32]) {
        self.features = features
        self.label = label
        self.scoreBits = scoreBits
    }
    var testDescription: String { "\(features)" }
}

// Answers of Triton 2.51 (deploy/local/triton.sh start) serving deploy/models/sample-classifier. The
// scores are bit patterns so that equality is exact: the Swift model must match Triton to the bit,
// not approximately. Regenerate after changing weights.json with
// `python3 deploy/local/sample_classifier_golden.py --http-port P` against a running Triton.
let sampleClassifierGoldens: [SampleClassifierGolden] = [
    // the seed example, a typical setosa: 0.98155725, 0.0184427183, 1.4480837e-08
    .init([5.1, 3.5, 1.4, 0.2], "setosa", [0x3F7B4756, 0x3C97152F, 0x3278C765]),
    // a typical versicolor: 0.00548495632, 0.813132584, 0.181382447
    .init([6.0, 2.9, 4.5, 1.5], "versicolor", [0x3BB3BB26, 0x3F502975, 0x3E39BC52]),
    // a typical virginica: 9.02851241e-07, 0.00391262444, 0.996086478
    .init([6.3, 3.3, 6.0, 2.5], "virginica", [0x35725B77, 0x3B803579, 0x3F7EFF86]),
    // iris row 71, a versicolor the model calls virginica: 0.00230697123, 0.440216929, 0.557476103
    .init([5.9, 3.2, 4.8, 1.8], "virginica", [0x3B17308E, 0x3EE1641D, 0x3F0EB6C1]),
    // iris row 134, a virginica close to versicolor: 0.00052935892, 0.475572824, 0.523897827
    .init([6.3, 2.8, 5.1, 1.5], "virginica", [0x3A0AC4AD, 0x3EF37E48, 0x3F061E2B]),
    // iris row 107, a virginica the model calls versicolor: 0.00578318909, 0.513686955, 0.480529875
    .init([4.9, 2.5, 4.5, 1.7], "versicolor", [0x3BBD80E8, 0x3F0380FD, 0x3EF60803]),
    // on the versicolor/virginica boundary: 0.000998823554, 0.499499172, 0.499502003
    .init([6.25571, 2.87003, 4.89353, 1.66925], "virginica", [0x3A82EAF5, 0x3EFFBE5B, 0x3EFFBEBA]),
    // on the setosa/versicolor boundary: 0.499952227, 0.499956667, 9.10971503e-05
    .init([5.43179, 3.12674, 2.74302, 0.740461], "versicolor", [0x3EFFF9BD, 0x3EFFFA52, 0x38BF0B69]),
    // millions, versicolor/virginica: 0, 0.449013561, 0.550986469
    .init([7310941.5, -7136.6685, 4728732.0, -3079416.2], "virginica", [0x00000000, 0x3EE5E51B, 0x3F0D0D73]),
    // millions, setosa/versicolor: 0.479305089, 0.520694911, 0
    .init([-1547618.6, -1327319.1, 435011.66, -8850593.0], "versicolor", [0x3EF5677A, 0x3F054C43, 0x00000000]),
    // millions, setosa/virginica: 0.107316941, 0, 0.892683089
    .init([15568.717, 98.12785, -6962653.0, 11737737.0], "virginica", [0x3DDBC8FC, 0x00000000, 0x3F6486E1]),
    // all zeros: 0.999510288, 0.000489726837, 2.94626157e-10
    .init([0.0, 0.0, 0.0, 0.0], "setosa", [0x3F7FDFE8, 0x3A006103, 0x2FA1F8F2]),
    // all 100: 0, 0, 1
    .init([100.0, 100.0, 100.0, 100.0], "virginica", [0x00000000, 0x00000000, 0x3F800000]),
    // only a huge petal: 0, 0, 1
    .init([0.0, 0.0, 100.0, 0.0], "virginica", [0x00000000, 0x00000000, 0x3F800000]),
    // negative lengths: 0.999998629, 1.38643702e-06, 3.23373093e-21
    .init([-1.0, -2.0, -3.0, -4.0], "setosa", [0x3F7FFFE9, 0x35BA159D, 0x1D745574]),
    // tiny values: 0.999510288, 0.000489726837, 2.94626157e-10
    .init([1e-30, 2e-30, 3e-30, 4e-30], "setosa", [0x3F7FDFE8, 0x3A006103, 0x2FA1F8F2]),
    // near the float32 limit: two classes underflow to exactly 0: 0, 1, 0
    .init([3e38, -3e38, 3e38, -3e38], "versicolor", [0x00000000, 0x3F800000, 0x00000000]),
]

/// The repository's root, three levels above this file (Tests/PlatformProductionTests/<file>).
private func repositoryRoot(_ file: String = #filePath) -> String {
    "/" + file.split(separator: "/").dropLast(3).joined(separator: "/")
}

private func weightsText(_ text: String) -> [UInt8] { Array(text.utf8) }

@Suite struct SampleClassifierTests {
    let model: SampleClassifier

    init() throws {
        model = try SampleClassifier.load(modelDirectory: repositoryRoot() + "/deploy/models/sample-classifier")
    }

    @Test func loadsTheRepositoryModel() {
        #expect(model.labels == ["setosa", "versicolor", "virginica"])
        #expect(model.featureNames.count == SampleClassifier.featureCount)
    }

    @Test(arguments: sampleClassifierGoldens) func matchesTritonBitForBit(_ golden: SampleClassifierGolden) {
        let answer = model.classify(golden.features)
        #expect(answer.label == golden.label)
        #expect(answer.scores.map(\.bitPattern) == golden.scoreBits)
        #expect(answer.scores == golden.scoreBits.map { Float(bitPattern: $0) })
    }

    @Test func theSeedExampleIsConfidentlySetosa() {
        let answer = model.classify([5.1, 3.5, 1.4, 0.2])
        #expect(answer.label == "setosa")
        #expect(answer.scores[0] > 0.95)
    }

    @Test func aBatchAnswersEachRowAsAlone() {
        let answers = model.classify(rows: sampleClassifierGoldens.map(\.features))
        #expect(answers.count == sampleClassifierGoldens.count)
        for (answer, golden) in zip(answers, sampleClassifierGoldens) {
            #expect(answer.label == golden.label)
            #expect(answer.scores.map(\.bitPattern) == golden.scoreBits)
        }
        #expect(model.classify(rows: []).isEmpty)
    }

    @Test func describesTheTritonConfig() {
        #expect(SampleClassifier.modelName == "sample-classifier")
        #expect(SampleClassifier.inputName == "features")
        #expect(SampleClassifier.inputDatatype == "FP32")
        #expect(SampleClassifier.inputShape == [-1, 4])
        #expect(SampleClassifier.scoresName == "scores")
        #expect(SampleClassifier.scoresShape == [-1, 3])
        #expect(SampleClassifier.labelName == "label")
        #expect(SampleClassifier.labelDatatype == "BYTES")
        #expect(SampleClassifier.labelShape == [-1])
    }

    /// A weights document with the given members spelled as JSON text; nil leaves a member out.
    static func document(
        labels: String? = #"["a", "b", "c"]"#, weights: String? = "[[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4]]",
        bias: String? = "[0, 0, 0]", featureNames: String? = nil
    ) -> String {
        let members = [("labels", labels), ("weights", weights), ("bias", bias), ("feature_names", featureNames)]
        return "{" + members.compactMap { name, value in value.map { "\"\(name)\": \($0)" } }.joined(separator: ", ")
            + "}"
    }

    /// Each malformed document and what its error must mention.
    static let malformed: [(String, String)] = [
        (document(bias: nil), #""bias" is missing"#),
        (document(labels: nil), #""labels" is missing"#),
        (document(labels: #"["a", "b"]"#), #""labels" must be an array of 3 strings"#),
        (document(labels: #"["a", "b", 3]"#), #""labels"[2] must be a non-empty string"#),
        (document(weights: "[[1, 2, 3, 4]]"), #""weights" must be an array of 3 rows"#),
        (document(weights: "[[1, 2, 3, 4], [1, 2, 3], [1, 2, 3, 4]]"), #""weights[1]" must have 4 numbers, found 3"#),
        (document(weights: #"[[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, "x"]]"#), #""weights[2]"[3] must be a number"#),
        (document(bias: "0"), #""bias" must be an array of 3 numbers, found a number"#),
        (document(featureNames: #"["a"]"#), #""feature_names" must be an array of 4 strings"#),
        ("{\"labels\": [],\n \"weights\": [[1,, 2]]}", "not valid JSON: line 2"),
        ("[1, 2, 3]", "expected a JSON object, found an array"),
    ]

    @Test func theTestDocumentIsWellFormed() throws {
        let model = try SampleClassifier(
            weightsJSON: weightsText(Self.document(featureNames: #"["p", "q", "r", "s"]"#)))
        #expect(model.labels == ["a", "b", "c"])
        #expect(model.featureNames == ["p", "q", "r", "s"])
    }

    @Test func aMalformedWeightsFileNamesTheProblem() {
        for (text, expected) in Self.malformed {
            do {
                _ = try SampleClassifier(weightsJSON: weightsText(text), source: "test.json")
                Issue.record("accepted a malformed document: \(text)")
            } catch let error as SampleClassifierError {
                #expect(error.message.hasPrefix("test.json: "), "\(error)")
                #expect(error.message.contains(expected), "\(error) should mention \(expected)")
            } catch {
                Issue.record("unexpected error type: \(error)")
            }
        }
    }

    @Test func aMissingModelDirectoryNamesThePath() {
        #expect {
            try SampleClassifier.load(modelDirectory: "/nonexistent/sample-classifier")
        } throws: { error in
            "\(error)".contains("/nonexistent/sample-classifier/1/weights.json")
        }
    }
}
