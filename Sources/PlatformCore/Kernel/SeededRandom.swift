// The only source of randomness a machine may use: xoshiro256** seeded through SplitMix64.
// Every component owns its own stream, split from the run's seed by a stable stream number, so a
// new draw in one component never shifts the draws of another. Range reduction is our own code
// (not the standard library's, which may change between releases), so a seed means the same
// sequence on every build.

/// A seeded, splittable pseudo-random generator with exact integer draws.
public struct SeededRandom: Sendable, Hashable {
    @usableFromInline var s0: UInt64
    @usableFromInline var s1: UInt64
    @usableFromInline var s2: UInt64
    @usableFromInline var s3: UInt64

    /// A generator for `seed`; different `stream` numbers give independent sequences.
    public init(seed: UInt64, stream: UInt64 = 0) {
        var mixer = SplitMix64(state: seed ^ (stream &* 0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03)
        s0 = mixer.next()
        s1 = mixer.next()
        s2 = mixer.next()
        s3 = mixer.next()
        if s0 | s1 | s2 | s3 == 0 { s0 = 1 }
    }

    /// A child generator for a named sub-component, independent of this one's future draws.
    public func split(stream: UInt64) -> SeededRandom {
        SeededRandom(seed: s0 ^ rotate(s2, 17), stream: stream &+ 0x5851_F42D_4C95_7F2D)
    }

    @inlinable func rotate(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// The next 64 random bits.
    @inlinable public mutating func next() -> UInt64 {
        let result = rotate(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotate(s3, 45)
        return result
    }

    /// A uniform draw in `0..<bound` (Lemire's multiply-shift with rejection). `bound` must be > 0.
    @inlinable public mutating func below(_ bound: UInt64) -> UInt64 {
        precondition(bound > 0, "below(0) has no value to return")
        var product = next().multipliedFullWidth(by: bound)
        if product.low < bound {
            let threshold = (0 &- bound) % bound
            while product.low < threshold { product = next().multipliedFullWidth(by: bound) }
        }
        return product.high
    }

    /// A uniform draw in `0..<bound` as an `Int`.
    @inlinable public mutating func below(_ bound: Int) -> Int { Int(below(UInt64(bound))) }

    /// A uniform draw in the closed range `low...high`.
    @inlinable public mutating func between(_ low: Int64, _ high: Int64) -> Int64 {
        precondition(low <= high, "between(\(low), \(high)) is an empty range")
        return low &+ Int64(bitPattern: below(UInt64(bitPattern: high &- low) &+ 1))
    }

    /// True with probability `ratio`.
    @inlinable public mutating func chance(_ ratio: Ratio) -> Bool {
        if ratio.partsPerMillion <= 0 { return false }
        if ratio.partsPerMillion >= 1_000_000 { return true }
        return Int64(below(UInt64(1_000_000))) < ratio.partsPerMillion
    }

    /// An exponentially distributed duration with the given mean, from integer arithmetic only:
    /// -ln(u) is taken from a 256-entry table of quantiles with linear interpolation, accurate to
    /// well under a percent and identical on every machine.
    @inlinable public mutating func exponential(mean: Duration) -> Duration {
        let u = next()
        let index = Int(u >> 56)
        let fraction = Int64((u >> 40) & 0xFFFF)
        let low = ExponentialTable.quantilesMicro[index]
        let high = ExponentialTable.quantilesMicro[index + 1]
        let scaledMicro = low + ((high - low) * fraction) >> 16
        // The product fits 64 bits for any mean under about 12 days; dividing in 64 bits then gives the
        // same quotient as in 128 bits, without a call to the 128-bit division routine.
        let (product, overflow) = mean.nanoseconds.multipliedReportingOverflow(by: scaledMicro)
        if !overflow { return Duration(nanoseconds: product / 1_000_000) }
        return Duration(nanoseconds: Int64((Int128(mean.nanoseconds) * Int128(scaledMicro)) / 1_000_000))
    }
}

/// SplitMix64, used only to expand a seed into generator state.
public struct SplitMix64: Sendable {
    public var state: UInt64
    public init(state: UInt64) { self.state = state }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
