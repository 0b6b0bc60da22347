// A thin wrapper over one SQLite connection for the embedded stores. It is deliberately not thread-safe:
// exactly one store thread owns a connection, so no lock is taken per statement and SQLite's own mutexes
// (which we could not rely on across our threads anyway) never matter.

import CSQLite

/// A failed SQLite call: the library's message, its result code, and the SQL it was running.
public struct SQLiteError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The primary or extended result code (`SQLITE_BUSY`, `SQLITE_CONSTRAINT_UNIQUE`...).
    public var code: Int32
    /// SQLite's own explanation (`sqlite3_errmsg`), or ours for a misuse caught before calling it.
    public var message: String
    /// The statement that failed, or what was being done when no statement was involved (e.g. `open <path>`).
    public var sql: String

    public init(code: Int32, message: String, sql: String) {
        self.code = code
        self.message = message
        self.sql = sql
    }

    public var description: String { "SQLite error \(code): \(message) (while running: \(sql))" }
}

/// A value bound to a statement parameter.
public enum SQLiteValue: Sendable, Hashable {
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
    case null
}

/// One open database file.
public final class SQLiteDatabase {
    private var handle: OpaquePointer?
    /// Where the file lives, for error messages.
    public let path: String

    /// Opens (creating if needed) the database at `path` for the embedded stores.
    ///
    /// - WAL journal: readers never block the writer, and a commit appends to the log instead of rewriting
    ///   pages in place, so one fsync per transaction suffices.
    /// - `synchronous=FULL`: in WAL mode, NORMAL skips the fsync at each commit and a power loss may undo the
    ///   last transactions. Our stores reply only after their transaction commits ("acknowledged means
    ///   durable"), so the commit itself must reach the disk: FULL syncs the WAL on every commit.
    /// - busy timeout: another process (an operator's `sqlite3` shell, a backup) may hold the lock briefly;
    ///   waiting a little beats failing the command.
    public init(path: String, busyTimeoutMs: Int32 = 5_000) throws {
        self.path = path
        var opened: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let code = sqlite3_open_v2(path, &opened, flags, nil)
        guard code == SQLITE_OK, let opened else {
            let message = opened.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(opened)
            throw SQLiteError(code: code, message: message, sql: "open \(path)")
        }
        handle = opened
        sqlite3_extended_result_codes(opened, 1)
        sqlite3_busy_timeout(opened, busyTimeoutMs)
        try execute("PRAGMA journal_mode=WAL")
        try execute("PRAGMA synchronous=FULL")
        try execute("PRAGMA foreign_keys=ON")
    }

    deinit { close() }

    /// Closes the connection; later calls fail with a clear error. Closing twice is harmless.
    public func close() {
        guard let handle else { return }
        // close_v2 defers the real close until every statement is finalized, so a statement kept alive by
        // a caller cannot make this fail.
        sqlite3_close_v2(handle)
        self.handle = nil
    }

    /// Runs one or more statements that bind nothing and return no rows we need (DDL, pragmas).
    public func execute(_ sql: String) throws {
        let connection = try open(sql)
        var errorMessage: UnsafeMutablePointer<CChar>?
        let code = sqlite3_exec(connection, sql, nil, nil, &errorMessage)
        guard code == SQLITE_OK else {
            let message = errorMessage.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(connection))
            sqlite3_free(errorMessage)
            throw SQLiteError(code: code, message: message, sql: sql)
        }
    }

    /// Compiles one statement.
    public func prepare(_ sql: String) throws -> SQLiteStatement {
        let connection = try open(sql)
        var statement: OpaquePointer?
        let code = sqlite3_prepare_v2(connection, sql, -1, &statement, nil)
        guard code == SQLITE_OK, let statement else {
            throw SQLiteError(code: code, message: String(cString: sqlite3_errmsg(connection)), sql: sql)
        }
        return SQLiteStatement(statement: statement, connection: connection, sql: sql)
    }

    /// Runs `body` inside one transaction: committed when it returns, rolled back when it throws.
    /// `BEGIN IMMEDIATE` takes the write lock up front, so a busy database fails here, before any work.
    public func transaction<Result>(_ body: () throws -> Result) throws -> Result {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            // The rollback's own failure (e.g. the transaction was already rolled back by SQLite) would hide
            // the error that matters, so it is dropped.
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    public var changes: Int {
        handle.map { Int(sqlite3_changes($0)) } ?? 0
    }

    private func open(_ sql: String) throws -> OpaquePointer {
        guard let handle else {
            throw SQLiteError(code: SQLITE_MISUSE, message: "the database \(path) is closed", sql: sql)
        }
        return handle
    }
}

