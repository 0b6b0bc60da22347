// A deterministic 64-bit hash for histories and sticky routing. Swift's `Hasher` is seeded per
// process, so it can never be used for anything that must agree across processes or runs.

/// Order-sensitive, process-independent hashing of integers and bytes (not cryptographic).
public struct StableHasher: Sendable, Hashable {
    @usableFromInline var state: UInt64

    @inlinable public init(seed: UInt64 = 0x243F_6A88_85A3_08D3) { state = seed }

    @inlinable public mutating func combine(_ word: UInt64) {
        state = StableHasher.mix(state ^ (word &* 0x9E37_79B9_7F4A_7C15))
    }
    @inlinable public mutating func combine(_ value: Int64) { combine(UInt64(bitPattern: value)) }
    @inlinable public mutating func combine(_ value: Int) { combine(UInt64(bitPattern: Int64(value))) }

    /// Hashes a string's UTF-8 bytes (length first, so "ab","c" and "a","bc" differ).
    public mutating func combine(_ text: String) {
        var word: UInt64 = 0
        var count: UInt64 = 0
        for byte in text.utf8 {
            word = (word << 8) | UInt64(byte)
            count += 1
            if count % 8 == 0 {
                combine(word)
                word = 0
            }
        }
        combine(word)
        combine(count)
    }

    @inlinable public var value: UInt64 { StableHasher.mix(state ^ 0xA076_1D64_78BD_642F) }

    @inlinable static func mix(_ input: UInt64) -> UInt64 {
        var z = input
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The stable hash of one string, for sticky routing keys and api-key bucketing.
    public static func hash(_ text: String) -> UInt64 {
        var hasher = StableHasher()
        hasher.combine(text)
        return hasher.value
    }
}
