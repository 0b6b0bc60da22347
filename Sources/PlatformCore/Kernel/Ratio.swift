// Probabilities and fractions as integer parts per million, so that a decision that reaches the
// history hash never depends on floating-point rounding.

/// A fraction in [0, 1] (or above 1 for multipliers), held as parts per million.
public struct Ratio: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var partsPerMillion: Int64

    @inlinable public init(partsPerMillion: Int64) {
        precondition(partsPerMillion >= 0, "a ratio is never negative")
        self.partsPerMillion = partsPerMillion
    }
    @inlinable public static func percent(_ value: Int64) -> Ratio { Ratio(partsPerMillion: value * 10_000) }
    @inlinable public static func permille(_ value: Int64) -> Ratio { Ratio(partsPerMillion: value * 1_000) }
    public static let zero = Ratio(partsPerMillion: 0)
    public static let one = Ratio(partsPerMillion: 1_000_000)

    /// `value * ratio`, rounded down, computed without overflow.
    @inlinable public func of(_ value: Int64) -> Int64 {
        Int64((Int128(value) * Int128(partsPerMillion)) / 1_000_000)
    }
    /// True when `part / whole >= self`, decided in integers.
    @inlinable public func isReached(part: Int64, whole: Int64) -> Bool {
        whole > 0 && Int128(part) * 1_000_000 >= Int128(partsPerMillion) * Int128(whole)
    }

    @inlinable public static func < (lhs: Ratio, rhs: Ratio) -> Bool { lhs.partsPerMillion < rhs.partsPerMillion }
    public var description: String { "\(partsPerMillion / 10_000).\(partsPerMillion % 10_000 / 100)%" }
}
