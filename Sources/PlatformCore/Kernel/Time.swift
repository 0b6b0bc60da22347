// Virtual and real time as integer nanoseconds. Machines never read a clock: the shell passes
// `now` in, so the same inputs always give the same actions, and integer arithmetic keeps every
// decision exact (no floating-point drift between runs or machines).

/// A point in time on the clock of the node that observed it, in nanoseconds since that clock's epoch.
public struct Instant: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var nanoseconds: Int64

    @inlinable public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static let zero = Instant(nanoseconds: 0)
    /// Later than every instant a run can reach; used for "never".
    public static let distantFuture = Instant(nanoseconds: Int64.max / 4)

    @inlinable public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }
    @inlinable public static func + (lhs: Instant, rhs: Duration) -> Instant {
        Instant(nanoseconds: lhs.nanoseconds &+ rhs.nanoseconds)
    }
    @inlinable public static func - (lhs: Instant, rhs: Duration) -> Instant {
        Instant(nanoseconds: lhs.nanoseconds &- rhs.nanoseconds)
    }
    @inlinable public static func - (lhs: Instant, rhs: Instant) -> Duration {
        Duration(nanoseconds: lhs.nanoseconds &- rhs.nanoseconds)
    }
    public var description: String { "t=\(Duration(nanoseconds: nanoseconds))" }
}

/// A span of time in nanoseconds. It shadows the standard library's `Duration` on purpose: ours
/// is a plain `Int64`, cheap to add and compare, and exact.
public struct Duration: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var nanoseconds: Int64

    @inlinable public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static let zero = Duration(nanoseconds: 0)
    @inlinable public static func nanoseconds(_ value: Int64) -> Duration { Duration(nanoseconds: value) }
    @inlinable public static func microseconds(_ value: Int64) -> Duration { Duration(nanoseconds: value * 1_000) }
    @inlinable public static func milliseconds(_ value: Int64) -> Duration { Duration(nanoseconds: value * 1_000_000) }
    @inlinable public static func seconds(_ value: Int64) -> Duration { Duration(nanoseconds: value * 1_000_000_000) }
    @inlinable public static func minutes(_ value: Int64) -> Duration { Duration(nanoseconds: value * 60_000_000_000) }

    @inlinable public var milliseconds: Int64 { nanoseconds / 1_000_000 }

    @inlinable public static func < (lhs: Duration, rhs: Duration) -> Bool { lhs.nanoseconds < rhs.nanoseconds }
    @inlinable public static func + (lhs: Duration, rhs: Duration) -> Duration {
        Duration(nanoseconds: lhs.nanoseconds &+ rhs.nanoseconds)
    }
    @inlinable public static func - (lhs: Duration, rhs: Duration) -> Duration {
        Duration(nanoseconds: lhs.nanoseconds &- rhs.nanoseconds)
    }
    @inlinable public static func * (lhs: Duration, rhs: Int64) -> Duration {
        Duration(nanoseconds: lhs.nanoseconds &* rhs)
    }
    @inlinable public static func / (lhs: Duration, rhs: Int64) -> Duration {
        Duration(nanoseconds: lhs.nanoseconds / rhs)
    }

    /// Multiplies by a ratio without overflowing for any duration a run can hold.
    @inlinable public func scaled(by ratio: Ratio) -> Duration {
        Duration(nanoseconds: Int64((Int128(nanoseconds) * Int128(ratio.partsPerMillion)) / 1_000_000))
    }

    public var description: String {
        let ns = nanoseconds
        if ns % 1_000_000_000 == 0 { return "\(ns / 1_000_000_000)s" }
        if ns % 1_000_000 == 0 { return "\(ns / 1_000_000)ms" }
        if ns % 1_000 == 0 { return "\(ns / 1_000)us" }
        return "\(ns)ns"
    }
}
