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
}
