// The action digest recorded traces are checked with: pinned to a value, so a change to what it hashes (or to
// StableHasher) is noticed before old traces stop replaying, and sensitive to the order and grouping of actions.

import Testing

@testable import PlatformCore

@Suite struct ActionDigestTests {
    static let route = RouteRequest(
        id: RequestID(7), model: ModelID(0), version: 1, stickyKey: 3, inputElements: 4, budget: .milliseconds(995))

    static func sample() -> ActionDigest {
        var digest = ActionDigest()
        digest.fold([
            Gateway.Action.observe(.admitted(RequestID(7), keyIndex: 1)),
            .setTimer(TimerID(7), at: Instant(nanoseconds: 1_000)),
            .forward(route),
        ])
        digest.fold([
            Router.Action.execute(
                ExecuteRequest(
                    id: RequestID(7), model: ModelID(0), version: 1, preferredBackend: BackendID(0), inputElements: 4,
                    budget: .milliseconds(993)), to: OrchestratorID(0))
        ])
        digest.fold([
            Orchestrator.Action.call(
                BackendCall(
                    call: CallID(256 | 1), backend: BackendID(0), model: ModelID(0), version: 1, inputElements: 4)
            ),
            .observe(.callFinished(CallID(257), BackendID(0), succeeded: true, latency: .microseconds(80))),
        ])
        digest.fold([Gateway.Action]())
        return digest
    }

    @Test func theDigestIsPinned() {
        let digest = Self.sample()
        #expect(digest.inputs == 4)
        #expect(digest.value == Self.pinned, "new value: 0x\(String(digest.value, radix: 16))")
    }

    @Test func orderAndGroupingMatter() {
        let admitted = Gateway.Action.observe(.admitted(RequestID(7), keyIndex: 1))
        let forward = Gateway.Action.forward(Self.route)
        var inOrder = ActionDigest()
        inOrder.fold([admitted, forward])
        var swapped = ActionDigest()
        swapped.fold([forward, admitted])
        var split = ActionDigest()
        split.fold([admitted])
        split.fold([forward])
        #expect(inOrder.value != swapped.value)
        #expect(inOrder.value != split.value)
        // The same actions from another machine are another history.
        var empty = ActionDigest()
        empty.fold([Router.Action]())
        var emptyGateway = ActionDigest()
        emptyGateway.fold([Gateway.Action]())
        #expect(empty.value != emptyGateway.value)
    }

    static let pinned: UInt64 = 0x75F2_2A32_40D2_1F59
}
