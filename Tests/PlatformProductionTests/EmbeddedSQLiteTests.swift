import Testing

@testable import PlatformProduction

@Suite struct EmbeddedSQLiteTests {
    @Test func errorsNameTheFailingSQL() throws {
        let folder = try TemporaryFolder()
        let database = try SQLiteDatabase(path: folder.file("a.sqlite"))
        let error = #expect(throws: SQLiteError.self) { try database.execute("SELEKT 1") }
        #expect(error?.sql == "SELEKT 1")
        #expect(error?.message.contains("syntax error") == true)
        #expect(error?.description.contains("SELEKT 1") == true)

        try database.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        let insert = try database.prepare("INSERT INTO t (id) VALUES (?)")
        try insert.run([.integer(1)])
        let duplicate = #expect(throws: SQLiteError.self) { try insert.run([.integer(1)]) }
        #expect(duplicate?.sql == "INSERT INTO t (id) VALUES (?)")
        #expect(duplicate?.message.contains("UNIQUE") == true)
        let missing = #expect(throws: SQLiteError.self) { try database.prepare("SELECT nothing FROM nowhere") }
        #expect(missing?.sql == "SELECT nothing FROM nowhere")
        let wrongCount = #expect(throws: SQLiteError.self) { try insert.run([]) }
        #expect(wrongCount?.message.contains("expected 1 bound values") == true)
    }

    @Test func typedBindsRoundTrip() throws {
        let folder = try TemporaryFolder()
        let database = try SQLiteDatabase(path: folder.file("a.sqlite"))
        try database.execute("CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB, n INTEGER)")
        try database.prepare("INSERT INTO t VALUES (?, ?, ?, ?, ?)")
            .run([.integer(Int64.min), .real(2.5), .text("héllo"), .blob([0, 1, 255]), .null])
        let rows = try database.prepare("SELECT i, r, s, b, n FROM t").rows([]) { row in
            (row.int64(0), row.double(1), row.string(2), row.blob(3), row.isNull(4))
        }
        #expect(rows.count == 1)
        #expect(rows[0].0 == Int64.min && rows[0].1 == 2.5 && rows[0].2 == "héllo")
        #expect(rows[0].3 == [0, 1, 255] && rows[0].4)
    }

    @Test func transactionRollsBackOnThrow() throws {
        struct Stop: Error {}
        let folder = try TemporaryFolder()
        let database = try SQLiteDatabase(path: folder.file("a.sqlite"))
        try database.execute("CREATE TABLE t (id INTEGER)")
        #expect(throws: Stop.self) {
            try database.transaction {
                try database.execute("INSERT INTO t VALUES (1)")
                throw Stop()
            }
        }
        let count = try database.prepare("SELECT count(*) FROM t").rows([]) { $0.int64(0) }
        #expect(count == [0])
        let mode = try database.prepare("PRAGMA journal_mode").rows([]) { $0.string(0) }
        #expect(mode == ["wal"])
        let synchronous = try database.prepare("PRAGMA synchronous").rows([]) { $0.int64(0) }
        #expect(synchronous == [2])  // FULL
    }

    @Test func closedDatabaseFailsClearly() throws {
        let folder = try TemporaryFolder()
        let database = try SQLiteDatabase(path: folder.file("a.sqlite"))
        database.close()
        let error = #expect(throws: SQLiteError.self) { try database.execute("SELECT 1") }
        #expect(error?.message.contains("closed") == true)
        #expect(throws: SQLiteError.self) { try SQLiteDatabase(path: folder.file("missing/dir/a.sqlite")) }
    }
}
