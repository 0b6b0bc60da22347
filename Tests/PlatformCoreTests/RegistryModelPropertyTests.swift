// Seeded property test of the model registry: random commands from three tenants sharing a few model
// names (name conflicts, stale If-Match values, every lifecycle target, filtered listings) checked after
// every step against the rules as this file states them, independently of the model's own code.

import PlatformCore
import Testing

/// One broken invariant, named so a failure says which rule broke.
struct RegistryViolation: Sendable, CustomStringConvertible {
    /// Which invariant broke.
    enum Kind: String, Sendable {
        case illegalMove, writeBookkeeping, unexpectedChange, twoCanaries, tenantLeak, listing, order
        case replyMismatch, wrongRefusal
    }
    var kind: Kind
    var message: String
    var description: String { "\(kind.rawValue): \(message)" }
}

extension RegistryReply {
    /// Every record an answer carries.
    fileprivate var carriedRecords: [ModelVersionRecord] {
        switch self {
        case .created(let record), .record(let record), .updated(let record): [record]
        case .page(let records, _): records
        case .deleted, .notFound, .conflict, .preconditionFailed, .illegalTransition, .invalid, .full: []
        }
    }

    /// The case's name, to count which answers a run reached.
    fileprivate var caseName: String {
        switch self {
        case .created: "created"
        case .record: "record"
        case .page: "page"
        case .updated: "updated"
        case .deleted: "deleted"
        case .notFound: "notFound"
        case .conflict: "conflict"
        case .preconditionFailed: "preconditionFailed"
        case .illegalTransition: "illegalTransition"
        case .invalid: "invalid"
        case .full: "full"
        }
    }
}

/// Drives one seeded run and records every violation, each naming its seed.
struct RegistryRun {
    /// Names sharing prefixes, so prefix filters and byte order are exercised.
    static let names = ["alpha", "alpha-2", "alphabet", "beta", "b"]
    /// The lifecycle edges the registry must allow, as the issue lists them.
    static let allowedEdges: [(VersionState, VersionState)] = [
        (.registered, .staging), (.registered, .archived), (.staging, .canary), (.staging, .serving),
        (.staging, .archived), (.canary, .serving), (.canary, .staging), (.serving, .deprecated),
        (.deprecated, .serving), (.deprecated, .archived),
    ]

    let seed: UInt64
    var random: SeededRandom
    var registry: RegistryModel
    var now = Instant(nanoseconds: 1_000_000_000)
    /// The registry as it was before the step being checked.
    var previous: RegistryModel
    var context: (step: Int, command: RegistryCommand, reply: RegistryReply)?
    var kindsSeen: Set<RegistryViolation.Kind> = []
    var violations: [RegistryViolation] = []
    /// How often each reply case was seen.
    var replies: [String: Int] = [:]

    init(seed: UInt64, configuration: RegistryModel.Configuration) {
        self.seed = seed
        random = SeededRandom(seed: seed)
        registry = RegistryModel(configuration: configuration)
        previous = registry
    }

    static func allows(_ from: VersionState, _ to: VersionState) -> Bool {
        allowedEdges.contains { $0.0 == from && $0.1 == to }
    }

    /// (name bytes, version) order, stated here rather than borrowed from `RegistryCursor`.
    static func precedes(_ lhs: RegistryCursor, _ rhs: RegistryCursor) -> Bool {
        let left = Array(lhs.name.utf8)
        let right = Array(rhs.name.utf8)
        return left == right ? lhs.version < rhs.version : left.lexicographicallyPrecedes(right)
    }

    static func key(_ record: ModelVersionRecord) -> String { "\(record.spec.name)@\(record.spec.version)" }

    mutating func record(_ kind: RegistryViolation.Kind, _ what: String) {
        kindsSeen.insert(kind)
        guard violations.count < 5 else { return }
        let step = context.map { "step \($0.step): \($0.command) -> \($0.reply)" } ?? "before any step"
        violations.append(RegistryViolation(kind: kind, message: "\(what) at \(step) (reproduce with seed=\(seed))"))
    }

