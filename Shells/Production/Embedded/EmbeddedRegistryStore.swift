// The embedded model registry: the core's `RegistryModel` decides, SQLite remembers. As with the job table,
// the model cannot be rebuilt from its records through its public API (a record's resource version and
// timestamps can only come from replaying the writes that made them), so every applied write is logged
// and replayed on open. Registry writes are rare (operators, deployments), so the log stays small. The
// `model_versions` table holds the records as they stand, for operators and to check the replay.

import PlatformCore

/// The durable registry. Owned by one store thread; not thread-safe.
public final class EmbeddedRegistryStore {
    public private(set) var model: RegistryModel
    private let database: SQLiteDatabase
    private let configuration: RegistryModel.Configuration
    private let appendLog: SQLiteStatement
    private let upsertRow: SQLiteStatement
    private let deleteRow: SQLiteStatement

    public init(database: SQLiteDatabase, configuration: RegistryModel.Configuration = .init()) throws {
        self.database = database
        self.configuration = configuration
        try database.execute(
            """
            CREATE TABLE IF NOT EXISTS registry_log (
                sequence INTEGER PRIMARY KEY, at_ns INTEGER NOT NULL, command BLOB NOT NULL);
            CREATE TABLE IF NOT EXISTS model_versions (
                name TEXT NOT NULL, version INTEGER NOT NULL, tenant INTEGER NOT NULL, state TEXT NOT NULL,
                resource_version INTEGER NOT NULL, created_at_ns INTEGER NOT NULL, updated_at_ns INTEGER NOT NULL,
                spec BLOB NOT NULL, PRIMARY KEY (name, version));
            """)
        appendLog = try database.prepare("INSERT INTO registry_log (at_ns, command) VALUES (?, ?)")
        upsertRow = try database.prepare(
            """
            INSERT OR REPLACE INTO model_versions
                (name, version, tenant, state, resource_version, created_at_ns, updated_at_ns, spec)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """)
        deleteRow = try database.prepare("DELETE FROM model_versions WHERE name = ? AND version = ?")
        model = RegistryModel(configuration: configuration)
        try rebuild()
    }

    /// Applies `command` at `now`; a write that applied is committed before the reply is returned. On a
    /// throw the model is rebuilt from disk and the command counts as not applied (or unknown, on COMMIT).
    public func apply(_ command: RegistryCommand, now: Instant) throws -> RegistryReply {
        let reply = model.apply(command, now: now)
        guard Self.changes(reply) else { return reply }
        do {
            try database.transaction {
                try appendLog.run([.integer(now.nanoseconds), .blob(Self.encode(command))])
                switch reply {
                case .created(let record), .updated(let record):
                    try upsertRow.run(Self.values(record))
                case .deleted(let name, let version):
                    try deleteRow.run([.text(name), .integer(Int64(version))])
                case .record, .page, .notFound, .conflict, .preconditionFailed, .illegalTransition, .invalid, .full:
                    break
                }
            }
        } catch {
            model = RegistryModel(configuration: configuration)
            try rebuild()
            throw error
        }
        return reply
    }

    static func changes(_ reply: RegistryReply) -> Bool {
        switch reply {
        case .created, .updated, .deleted: true
        case .record, .page, .notFound, .conflict, .preconditionFailed, .illegalTransition, .invalid, .full: false
        }
    }

    private func rebuild() throws {
        let entries = try database.prepare("SELECT sequence, at_ns, command FROM registry_log ORDER BY sequence")
        try entries.bind([])
        while try entries.step() {
            let sequence = entries.int64(0)
            let command: RegistryCommand
            do {
                command = try Self.decode(entries.blob(2))
            } catch let failure as LogReader.Failure {
                throw LogDecodingError(table: "registry_log", sequence: sequence, reason: failure.reason)
            }
            let reply = model.apply(command, now: Instant(nanoseconds: entries.int64(1)))
            guard Self.changes(reply) else {
                throw EmbeddedStoreError.diverged(
                    table: "model_versions", detail: "log entry \(sequence) no longer applies: \(reply)")
            }
        }
        let rows = try database.prepare(
            """
            SELECT name, version, tenant, state, resource_version, created_at_ns, updated_at_ns, spec
            FROM model_versions ORDER BY name, version
            """)
        let stored = try rows.rows([]) { row in
            try Self.record(row)
                ?? { throw EmbeddedStoreError.damagedRow(table: "model_versions", key: row.string(0)) }()
        }
        guard stored == model.allRecords else {
            let detail = "\(stored.count) rows, \(model.versionCount) versions replayed, or a row differs"
            throw EmbeddedStoreError.diverged(table: "model_versions", detail: detail)
        }
    }

    // MARK: - Rows

    private static func values(_ record: ModelVersionRecord) -> [SQLiteValue] {
        var spec = LogWriter()
        write(record.spec, to: &spec)
        return [
            .text(record.spec.name), .integer(Int64(record.spec.version)), .integer(Int64(record.tenant)),
            .text(record.state.name), .integer(Int64(record.resourceVersion)), .integer(record.createdAt.nanoseconds),
            .integer(record.updatedAt.nanoseconds), .blob(spec.bytes),
        ]
    }

