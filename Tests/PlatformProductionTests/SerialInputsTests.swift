import Testing

@testable import PlatformProduction

@Suite struct SerialInputsTests {
    /// An input fed while another is being handled waits its turn: handling never nests, order is arrival order.
    @Test func reentrantInputsWaitTheirTurn() {
        let inputs = SerialInputs<Int>()
        var handled: [Int] = []
        var depth = 0
        var deepest = 0
        func feed(_ value: Int) {
            inputs.feed(value) { next in
                depth += 1
                deepest = max(deepest, depth)
                handled.append(next)
                if next < 3 {
                    feed(next * 10 + 1)
                    feed(next * 10 + 2)
                }
                depth -= 1
            }
        }
        feed(1)
        feed(2)
        #expect(handled == [1, 11, 12, 2, 21, 22])
        #expect(deepest == 1)
    }

    /// Inputs queued behind a drain through `enqueue` (the host's path, which reads the clock only for the first
    /// input of a cascade) are handled in the same order as through `feed`, and each exactly once.
    @Test func enqueuedInputsFollowInOrder() {
        let inputs = SerialInputs<String>()
        var handled: [String] = []
        inputs.feed("a") { next in
            handled.append(next)
            if next == "a" {
                #expect(inputs.isDraining)
                inputs.enqueue("b")
                inputs.feed("c") { _ in Issue.record("a nested feed must only queue") }
            }
            if next == "b" { inputs.enqueue("d") }
        }
        #expect(handled == ["a", "b", "c", "d"])
        #expect(!inputs.isDraining)
    }
}

@Suite struct LocalRequestIDTests {
    /// The gateway's own request ids are its prefix and a counter in lower-case hex, as `String(_:radix:)` spells it.
    @Test func hexIDsMatchTheStandardLibrary() {
        let prefix = Array("gw1-".utf8)
        for value: UInt64 in [0, 1, 9, 10, 15, 16, 255, 256, 0xABCDEF, 1 << 40, .max] {
            #expect(GatewayService.hexID(prefix: prefix, value) == "gw1-" + String(value, radix: 16))
        }
        #expect(GatewayService.hexID(prefix: [], 0x1F) == "1f")
    }
}