    mutating func run(steps: Int) {
        for step in 0..<steps {
            now = now + .milliseconds(random.between(1, 2_000))
            let command = nextCommand()
            previous = registry
            let reply = registry.apply(command, now: now)
            replies[reply.caseName, default: 0] += 1
            context = (step, command, reply)
            check(command, reply)
        }
    }

    // MARK: - Commands

    mutating func pick<T>(_ values: [T]) -> T { values[random.below(values.count)] }

    mutating func nextCommand() -> RegistryCommand {
        let name = pick(Self.names)
        let version = 1 + random.below(4)
        let existing = registry.record(name: name, version: version)
        // Mostly the owner, so writes apply; sometimes anyone, so isolation is tried.
        let tenant = existing != nil && random.below(10) < 7 ? existing!.tenant : 1 + random.below(3)
        let current = existing?.resourceVersion ?? 1
        let ifMatch: Int? = pick([nil, nil, current, current, current - 1, current + 1])
        switch random.below(100) {
        case 0..<22:
            return .create(randomSpec(name: name, version: version), tenant: tenant)
        case 22..<30:
            return .get(name: name, version: version, tenant: tenant)
        case 30..<45:
            return .list(randomQuery(), tenant: 1 + random.below(3))
        case 45..<57:
            let framework: String? = pick([nil, "onnxruntime", "pytorch", ""])
            let endpoints: [String]? = pick([nil, ["a:1"], ["a:1", "b:2"], []])
            let labels: [Label]? = random.below(2) == 0 ? nil : randomLabels()
            return .update(
                name: name, version: version, tenant: tenant, ifMatch: ifMatch, framework: framework,
                endpoints: endpoints, labels: labels)
        case 57..<88:
            // Usually an edge the lifecycle allows from where the version is, so versions travel far.
            let successors = VersionState.allCases.filter { Self.allows(existing?.state ?? .registered, $0) }
            let target = random.below(10) < 6 && !successors.isEmpty ? pick(successors) : pick(VersionState.allCases)
            return .transition(name: name, version: version, to: target, tenant: tenant, ifMatch: ifMatch)
        default:
            return .delete(name: name, version: version, tenant: tenant, ifMatch: ifMatch)
        }
    }

    mutating func randomLabels() -> [Label] {
        var labels: [Label] = []
        if random.below(2) == 0 { labels.append(Label(key: "env", value: pick(["prod", "dev"]))) }
        if random.below(2) == 0 { labels.append(Label(key: "team", value: pick(["a", "b"]))) }
        if random.below(20) == 0 { labels.append(Label(key: "Bad", value: "")) }
        return labels
    }

    mutating func randomSpec(name: String, version: Int) -> ModelVersionSpec {
        var spec = ModelVersionSpec(
            name: name, version: version, framework: pick(["onnxruntime", "pytorch"]),
            endpoints: Array(["triton-0:8001", "triton-1:8001"].prefix(1 + random.below(2))),
            inputs: [
                TensorSchema(name: "x", datatype: pick(TensorDatatype.allCases), shape: [-1, 1 + random.below(8)])
            ],
            outputs: [TensorSchema(name: "y", datatype: .fp32, shape: [-1])])
        spec.labels = randomLabels()
        switch random.below(16) {
        case 0: spec.framework = ""
        case 1: spec.inputs[0].shape = [0]
        case 2: spec.endpoints = []
        default: break
        }
        return spec
    }

    mutating func randomQuery() -> RegistryQuery {
        let label: Label? = random.below(3) == 0 ? Label(key: pick(["env", "team"]), value: pick(["prod", "a"])) : nil
        let after: RegistryCursor? =
            random.below(3) == 0 ? RegistryCursor(name: pick(Self.names), version: random.below(6)) : nil
        return RegistryQuery(
            namePrefix: pick([nil, nil, "alpha", "b", "alphab", "zz"]),
            state: random.below(3) == 0 ? pick(VersionState.allCases) : nil,
            label: label, after: after, limit: random.below(30) == 0 ? 0 : 1 + random.below(4))
    }

