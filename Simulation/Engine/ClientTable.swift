// The simulated clients' view: every request sent, its deadline, and whether it was answered.
// Entries stay until their deadline (plus slack) has passed, so a second answer or a missing one
// is caught, then they are swept, which keeps memory bounded by the requests in flight.

import PlatformCore

struct ClientRecord {
    var sentAt: Int64
    var deadline: Int64
    var key: Int32
    var version: Int32
    var answered: Bool
    var stickyKey: UInt64
    /// The version the router chose (0 until routed).
    var routedVersion: Int32 = 0
    /// What authentication must make of the request's credential: 0 no check, 1 accept it, 2 refuse it (401).
    var authExpect: UInt8 = 0
}

struct ClientTable {
    private var records = IdentifierTable<ClientRecord>(capacity: 4_096)
    /// (id, sweep time) in send order; deadlines of one stream grow with send time.
    private var sweepQueue: [(id: UInt64, at: Int64)] = []
    private var sweepHead = 0
    private(set) var unanswered = 0

    init() {
        sweepQueue.reserveCapacity(4_096)
    }

    func record(_ id: UInt64) -> ClientRecord? { records[id] }

    /// Notes the version the router chose for a request still awaiting its answer.
    mutating func routed(_ id: UInt64, version: Int) {
        guard var record = records[id] else { return }
        record.routedVersion = Int32(truncatingIfNeeded: version)
        records[id] = record
    }

    mutating func sent(_ id: UInt64, _ record: ClientRecord, sweepAt: Int64) {
        records[id] = record
        sweepQueue.append((id, sweepAt))
        unanswered += 1
    }

    enum AnswerCheck {
        case onTime(ClientRecord)
        case late(ClientRecord)
        case duplicate
        case unknown
    }

    mutating func answer(_ id: UInt64, at time: Int64, slack: Int64) -> AnswerCheck {
        guard var record = records[id] else { return .unknown }
        if record.answered { return .duplicate }
        record.answered = true
        records[id] = record
        unanswered -= 1
        return time <= record.deadline + slack ? .onTime(record) : .late(record)
    }

    /// Removes entries whose sweep time has come; calls `missing` for those never answered.
    mutating func sweep(upTo time: Int64, missing: (UInt64, ClientRecord) -> Void) {
        while sweepHead < sweepQueue.count && sweepQueue[sweepHead].at <= time {
            let id = sweepQueue[sweepHead].id
            sweepHead += 1
            if let record = records.removeValue(forKey: id), !record.answered {
                unanswered -= 1
                missing(id, record)
            }
        }
        if sweepHead > 8_192 && sweepHead * 2 > sweepQueue.count {
            sweepQueue.removeFirst(sweepHead)
            sweepHead = 0
        }
    }
}
