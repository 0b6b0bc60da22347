// Small integer identities. Machines name everything by value ids that the shell maps to its own
// resources (connections, sockets, simulated nodes), so no action ever carries a handle.

/// One end-user request, unique per gateway for the life of a run.
public struct RequestID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var value: UInt64
    @inlinable public init(_ value: UInt64) { self.value = value }
    @inlinable public static func < (lhs: RequestID, rhs: RequestID) -> Bool { lhs.value < rhs.value }
    public var description: String { "req#\(value)" }
}

/// One attempt of a call from an orchestrator to a backend.
public struct CallID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var value: UInt64
    @inlinable public init(_ value: UInt64) { self.value = value }
    @inlinable public static func < (lhs: CallID, rhs: CallID) -> Bool { lhs.value < rhs.value }
    public var description: String { "call#\(value)" }
}

/// A timer a machine asked its shell to set; the machine decides what it means when it fires.
public struct TimerID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var value: UInt64
    @inlinable public init(_ value: UInt64) { self.value = value }
    @inlinable public static func < (lhs: TimerID, rhs: TimerID) -> Bool { lhs.value < rhs.value }
    public var description: String { "timer#\(value)" }
}

/// A model-serving backend (one Triton instance), by index in the deployment table.
public struct BackendID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var value: Int
    @inlinable public init(_ value: Int) { self.value = value }
    @inlinable public static func < (lhs: BackendID, rhs: BackendID) -> Bool { lhs.value < rhs.value }
    public var description: String { "backend#\(value)" }
}

/// An orchestrator instance, by index among the orchestrators a router knows.
public struct OrchestratorID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var value: Int
    @inlinable public init(_ value: Int) { self.value = value }
    @inlinable public static func < (lhs: OrchestratorID, rhs: OrchestratorID) -> Bool { lhs.value < rhs.value }
    public var description: String { "orchestrator#\(value)" }
}

/// A model, by index in the deployment table (the shell maps names to indices).
public struct ModelID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var value: Int
    @inlinable public init(_ value: Int) { self.value = value }
    @inlinable public static func < (lhs: ModelID, rhs: ModelID) -> Bool { lhs.value < rhs.value }
    public var description: String { "model#\(value)" }
}