    // MARK: - Checks

    mutating func check(_ command: RegistryCommand, _ reply: RegistryReply) {
        let records = registry.allRecords
        for index in records.indices.dropFirst() where !Self.precedes(records[index - 1].cursor, records[index].cursor)
        {
            record(.order, "\(Self.key(records[index - 1])) is stored before \(Self.key(records[index]))")
        }
        var canaries: Set<String> = []
        for stored in records where stored.state == .canary && !canaries.insert(stored.spec.name).inserted {
            record(.twoCanaries, "\(stored.spec.name) has two canary versions")
        }
        let (target, tenant) = Self.target(of: command)
        for carried in reply.carriedRecords where carried.tenant != tenant {
            record(.tenantLeak, "tenant \(tenant) was shown \(Self.key(carried)) of tenant \(carried.tenant)")
        }
        checkChanges(reply, target: target, tenant: tenant)
        let before = target.flatMap { previous.record(name: $0.name, version: $0.version) }
        switch command {
        case .create(let spec, _):
            checkCreate(spec, reply, tenant: tenant)
        case .list(let query, _):
            checkListing(query, reply, tenant: tenant)
        case .get, .update, .transition, .delete:
            guard let before, before.tenant == tenant else {
                if reply != .notFound && reply.caseName != "invalid" {
                    record(before == nil ? .replyMismatch : .tenantLeak, "expected notFound")
                }
                return
            }
            checkOwned(command, reply, before: before)
        }
    }

    /// The version a command names and the tenant it acts for.
    static func target(of command: RegistryCommand) -> (RegistryCursor?, Int) {
        switch command {
        case .create(let spec, let tenant): (RegistryCursor(name: spec.name, version: spec.version), tenant)
        case .list(_, let tenant): (nil, tenant)
        case .get(let name, let version, let tenant), .update(let name, let version, let tenant, _, _, _, _),
            .transition(let name, let version, _, let tenant, _), .delete(let name, let version, let tenant, _):
            (RegistryCursor(name: name, version: version), tenant)
        }
    }

    /// Only the target changes, only as the reply says, with the write bookkeeping and along an allowed edge.
    mutating func checkChanges(_ reply: RegistryReply, target: RegistryCursor?, tenant: Int) {
        let targetKey = target.map { "\($0.name)@\($0.version)" }
        let after = registry.allRecords.filter { Self.key($0) != targetKey }
        let before = previous.allRecords.filter { Self.key($0) != targetKey }
        if after != before { record(.unexpectedChange, "a version other than the one named changed") }
        let old = target.flatMap { previous.record(name: $0.name, version: $0.version) }
        let new = target.flatMap { registry.record(name: $0.name, version: $0.version) }
        switch reply {
        case .created(let created):
            guard old == nil, let new, created == new else { return record(.replyMismatch, "created differs") }
            if new.resourceVersion != 1 || new.createdAt != now || new.updatedAt != now || new.state != .registered
                || new.tenant != tenant
            {
                record(.writeBookkeeping, "a new record starts at resourceVersion 1, now, registered, its tenant")
            }
        case .updated(let updated):
            guard let old, let new, updated == new else { return record(.replyMismatch, "updated differs") }
            if new.resourceVersion != old.resourceVersion + 1 || new.updatedAt != now || new.createdAt != old.createdAt
            {
                record(.writeBookkeeping, "resourceVersion \(old.resourceVersion) -> \(new.resourceVersion)")
            }
            if new.cursor != old.cursor || new.tenant != old.tenant { record(.unexpectedChange, "key or owner moved") }
            if new.state != old.state && !Self.allows(old.state, new.state) {
                record(.illegalMove, "\(Self.key(new)) moved \(old.state.name) -> \(new.state.name)")
            }
        case .deleted:
            if old == nil || new != nil { record(.replyMismatch, "deleted, but the version was not removed") }
        case .record, .page, .notFound, .conflict, .preconditionFailed, .illegalTransition, .invalid, .full:
            if old != new { record(.unexpectedChange, "\(reply.caseName) changed the version") }
        }
    }

