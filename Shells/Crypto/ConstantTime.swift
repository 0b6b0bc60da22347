// Comparisons whose time tells an observer nothing about where two secrets differ, done by libcrypto.

import CCrypto

public enum ConstantTime {
    /// Whether two strings have the same UTF-8 bytes, in time that depends only on their lengths.
    public static func equal(_ first: String, _ second: String) -> Bool {
        let first = first.utf8
        let second = second.utf8
        guard first.count == second.count else { return false }
        guard first.count > 0 else { return true }
        let compared = first.withContiguousStorageIfAvailable { a in
            second.withContiguousStorageIfAvailable { b in
                CRYPTO_memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0
            }
        }
        if let compared, let compared { return compared }
        // A string without contiguous UTF-8 (bridged): compared from copies.
        return Signatures.constantTimeEqual(Array(first), Array(second))
    }
}
