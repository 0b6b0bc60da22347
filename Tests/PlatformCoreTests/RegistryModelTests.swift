// Transcript tests for the model registry, one command and one answer at a time: every command, every
// refusal path and the exact field path each validation error names. The seeded property test is in
// RegistryModelPropertyTests.swift.

import PlatformCore
import Testing

/// An instant `seconds` after the epoch.
private func at(_ seconds: Int64) -> Instant { Instant(nanoseconds: seconds * 1_000_000_000) }

/// A valid spec that the tests change where it matters.
private func spec(_ name: String = "resnet", _ version: Int = 1, labels: [String: String] = [:]) -> ModelVersionSpec {
    ModelVersionSpec(
        name: name, version: version, framework: "onnxruntime", endpoints: ["triton-0:8001"],
        inputs: [TensorSchema(name: "images", datatype: .fp32, shape: [-1, 3, 224, 224])],
        outputs: [TensorSchema(name: "logits", datatype: .fp32, shape: [-1, 1000])], labels: labels)
}

/// The lifecycle edges the registry must allow, written out independently of the model's own table.
private let allowedEdges: [(VersionState, VersionState)] = [
    (.registered, .staging), (.registered, .archived), (.staging, .canary), (.staging, .serving),
    (.staging, .archived), (.canary, .serving), (.canary, .staging), (.serving, .deprecated),
    (.deprecated, .serving), (.deprecated, .archived),
]

/// The transitions that bring a new version to each state.
private func path(to state: VersionState) -> [VersionState] {
    switch state {
    case .registered: []
    case .staging: [.staging]
    case .canary: [.staging, .canary]
    case .serving: [.staging, .serving]
    case .deprecated: [.staging, .serving, .deprecated]
    case .archived: [.archived]
    }
}

extension RegistryReply {
    /// The single record an answer carries, if any.
    fileprivate var carried: ModelVersionRecord? {
        switch self {
        case .created(let record), .record(let record), .updated(let record): record
        case .page, .deleted, .notFound, .conflict, .preconditionFailed, .illegalTransition, .invalid, .full: nil
        }
    }

    /// The reason of a refusal, or "".
    fileprivate var reason: String {
        switch self {
        case .conflict(let reason), .illegalTransition(let reason), .invalid(_, let reason): reason
        default: ""
        }
    }
}

@Suite struct RegistryModelTests {
    /// A registry where tenant 1 registered `name`@`version` at t=1s and moved it along `path(to: state)`.
    static func registry(
        holding state: VersionState = .registered, name: String = "resnet", version: Int = 1,
        into registry: RegistryModel = RegistryModel()
    ) -> RegistryModel {
        var registry = registry
        _ = registry.apply(.create(spec(name, version), tenant: 1), now: at(1))
        for (step, next) in path(to: state).enumerated() {
            let reply = registry.apply(
                .transition(name: name, version: version, to: next, tenant: 1), now: at(2 + Int64(step)))
            precondition(reply.carried?.state == next, "setting up \(state) failed at \(next): \(reply)")
        }
        return registry
    }

    // MARK: - Types

    @Test func datatypesRoundTripTheirWireNames() {
        let names = [
            "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32",
            "FP64", "BYTES",
        ]
        #expect(TensorDatatype.allCases.map(\.name) == names)
        for datatype in TensorDatatype.allCases { #expect(TensorDatatype(name: datatype.name) == datatype) }
        #expect(
            TensorDatatype(name: "fp32") == nil && TensorDatatype(name: "BF16") == nil
                && TensorDatatype(name: "") == nil)
        #expect(TensorDatatype.allCases.map(\.byteSize) == [1, 1, 2, 4, 8, 1, 2, 4, 8, 2, 4, 8, nil])
    }

