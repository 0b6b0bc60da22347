// A hash table keyed by 64-bit ids (request, call, execution), for the nodes' in-flight state.
// Open addressing with linear probing and backward-shift deletion; Fibonacci hashing of the id.
// Unlike `Dictionary` it needs no per-process seeded hashing (ids are not attacker-chosen inside
// the platform: they are made by the nodes themselves), and it never exposes iteration order.

/// A map from `UInt64` ids to values, with O(1) expected insert, lookup and removal.
public struct IdentifierTable<Value: Sendable>: Sendable {
    @usableFromInline var keys: [UInt64]
    /// Which slots hold an entry: probing reads only this and `keys`, never the (possibly large) values.
    @usableFromInline var used: [Bool]
    @usableFromInline var values: [Value?]
    @usableFromInline var shift: UInt64
    @usableFromInline var mask: Int
    @usableFromInline var storedCount = 0

    /// Entries in the table.
    @inlinable public var count: Int { storedCount }

    /// An empty table sized for about `capacity` entries before it grows.
    public init(capacity: Int = 16) {
        var size = 16
        while size * 3 < capacity * 4 { size *= 2 }
        keys = Array(repeating: 0, count: size)
        used = Array(repeating: false, count: size)
        values = Array(repeating: nil, count: size)
        mask = size - 1
        shift = UInt64(64 - size.trailingZeroBitCount)
    }

    @inlinable @inline(__always) func ideal(_ key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    @inlinable func position(of key: UInt64) -> Int? {
        var index = ideal(key)
        while used[index] {
            if keys[index] == key { return index }
            index = (index + 1) & mask
        }
        return nil
    }

    /// True when the table holds `key`.
    @inlinable public func contains(_ key: UInt64) -> Bool { position(of: key) != nil }

    /// The value for `key`; assigning nil removes it.
    @inlinable public subscript(key: UInt64) -> Value? {
        get { position(of: key).flatMap { values[$0] } }
        set {
            if let newValue {
                insert(key, newValue)
            } else {
                _ = removeValue(forKey: key)
            }
        }
    }

    @inlinable mutating func insert(_ key: UInt64, _ value: Value) {
        if (storedCount + 1) * 4 > values.count * 3 { grow() }
        var index = ideal(key)
        while used[index] {
            if keys[index] == key {
                values[index] = value
                return
            }
            index = (index + 1) & mask
        }
        keys[index] = key
        used[index] = true
        values[index] = value
        storedCount += 1
    }

    /// Removes `key`, returning its value if it was present.
    @inlinable @discardableResult public mutating func removeValue(forKey key: UInt64) -> Value? {
        guard var hole = position(of: key) else { return nil }
        // Moved out, and entries below moved by swapping with the empty slot: a value is never copied or
        // destroyed here (for a large value that is a generic witness call each time).
        let removed = values[hole].take()
        used[hole] = false
        storedCount -= 1
        var next = (hole + 1) & mask
        while used[next] {
            let home = ideal(keys[next])
            // The entry at `next` may move back into the hole unless its home lies cyclically in (hole, next].
            let staysPut = hole <= next ? (home > hole && home <= next) : (home > hole || home <= next)
            if !staysPut {
                keys[hole] = keys[next]
                values.swapAt(hole, next)
                used[hole] = true
                used[next] = false
                hole = next
            }
            next = (next + 1) & mask
        }
        return removed
    }

    @usableFromInline mutating func grow() {
        var larger = IdentifierTable(capacity: values.count * 2)
        for index in values.indices where used[index] { larger.insert(keys[index], values[index]!) }
        self = larger
    }
}
