// The embedded mode's limiter store: the same token-bucket semantics the shared store (Redis) runs, held in the
// process and shared by every reactor's gateway, so a key's limit holds whichever reactor a connection landed
// on. Reactors take a lock for one bucket operation (well under a microsecond).

import PlatformCore
import Synchronization

public final class InProcessLimiterStore: Sendable {
    /// The buckets, and per key index the slot its bucket was last found in (so a take skips the lookup by name).
    struct State {
        var model: LimiterStoreModel
        var hints: [Int]
    }

    let state: Mutex<State>
    /// The bucket name of each key index (the gateway's key list), so the check carries no string.
    let keyNames: [String]

    public init(limits: RateLimiter.Configuration, keyNames: [String]) {
        state = Mutex(
            State(
                model: LimiterStoreModel(limits: limits),
                hints: Array(repeating: RateLimiter.none, count: keyNames.count)))
        self.keyNames = keyNames
    }

    public func take(_ check: LimitCheck, now: Instant) -> LimitDecision {
        guard check.keyIndex >= 0, check.keyIndex < keyNames.count else { return .unavailable }
        let key = keyNames[check.keyIndex]
        return state.withLock { state in
            state.model.take(check, key: key, hint: &state.hints[check.keyIndex], now: now)
        }
    }
}
