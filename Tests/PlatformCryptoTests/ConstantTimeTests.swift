// The gateway compares each request's Authorization field with the last one it saw on the reactor; the answer
// must be plain equality of the bytes (not Unicode equivalence), whatever the lengths.

import Testing

@testable import PlatformCrypto

@Suite struct ConstantTimeTests {
    @Test func equalityOfTheBytes() {
        #expect(ConstantTime.equal("", ""))
        #expect(ConstantTime.equal("Bearer demo-token", "Bearer demo-token"))
        #expect(!ConstantTime.equal("Bearer demo-token", "Bearer demo-tokeN"))
        #expect(!ConstantTime.equal("Bearer demo-token", "Bearer demo-toke"))
        #expect(!ConstantTime.equal("", "x"))
        // Canonically equivalent, different bytes: not equal here, though `==` says they are.
        let composed = "caf\u{E9}"
        let decomposed = "cafe\u{301}"
        #expect(composed == decomposed)
        #expect(!ConstantTime.equal(composed, decomposed))
        // Long enough to be stored out of line, and equal from two different storages.
        let long = String(repeating: "k", count: 40)
        #expect(ConstantTime.equal(long, String(repeating: "k", count: 40)))
    }
}
