// Byte-wise tests on strings for the per-request path. The standard library's `hasPrefix` compares Characters
// through its generic collection algorithms, about a thousand instructions for a four-byte prefix; credentials
// and wire names are ASCII, for which comparing UTF-8 bytes is the same test.

extension String {
    /// Whether the string's UTF-8 bytes begin with `prefix`'s.
    @inlinable public func hasUTF8Prefix(_ prefix: String) -> Bool {
        let fast = utf8.withContiguousStorageIfAvailable { bytes in
            prefix.utf8.withContiguousStorageIfAvailable { expected in
                guard bytes.count >= expected.count else { return false }
                for index in 0..<expected.count where bytes[index] != expected[index] { return false }
                return true
            }
        }
        if let fast, let result = fast { return result }
        return utf8.starts(with: prefix.utf8)
    }
}