    @Test func tensorSchemaValidationNamesTheField() {
        let valid = TensorSchema(name: "x", datatype: .int64, shape: [-1, 1, 8])
        #expect(TensorSchema.validate(valid) == nil)
        #expect(TensorSchema.validate(TensorSchema(name: "scalar", datatype: .bool, shape: [])) == nil)
        let unnamed = TensorSchema(name: "", datatype: .int64, shape: [1])
        #expect(TensorSchema.validate(unnamed)?.field == "name")
        #expect(TensorSchema.validate(unnamed, path: "inputs[2]")?.field == "inputs[2].name")
        let zero = TensorSchema.validate(TensorSchema(name: "x", datatype: .fp16, shape: [4, 0]), path: "outputs[0]")
        #expect(
            zero
                == RegistryFieldError(
                    field: "outputs[0].shape[1]", reason: "must be at least 1, or -1 for a variable dimension; got 0"))
        #expect(TensorSchema.validate(TensorSchema(name: "x", datatype: .fp16, shape: [-2]))?.field == "shape[0]")
        let deep = TensorSchema(name: "x", datatype: .fp16, shape: Array(repeating: 1, count: 9))
        #expect(
            TensorSchema.validate(deep)
                == RegistryFieldError(
                    field: "shape", reason: "has 9 dimensions; at most 8 are allowed"))
        #expect(
            TensorSchema.validate(TensorSchema(name: "x", datatype: .fp16, shape: Array(repeating: -1, count: 8)))
                == nil)
    }

    @Test func lifecycleAllowsExactlyTheListedEdges() {
        for from in VersionState.allCases {
            for to in VersionState.allCases {
                let listed = allowedEdges.contains { $0.0 == from && $0.1 == to }
                #expect(from.allowsTransition(to: to) == listed, "\(from.name) -> \(to.name)")
            }
        }
    }

    @Test func repliesMapToHTTPStatuses() {
        let record = ModelVersionRecord(spec: spec(), tenant: 1, now: at(1))
        let replies: [(RegistryReply, Int)] = [
            (.created(record), 201), (.record(record), 200), (.page([], next: nil), 200), (.updated(record), 200),
            (.deleted(name: "a", version: 1), 204), (.notFound, 404), (.conflict(reason: ""), 409),
            (.preconditionFailed(current: 1), 412), (.illegalTransition(reason: ""), 409),
            (.invalid(field: "", reason: ""), 400), (.full, 503),
        ]
        for (reply, status) in replies { #expect(reply.httpStatus == status) }
    }

    // MARK: - Create

    @Test func createRegistersVersionOneOfTheRecordWithSortedLabels() {
        var registry = RegistryModel()
        var unsorted = spec(labels: ["team": "vision"])
        unsorted.labels = [Label(key: "team", value: "vision"), Label(key: "env", value: "prod")]
        let reply = registry.apply(.create(unsorted, tenant: 7), now: at(5))
        var stored = unsorted
        stored.labels = [Label(key: "env", value: "prod"), Label(key: "team", value: "vision")]
        let expected = ModelVersionRecord(spec: stored, tenant: 7, now: at(5))
        #expect(reply == .created(expected))
        #expect(expected.state == .registered && expected.resourceVersion == 1)
        #expect(expected.createdAt == at(5) && expected.updatedAt == at(5))
        #expect(registry.record(name: "resnet", version: 1) == expected && registry.versionCount == 1)
        #expect(spec(labels: ["b": "2", "a": "1", "c": "3"]).labels.map(\.key) == ["a", "b", "c"])
    }

    @Test func createOfAnExistingVersionConflicts() {
        var registry = Self.registry()
        let before = registry.allRecords
        let reply = registry.apply(.create(spec(), tenant: 1), now: at(9))
        #expect(reply == .conflict(reason: "resnet version 1 already exists"))
        #expect(reply.httpStatus == 409 && registry.allRecords == before)
        #expect(registry.apply(.create(spec("resnet", 2), tenant: 1), now: at(9)).carried?.spec.version == 2)
    }

    @Test func anotherTenantsNameConflictsWithoutLeakingItsData() {
        var registry = RegistryModel()
        var secret = spec(labels: ["owner": "acme-secret"])
        secret.framework = "secret-framework"
        secret.endpoints = ["secret-host:9000"]
        _ = registry.apply(.create(secret, tenant: 41), now: at(1))
        secret.version = 2
        _ = registry.apply(.create(secret, tenant: 41), now: at(1))
        #expect(registry.versionCount == 2)
        let before = registry.allRecords
        var reasons: [String] = []
        for version in [1, 2, 3] {
            let reply = registry.apply(.create(spec("resnet", version), tenant: 2), now: at(3))
            guard case .conflict(let reason) = reply else {
                Issue.record("expected a conflict, got \(reply)")
                continue
            }
            for leak in ["41", "secret", "acme", "9000", "version 1", "registered"] {
                #expect(!reason.contains(leak), "conflict reason \"\(reason)\" leaks \(leak)")
            }
            reasons.append(reason)
        }
        // Taken versions and a free one under the taken name read the same: nothing says which exist.
        #expect(reasons.count == 3 && Set(reasons).count == 1)
        #expect(registry.allRecords == before)
    }

    @Test func createValidationNamesTheExactField() {
        let cases: [(String, (inout ModelVersionSpec) -> Void)] = [
            ("name", { $0.name = "ResNet" }), ("name", { $0.name = "" }), ("name", { $0.name = "-resnet" }),
            ("name", { $0.name = "res net" }), ("name", { $0.name = String(repeating: "a", count: 129) }),
            ("version", { $0.version = 0 }), ("version", { $0.version = -3 }),
            ("framework", { $0.framework = "" }), ("framework", { $0.framework = String(repeating: "f", count: 65) }),
            ("endpoints", { $0.endpoints = [] }), ("endpoints", { $0.endpoints = Array(repeating: "h", count: 17) }),
            ("endpoints[1]", { $0.endpoints = ["h", ""] }),
            ("endpoints[0]", { $0.endpoints = [String(repeating: "h", count: 257)] }),
            ("inputs[1].shape[0]", { $0.inputs.append(TensorSchema(name: "mask", datatype: .bool, shape: [0, 4])) }),
            (
                "inputs[1].shape",
                { $0.inputs.append(TensorSchema(name: "m", datatype: .bool, shape: Array(repeating: 2, count: 9))) }
            ),
            ("inputs[1].name", { $0.inputs.append(TensorSchema(name: "images", datatype: .uint8, shape: [1])) }),
            ("inputs", { $0.inputs = (0..<65).map { TensorSchema(name: "t\($0)", datatype: .int8, shape: [1]) } }),
            ("outputs[0].name", { $0.outputs[0].name = "" }),
            ("outputs[1].shape[1]", { $0.outputs.append(TensorSchema(name: "p", datatype: .fp64, shape: [1, -7])) }),
            ("labels", { $0.labels = (0..<65).map { Label(key: "k\($0)", value: "") } }),
            ("labels[0].key", { $0.labels = [Label(key: "Env", value: "prod")] }),
            ("labels[0].key", { $0.labels = [Label(key: "", value: "prod")] }),
            ("labels[0].key", { $0.labels = [Label(key: String(repeating: "k", count: 64), value: "")] }),
            ("labels[1].key", { $0.labels = [Label(key: "env", value: "a"), Label(key: "env", value: "b")] }),
            ("labels[0].value", { $0.labels = [Label(key: "env", value: String(repeating: "v", count: 257))] }),
        ]
        for (field, change) in cases {
            var registry = RegistryModel()
            var bad = spec()
            change(&bad)
            let reply = registry.apply(.create(bad, tenant: 1), now: at(1))
            guard case .invalid(let named, let reason) = reply else {
                Issue.record("expected invalid \(field), got \(reply)")
                continue
            }
            #expect(named == field && !reason.isEmpty)
            #expect(reply.httpStatus == 400 && registry.versionCount == 0)
        }
    }

    @Test func createAcceptsValuesAtTheirLimits() {
        var registry = RegistryModel()
        var edge = spec("0a._-z", 1)
        edge.framework = String(repeating: "f", count: 64)
        edge.endpoints = Array(repeating: String(repeating: "h", count: 256), count: 16)
        edge.labels = (0..<64).map { Label(key: "k\($0)", value: String(repeating: "v", count: 256)) }
        edge.labels[0].key = String(repeating: "k", count: 63)
        edge.labels[1].key = "app.kubernetes.io/part-of_x"
        edge.inputs = [TensorSchema(name: "x", datatype: .bytes, shape: Array(repeating: -1, count: 8))]
        #expect(registry.apply(.create(edge, tenant: 1), now: at(1)).carried != nil)
        edge.name = String(repeating: "a", count: 128)
        #expect(registry.apply(.create(edge, tenant: 1), now: at(1)).carried != nil)
    }

    @Test func createBeyondTheLimitIsRefused() {
        var configuration = RegistryModel.Configuration()
        configuration.versionsMax = 2
        var registry = RegistryModel(configuration: configuration)
        #expect(registry.apply(.create(spec("a", 1), tenant: 1), now: at(1)).carried != nil)
        #expect(registry.apply(.create(spec("b", 1), tenant: 2), now: at(1)).carried != nil)
        #expect(registry.apply(.create(spec("c", 1), tenant: 1), now: at(1)) == .full)
        // An existing version is still a conflict, not a capacity problem.
        #expect(
            registry.apply(.create(spec("a", 1), tenant: 1), now: at(1))
                == .conflict(reason: "a version 1 already exists"))
        #expect(
            registry.apply(.delete(name: "a", version: 1, tenant: 1), now: at(2)) == .deleted(name: "a", version: 1))
        #expect(registry.apply(.create(spec("c", 1), tenant: 1), now: at(3)).carried != nil)
    }

    // MARK: - Get

    @Test func getAnswersOnlyTheOwner() {
        var registry = Self.registry()
        let stored = registry.record(name: "resnet", version: 1)!
        #expect(registry.apply(.get(name: "resnet", version: 1, tenant: 1), now: at(9)) == .record(stored))
        #expect(registry.apply(.get(name: "resnet", version: 2, tenant: 1), now: at(9)) == .notFound)
        #expect(registry.apply(.get(name: "resnet", version: 1, tenant: 2), now: at(9)) == .notFound)
        #expect(registry.apply(.get(name: "other", version: 1, tenant: 1), now: at(9)) == .notFound)
        #expect(registry.record(name: "resnet", version: 1) == stored)
    }

    // MARK: - Update

    @Test func updateReplacesTheNamedFieldsAndBumpsTheVersion() {
        var registry = Self.registry()
        let before = registry.record(name: "resnet", version: 1)!
        let labels = [Label(key: "team", value: "vision"), Label(key: "env", value: "prod")]
        let reply = registry.apply(
            .update(name: "resnet", version: 1, tenant: 1, ifMatch: 1, endpoints: ["a:1", "b:1"], labels: labels),
            now: at(20))
        var expected = before
        expected.spec.endpoints = ["a:1", "b:1"]
        expected.spec.labels = [Label(key: "env", value: "prod"), Label(key: "team", value: "vision")]
        expected.resourceVersion = 2
        expected.updatedAt = at(20)
        #expect(reply == .updated(expected) && registry.record(name: "resnet", version: 1) == expected)
        let unconditional = registry.apply(
            .update(name: "resnet", version: 1, tenant: 1, framework: "tensorrt"), now: at(21))
        expected.spec.framework = "tensorrt"
        expected.resourceVersion = 3
        expected.updatedAt = at(21)
        #expect(unconditional == .updated(expected))
        #expect(expected.createdAt == at(1))
    }

    @Test func updateWithAStaleIfMatchFailsThePrecondition() {
        var registry = Self.registry(holding: .staging)  // resourceVersion 2
        let before = registry.allRecords
        let reply = registry.apply(
            .update(name: "resnet", version: 1, tenant: 1, ifMatch: 1, framework: "x"), now: at(9))
        #expect(reply == .preconditionFailed(current: 2) && reply.httpStatus == 412)
        #expect(
            registry.apply(.update(name: "resnet", version: 1, tenant: 1, ifMatch: 3, framework: "x"), now: at(9))
                == .preconditionFailed(current: 2))
        #expect(registry.allRecords == before)
    }

    @Test func updateOfAnotherTenantsVersionIsNotFound() {
        var registry = Self.registry()
        let before = registry.allRecords
        for ifMatch in [nil, 1, 5] {
            let reply = registry.apply(
                .update(name: "resnet", version: 1, tenant: 2, ifMatch: ifMatch, framework: "x"), now: at(9))
            #expect(reply == .notFound)
        }
        #expect(registry.apply(.update(name: "nope", version: 1, tenant: 1, framework: "x"), now: at(9)) == .notFound)
        #expect(registry.allRecords == before)
    }

    @Test func updateValidationNamesTheExactField() {
        var registry = Self.registry()
        let before = registry.allRecords
        let cases: [(RegistryCommand, String)] = [
            (.update(name: "resnet", version: 1, tenant: 1), ""),
            (.update(name: "resnet", version: 1, tenant: 1, framework: ""), "framework"),
            (.update(name: "resnet", version: 1, tenant: 1, endpoints: []), "endpoints"),
            (.update(name: "resnet", version: 1, tenant: 1, endpoints: ["a", "b", ""]), "endpoints[2]"),
            (
                .update(
                    name: "resnet", version: 1, tenant: 1,
                    labels: [Label(key: "ok", value: ""), Label(key: "B", value: "")]),
                "labels[1].key"
            ),
        ]
        for (command, field) in cases {
            let reply = registry.apply(command, now: at(9))
            guard case .invalid(let named, _) = reply else {
                Issue.record("expected invalid \(field), got \(reply)")
                continue
            }
            #expect(named == field)
        }
        #expect(registry.allRecords == before)
    }

    // MARK: - Transition

    @Test func everyListedEdgeAppliesAndEveryOtherPairIsRefused() {
        for from in VersionState.allCases {
            for to in VersionState.allCases {
                var registry = Self.registry(holding: from)
                let before = registry.record(name: "resnet", version: 1)!
                let reply = registry.apply(.transition(name: "resnet", version: 1, to: to, tenant: 1), now: at(50))
                if allowedEdges.contains(where: { $0.0 == from && $0.1 == to }) {
                    var expected = before
                    expected.state = to
                    expected.resourceVersion += 1
                    expected.updatedAt = at(50)
                    #expect(reply == .updated(expected), "\(from.name) -> \(to.name)")
                } else if from == to {
                    #expect(reply == .illegalTransition(reason: "resnet version 1 is already \(to.name)"))
                } else {
                    #expect(
                        reply
                            == .illegalTransition(
                                reason: "resnet version 1 cannot move from \(from.name) to \(to.name)"))
                    #expect(registry.record(name: "resnet", version: 1) == before)
                }
            }
        }
    }

    @Test func aModelHasAtMostOneCanary() {
        var registry = Self.registry(holding: .canary, version: 1)
        registry = Self.registry(holding: .staging, version: 2, into: registry)
        let before = registry.allRecords
        let refused = registry.apply(.transition(name: "resnet", version: 2, to: .canary, tenant: 1), now: at(30))
        #expect(
            refused
                == .illegalTransition(
                    reason:
                        "resnet already has a canary, version 1; promote it or roll it back first"))
        #expect(registry.allRecords == before)
        // Another model's canary is no obstacle.
        registry = Self.registry(holding: .canary, name: "bert", into: registry)
        _ = registry.apply(.transition(name: "resnet", version: 1, to: .staging, tenant: 1), now: at(31))
        #expect(
            registry.apply(.transition(name: "resnet", version: 2, to: .canary, tenant: 1), now: at(32)).carried?.state
                == .canary)
    }

    @Test func aModelMayServeSeveralVersions() {
        var registry = Self.registry(holding: .serving, version: 1)
        registry = Self.registry(holding: .serving, version: 2, into: registry)
        #expect(registry.allRecords.map(\.state) == [.serving, .serving])
    }

    @Test func transitionChecksOwnerThenIfMatch() {
        var registry = Self.registry(holding: .staging)  // resourceVersion 2
        let before = registry.allRecords
        #expect(
            registry.apply(.transition(name: "resnet", version: 1, to: .serving, tenant: 2, ifMatch: 2), now: at(9))
                == .notFound)
        #expect(
            registry.apply(.transition(name: "resnet", version: 1, to: .serving, tenant: 1, ifMatch: 1), now: at(9))
                == .preconditionFailed(current: 2))
        // The precondition is checked before the lifecycle, as HTTP orders 412 before 409.
        #expect(
            registry.apply(.transition(name: "resnet", version: 1, to: .staging, tenant: 1, ifMatch: 1), now: at(9))
                == .preconditionFailed(current: 2))
        #expect(registry.allRecords == before)
        let applied = registry.apply(
            .transition(name: "resnet", version: 1, to: .serving, tenant: 1, ifMatch: 2), now: at(9))
        #expect(applied.carried?.resourceVersion == 3 && applied.carried?.state == .serving)
    }

    // MARK: - Delete

    @Test func deleteRemovesVersionsThatTakeNoTraffic() {
        for state in VersionState.allCases {
            var registry = Self.registry(holding: state)
            let before = registry.allRecords
            let reply = registry.apply(.delete(name: "resnet", version: 1, tenant: 1), now: at(40))
            if state == .canary || state == .serving {
                #expect(reply.httpStatus == 409 && reply.reason.contains(state.name))
                guard case .illegalTransition = reply else {
                    Issue.record("deleting a \(state.name) version answered \(reply)")
                    continue
                }
                #expect(registry.allRecords == before)
            } else {
                #expect(reply == .deleted(name: "resnet", version: 1))
                #expect(registry.apply(.get(name: "resnet", version: 1, tenant: 1), now: at(41)) == .notFound)
                #expect(registry.versionCount == 0)
            }
        }
    }

    @Test func deleteChecksOwnerThenIfMatch() {
        var registry = Self.registry()
        let before = registry.allRecords
        #expect(registry.apply(.delete(name: "resnet", version: 1, tenant: 2), now: at(9)) == .notFound)
        #expect(registry.apply(.delete(name: "resnet", version: 1, tenant: 2, ifMatch: 1), now: at(9)) == .notFound)
        #expect(
            registry.apply(.delete(name: "resnet", version: 1, tenant: 1, ifMatch: 2), now: at(9))
                == .preconditionFailed(current: 1))
        #expect(registry.apply(.delete(name: "resnet", version: 3, tenant: 1), now: at(9)) == .notFound)
        #expect(registry.allRecords == before)
        #expect(
            registry.apply(.delete(name: "resnet", version: 1, tenant: 1, ifMatch: 1), now: at(9))
                == .deleted(name: "resnet", version: 1))
    }

    @Test func aDeletedNameCanBeTakenByAnotherTenant() {
        var registry = Self.registry()
        _ = registry.apply(.delete(name: "resnet", version: 1, tenant: 1), now: at(9))
        let reply = registry.apply(.create(spec(), tenant: 2), now: at(10))
        #expect(reply == .created(ModelVersionRecord(spec: spec(), tenant: 2, now: at(10))))
        #expect(registry.apply(.get(name: "resnet", version: 1, tenant: 1), now: at(11)) == .notFound)
    }

    // MARK: - List

    /// Five versions of tenant 1 created out of order, and tenant 2's versions in between them.
    static func listedRegistry() -> RegistryModel {
        var registry = RegistryModel()
        let versions: [(String, Int, Int, [String: String])] = [
            ("bert", 2, 1, ["env": "prod"]), ("alpha", 1, 1, [:]), ("bert", 1, 1, ["env": "dev"]),
            ("bert-large", 1, 2, ["env": "prod"]), ("bert", 10, 1, ["env": "prod"]), ("clip", 1, 1, ["env": "prod"]),
            ("ant", 1, 2, [:]), ("zeta", 4, 2, ["env": "prod"]),
        ]
        for (name, version, tenant, labels) in versions {
            let reply = registry.apply(.create(spec(name, version, labels: labels), tenant: tenant), now: at(1))
            precondition(reply.carried != nil, "\(reply)")
        }
        _ = registry.apply(.transition(name: "bert", version: 10, to: .staging, tenant: 1), now: at(2))
        _ = registry.apply(.transition(name: "clip", version: 1, to: .staging, tenant: 1), now: at(2))
        return registry
    }

    /// Every page of `query` for `tenant`, following `next` until it is nil.
    static func walk(_ registry: inout RegistryModel, _ query: RegistryQuery, tenant: Int) -> [[String]] {
        var pages: [[String]] = []
        var query = query
        while pages.count < 20 {
            guard case .page(let records, let next) = registry.apply(.list(query, tenant: tenant), now: at(3)) else {
                Issue.record("list did not answer a page")
                return pages
            }
            pages.append(records.map { "\($0.spec.name)@\($0.spec.version)" })
            #expect(next == (next == nil ? nil : records.last?.cursor))
            guard let next else { return pages }
            query.after = next
        }
        return pages
    }

    @Test func listingWalksAllPagesInNameThenVersionOrder() {
        var registry = Self.listedRegistry()
        let pages = Self.walk(&registry, RegistryQuery(limit: 2), tenant: 1)
        #expect(pages == [["alpha@1", "bert@1"], ["bert@2", "bert@10"], ["clip@1"]])
        #expect(Self.walk(&registry, RegistryQuery(limit: 2), tenant: 2) == [["ant@1", "bert-large@1"], ["zeta@4"]])
        #expect(Self.walk(&registry, RegistryQuery(limit: 500), tenant: 1).count == 1)
        #expect(Self.walk(&registry, RegistryQuery(limit: 1), tenant: 3) == [[]])
    }

    @Test func aFullLastPageHasNoNextCursor() {
        var registry = Self.listedRegistry()
        let query = RegistryQuery(namePrefix: "bert", limit: 3)
        let reply = registry.apply(.list(query, tenant: 1), now: at(3))
        guard case .page(let records, let next) = reply else {
            Issue.record("\(reply)")
            return
        }
        #expect(records.map(\.spec.version) == [1, 2, 10] && next == nil)
    }

    @Test func listingFiltersByPrefixStateAndLabelAcrossPages() {
        var registry = Self.listedRegistry()
        let prod = Label(key: "env", value: "prod")
        #expect(
            Self.walk(&registry, RegistryQuery(label: prod, limit: 2), tenant: 1)
                == [["bert@2", "bert@10"], ["clip@1"]])
        #expect(
            Self.walk(&registry, RegistryQuery(namePrefix: "bert", limit: 2), tenant: 1)
                == [["bert@1", "bert@2"], ["bert@10"]])
        #expect(
            Self.walk(&registry, RegistryQuery(namePrefix: "bert", state: .staging, limit: 2), tenant: 1)
                == [["bert@10"]])
        #expect(
            Self.walk(&registry, RegistryQuery(state: .staging, label: prod, limit: 1), tenant: 1)
                == [["bert@10"], ["clip@1"]])
        #expect(
            Self.walk(&registry, RegistryQuery(namePrefix: "b", label: prod, limit: 2), tenant: 2)
                == [["bert-large@1"]])
        #expect(Self.walk(&registry, RegistryQuery(namePrefix: "zz", limit: 2), tenant: 2) == [[]])
    }

    @Test func listingResumesAfterAnyCursor() {
        var registry = Self.listedRegistry()
        // A cursor that names no stored version (deleted meanwhile, or another tenant's) still resumes in order.
        let after = RegistryCursor(name: "bert", version: 5)
        #expect(Self.walk(&registry, RegistryQuery(after: after, limit: 2), tenant: 1) == [["bert@10", "clip@1"]])
        let past = RegistryCursor(name: "zzz", version: 1)
        #expect(
            registry.apply(.list(RegistryQuery(after: past, limit: 2), tenant: 1), now: at(3)) == .page([], next: nil))
    }

    @Test func listingNeedsALimitFromOneToFiveHundred() {
        var registry = Self.listedRegistry()
        for limit in [0, -1, 501] {
            let reply = registry.apply(.list(RegistryQuery(limit: limit), tenant: 1), now: at(3))
            #expect(reply == .invalid(field: "limit", reason: "must be between 1 and 500; got \(limit)"))
        }
    }

    @Test func namesSortByBytes() {
        var registry = RegistryModel()
        for name in ["b", "ab", "a.b", "a", "a-b", "a_b", "a0"] {
            _ = registry.apply(.create(spec(name, 1), tenant: 1), now: at(1))
        }
        #expect(registry.allRecords.map(\.spec.name) == ["a", "a-b", "a.b", "a0", "a_b", "ab", "b"])
        #expect(RegistryCursor(name: "a", version: 9) < RegistryCursor(name: "a-b", version: 1))
        #expect(RegistryCursor(name: "a", version: 2) < RegistryCursor(name: "a", version: 10))
    }
}