    private static func record(_ row: SQLiteStatement) -> ModelVersionRecord? {
        var reader = LogReader(row.blob(7))
        guard let spec = try? readSpec(&reader), reader.isAtEnd,
            let state = VersionState.allCases.first(where: { $0.name == row.string(3) })
        else { return nil }
        var record = ModelVersionRecord(
            spec: spec, tenant: Int(row.int64(2)), now: Instant(nanoseconds: row.int64(5)))
        record.state = state
        record.resourceVersion = Int(row.int64(4))
        record.updatedAt = Instant(nanoseconds: row.int64(6))
        return record
    }

    // MARK: - Log entries

    static func encode(_ command: RegistryCommand) -> [UInt8] {
        var writer = LogWriter()
        writer.byte(1)  // format version
        switch command {
        case .create(let spec, let tenant):
            writer.byte(1)
            write(spec, to: &writer)
            writer.int(tenant)
        case .get(let name, let version, let tenant):
            writer.byte(2)
            writeKey(name, version, tenant, to: &writer)
        case .list(_, let tenant):
            // Reads are never logged; the tag keeps the switch exhaustive.
            writer.byte(3)
            writer.int(tenant)
        case .update(let name, let version, let tenant, let ifMatch, let framework, let endpoints, let labels):
            writer.byte(4)
            writeKey(name, version, tenant, to: &writer)
            writer.optional(ifMatch) { $0.int($1) }
            writer.optional(framework) { $0.string($1) }
            writer.optional(endpoints) { $0.array($1) { $0.string($1) } }
            writer.optional(labels) { $0.array($1, writeLabel) }
        case .transition(let name, let version, let next, let tenant, let ifMatch):
            writer.byte(5)
            writeKey(name, version, tenant, to: &writer)
            writer.byte(next.rawValue)
            writer.optional(ifMatch) { $0.int($1) }
        case .delete(let name, let version, let tenant, let ifMatch):
            writer.byte(6)
            writeKey(name, version, tenant, to: &writer)
            writer.optional(ifMatch) { $0.int($1) }
        }
        return writer.bytes
    }

    static func decode(_ bytes: [UInt8]) throws -> RegistryCommand {
        var reader = LogReader(bytes)
        let format = try reader.byte()
        guard format == 1 else { throw LogReader.Failure(reason: "unknown format version \(format)") }
        let tag = try reader.byte()
        let command: RegistryCommand
        switch tag {
        case 1:
            let spec = try readSpec(&reader)
            command = .create(spec, tenant: try reader.int())
        case 4:
            let (name, version, tenant) = (try reader.string(), try reader.int(), try reader.int())
            command = .update(
                name: name, version: version, tenant: tenant, ifMatch: try reader.optional { try $0.int() },
                framework: try reader.optional { try $0.string() },
                endpoints: try reader.optional { try $0.array { try $0.string() } },
                labels: try reader.optional { try $0.array(readLabel) })
        case 5:
            let (name, version, tenant) = (try reader.string(), try reader.int(), try reader.int())
            let next = try reader.raw(VersionState.self)
            command = .transition(
                name: name, version: version, to: next, tenant: tenant, ifMatch: try reader.optional { try $0.int() })
        case 6:
            let (name, version, tenant) = (try reader.string(), try reader.int(), try reader.int())
            command = .delete(
                name: name, version: version, tenant: tenant, ifMatch: try reader.optional { try $0.int() })
        default: throw LogReader.Failure(reason: "tag \(tag) is not a registry write")
        }
        guard reader.isAtEnd else { throw LogReader.Failure(reason: "trailing bytes") }
        return command
    }

    private static func writeKey(_ name: String, _ version: Int, _ tenant: Int, to writer: inout LogWriter) {
        writer.string(name)
        writer.int(version)
        writer.int(tenant)
    }

    private static func write(_ spec: ModelVersionSpec, to writer: inout LogWriter) {
        writer.string(spec.name)
        writer.int(spec.version)
        writer.string(spec.framework)
        writer.array(spec.endpoints) { $0.string($1) }
        writer.array(spec.inputs, writeTensor)
        writer.array(spec.outputs, writeTensor)
        writer.array(spec.labels, writeLabel)
    }

    private static func readSpec(_ reader: inout LogReader) throws -> ModelVersionSpec {
        let name = try reader.string()
        let version = try reader.int()
        let framework = try reader.string()
        var spec = ModelVersionSpec(
            name: name, version: version, framework: framework, endpoints: try reader.array { try $0.string() },
            inputs: try reader.array(readTensor), outputs: try reader.array(readTensor))
        // Labels keep the stored order, which the registry sorted when it stored them.
        spec.labels = try reader.array(readLabel)
        return spec
    }

    private static func writeTensor(_ writer: inout LogWriter, _ tensor: TensorSchema) {
        writer.string(tensor.name)
        writer.byte(tensor.datatype.rawValue)
        writer.array(tensor.shape) { $0.int($1) }
    }

    private static func readTensor(_ reader: inout LogReader) throws -> TensorSchema {
        TensorSchema(
            name: try reader.string(), datatype: try reader.raw(TensorDatatype.self),
            shape: try reader.array { try $0.int() })
    }

    private static func writeLabel(_ writer: inout LogWriter, _ label: Label) {
        writer.string(label.key)
        writer.string(label.value)
    }

    private static func readLabel(_ reader: inout LogReader) throws -> Label {
        Label(key: try reader.string(), value: try reader.string())
    }
}

@available(*, unavailable) extension EmbeddedRegistryStore: Sendable {}