    mutating func checkCreate(_ spec: ModelVersionSpec, _ reply: RegistryReply, tenant: Int) {
        let sameName = previous.allRecords.filter { $0.spec.name == spec.name }
        let taken = sameName.contains { $0.spec.version == spec.version }
        let ownedByOther = sameName.contains { $0.tenant != tenant }
        switch reply {
        case .created:
            if taken || ownedByOther || previous.versionCount >= registry.configuration.versionsMax {
                record(.replyMismatch, "created a version that was taken, another tenant's name, or beyond the limit")
            }
        case .conflict(let reason):
            if !taken && !ownedByOther { record(.wrongRefusal, "conflict on a free name and version") }
            guard ownedByOther else { return }
            // The reason must not depend on what the other tenant holds: probe with a version nobody has.
            var probe = previous
            var unheardOf = spec
            unheardOf.version = 999
            if probe.apply(.create(unheardOf, tenant: tenant), now: now) != .conflict(reason: reason) {
                record(.tenantLeak, "the conflict reason depends on the other tenant's versions")
            }
        case .full:
            if previous.versionCount < registry.configuration.versionsMax { record(.wrongRefusal, "full too early") }
        case .invalid:
            break  // validation paths are checked one by one in RegistryModelTests
        case .record, .page, .updated, .deleted, .notFound, .preconditionFailed, .illegalTransition:
            record(.replyMismatch, "create answered \(reply.caseName)")
        }
    }

    /// Reads, writes and refusals on a version the acting tenant owns, against the rules stated here.
    mutating func checkOwned(_ command: RegistryCommand, _ reply: RegistryReply, before: ModelVersionRecord) {
        var expected: String
        switch command {
        case .get:
            expected = "record"
        case .update(_, _, _, let ifMatch, let framework, let endpoints, let labels):
            let empty = framework == nil && endpoints == nil && labels == nil
            let bad = framework == "" || endpoints == [] || labels?.contains { $0.key == "Bad" } == true
            expected = empty || bad ? "invalid" : Self.stale(ifMatch, before) ? "preconditionFailed" : "updated"
        case .transition(let name, _, let next, _, let ifMatch):
            let otherCanary = previous.allRecords.contains {
                $0.spec.name == name && $0.state == .canary && $0.cursor != before.cursor
            }
            let legal = Self.allows(before.state, next) && !(next == .canary && otherCanary)
            expected = Self.stale(ifMatch, before) ? "preconditionFailed" : legal ? "updated" : "illegalTransition"
        case .delete(_, _, _, let ifMatch):
            let inUse = before.state == .canary || before.state == .serving
            expected = Self.stale(ifMatch, before) ? "preconditionFailed" : inUse ? "illegalTransition" : "deleted"
        case .create, .list:
            return
        }
        if reply.caseName != expected { record(.wrongRefusal, "expected \(expected)") }
        if case .preconditionFailed(let current) = reply, current != before.resourceVersion {
            record(.replyMismatch, "412 named \(current), not \(before.resourceVersion)")
        }
        if case .record(let read) = reply, read != before { record(.replyMismatch, "get answered another record") }
    }

    static func stale(_ ifMatch: Int?, _ record: ModelVersionRecord) -> Bool {
        ifMatch.map { $0 != record.resourceVersion } ?? false
    }