@available(*, unavailable) extension SQLiteDatabase: Sendable {}

/// A compiled statement, reusable: bind, step through rows, reset.
public final class SQLiteStatement {
    private let statement: OpaquePointer
    private let connection: OpaquePointer
    /// The statement's text, carried into every error.
    public let sql: String

    fileprivate init(statement: OpaquePointer, connection: OpaquePointer, sql: String) {
        self.statement = statement
        self.connection = connection
        self.sql = sql
    }

    deinit { sqlite3_finalize(statement) }

    /// Binds `values` to parameters 1, 2, 3... after clearing the previous run.
    @discardableResult
    public func bind(_ values: [SQLiteValue]) throws -> SQLiteStatement {
        sqlite3_reset(statement)
        sqlite3_clear_bindings(statement)
        let expected = Int(sqlite3_bind_parameter_count(statement))
        guard values.count == expected else {
            let message = "expected \(expected) bound values, got \(values.count)"
            throw SQLiteError(code: SQLITE_RANGE, message: message, sql: sql)
        }
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let code: Int32
            switch value {
            case .integer(let integer): code = sqlite3_bind_int64(statement, index, integer)
            case .real(let real): code = sqlite3_bind_double(statement, index, real)
            case .text(let text): code = sqlite3_bind_text(statement, index, text, -1, csqlite_transient())
            case .blob(let bytes):
                // An empty array has no base address to hand over; zeroblob binds an empty blob, not NULL.
                code =
                    bytes.isEmpty
                    ? sqlite3_bind_zeroblob(statement, index, 0)
                    : bytes.withUnsafeBytes {
                        sqlite3_bind_blob(statement, index, $0.baseAddress, Int32($0.count), csqlite_transient())
                    }
            case .null: code = sqlite3_bind_null(statement, index)
            }
            try check(code)
        }
        return self
    }

    /// Advances to the next row: true when a row is ready to read, false when the statement is done.
    public func step() throws -> Bool {
        let code = sqlite3_step(statement)
        switch code {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let message = String(cString: sqlite3_errmsg(connection))
            sqlite3_reset(statement)
            throw SQLiteError(code: code, message: message, sql: sql)
        }
    }

    /// Binds and runs a statement that returns no rows.
    public func run(_ values: [SQLiteValue] = []) throws {
        try bind(values)
        while try step() {}
        sqlite3_reset(statement)
    }

    /// Binds, runs and reads every row with `read`.
    public func rows<Row>(_ values: [SQLiteValue] = [], _ read: (SQLiteStatement) throws -> Row) throws -> [Row] {
        try bind(values)
        var rows: [Row] = []
        while try step() { rows.append(try read(self)) }
        sqlite3_reset(statement)
        return rows
    }

    /// Column `index` (0-based) of the current row as an integer; NULL reads as 0 unless checked with `isNull`.
    public func int64(_ index: Int32) -> Int64 { sqlite3_column_int64(statement, index) }

    public func double(_ index: Int32) -> Double { sqlite3_column_double(statement, index) }

    public func isNull(_ index: Int32) -> Bool { sqlite3_column_type(statement, index) == SQLITE_NULL }

    public func string(_ index: Int32) -> String {
        guard let text = sqlite3_column_text(statement, index) else { return "" }
        let count = Int(sqlite3_column_bytes(statement, index))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }

    public func blob(_ index: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(statement, index))
        guard count > 0, let bytes = sqlite3_column_blob(statement, index) else { return [] }
        return Array(UnsafeRawBufferPointer(start: bytes, count: count))
    }

    private func check(_ code: Int32) throws {
        guard code == SQLITE_OK else {
            throw SQLiteError(code: code, message: String(cString: sqlite3_errmsg(connection)), sql: sql)
        }
    }
}

@available(*, unavailable) extension SQLiteStatement: Sendable {}