    /// The page is the next `limit` of the filtered set after the cursor, and walking every page from the start
    /// gives the whole filtered set, sorted, without overlap.
    mutating func checkListing(_ query: RegistryQuery, _ reply: RegistryReply, tenant: Int) {
        let filtered = previous.allRecords.filter { stored in
            stored.tenant == tenant && query.namePrefix.map { stored.spec.name.utf8.starts(with: $0.utf8) } ?? true
                && query.state.map { stored.state == $0 } ?? true
                && query.label.map { stored.spec.labels.contains($0) } ?? true
        }.sorted { Self.precedes($0.cursor, $1.cursor) }
        guard query.limit >= 1 && query.limit <= 500 else {
            if reply.caseName != "invalid" { record(.listing, "a limit of \(query.limit) was accepted") }
            return
        }
        let remaining = filtered.filter { stored in query.after.map { Self.precedes($0, stored.cursor) } ?? true }
        let page = Array(remaining.prefix(query.limit))
        let next = remaining.count > query.limit ? page.last?.cursor : nil
        if reply != .page(page, next: next) {
            record(.listing, "expected page \(page.map(Self.key)) next \(String(describing: next))")
        }
        var walked: [ModelVersionRecord] = []
        var walking = query
        walking.after = nil
        var probe = previous
        for _ in 0...(filtered.count / query.limit + 1) {
            guard case .page(let records, let next) = probe.apply(.list(walking, tenant: tenant), now: now) else {
                return record(.listing, "a walk answered no page")
            }
            for index in records.indices.dropFirst()
            where !Self.precedes(records[index - 1].cursor, records[index].cursor) {
                record(.listing, "a page is not sorted")
            }
            if let last = walked.last, let first = records.first, !Self.precedes(last.cursor, first.cursor) {
                record(.listing, "pages overlap or go back")
            }
            walked += records
            guard let next else { break }
            walking.after = next
        }
        if walked != filtered { record(.listing, "the pages together are not the filtered set") }
    }

    /// The kinds of violation seeds 1...100 produce, the first few in full, and the replies seen.
    static func survey(
        configuration: RegistryModel.Configuration, steps: Int = 200
    ) -> (kinds: Set<RegistryViolation.Kind>, examples: [RegistryViolation], replies: [String: Int]) {
        var kinds: Set<RegistryViolation.Kind> = []
        var examples: [RegistryViolation] = []
        var replies: [String: Int] = [:]
        for seed in UInt64(1)...100 {
            var run = RegistryRun(seed: seed, configuration: configuration)
            run.run(steps: steps)
            kinds.formUnion(run.kindsSeen)
            examples += run.violations.prefix(10 - examples.count)
            replies.merge(run.replies, uniquingKeysWith: +)
        }
        return (kinds, examples, replies)
    }
}

@Suite struct RegistryModelPropertyTests {
    /// Small enough that `.full` is reached: five names times four versions would be twenty.
    static var smallRegistry: RegistryModel.Configuration {
        var configuration = RegistryModel.Configuration()
        configuration.versionsMax = 12
        return configuration
    }

    @Test func invariantsHoldForSeededRandomCommandSequences() {
        let survey = RegistryRun.survey(configuration: Self.smallRegistry)
        for violation in survey.examples { Issue.record("\(violation)") }
        #expect(survey.kinds.isEmpty)
        // Every answer the registry can give was reached, so no check above is vacuous.
        let all = [
            "created", "record", "page", "updated", "deleted", "notFound", "conflict", "preconditionFailed",
            "illegalTransition", "invalid", "full",
        ]
        for name in all { #expect(survey.replies[name, default: 0] > 0, "no \(name) reply in 100 seeds") }
    }

    @Test func sameSeedGivesTheSameRegistry() {
        var first = RegistryRun(seed: 77, configuration: Self.smallRegistry)
        var second = RegistryRun(seed: 77, configuration: Self.smallRegistry)
        first.run(steps: 300)
        second.run(steps: 300)
        #expect(first.registry.allRecords == second.registry.allRecords && first.registry.versionCount > 0)
    }
}
