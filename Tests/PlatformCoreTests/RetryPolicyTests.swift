// Transcript tests for the retry policy (which failures retry, backoff growth and jitter, per-try timeouts,
// and the order of the give-up checks), plus a seeded property test over random failures and deadlines.

import Testing

@testable import PlatformCore

private func at(milliseconds: Int64) -> Instant { Instant(nanoseconds: milliseconds * 1_000_000) }

@Suite struct RetryPolicyTests {
    let policy = RetryPolicy(configuration: RetryPolicy.Configuration())

    @Test func defaultsMatchTheDocumentedValues() {
        let configuration = policy.configuration
        #expect(configuration.attemptsMax == 3)
        #expect(configuration.backoffBase == .milliseconds(25))
        #expect(configuration.backoffMax == .seconds(1))
        #expect(configuration.perTryTimeout == .milliseconds(500))
        #expect(configuration.minimumUsefulAttempt == .milliseconds(10))
    }

    @Test func whichFailuresAreRetryable() {
        let always: [RetryPolicy.Failure] = [.connectionFailed, .unavailable, .overloaded]
        let onlyIdempotent: [RetryPolicy.Failure] = [.timeout, .serverError]
        let never: [RetryPolicy.Failure] = [.badRequest, .notFound]
        for failure in always {
            #expect(policy.isRetryable(failure, idempotent: true))
            #expect(policy.isRetryable(failure, idempotent: false))
        }
        for failure in onlyIdempotent {
            #expect(policy.isRetryable(failure, idempotent: true))
            #expect(!policy.isRetryable(failure, idempotent: false))
        }
        for failure in never {
            #expect(!policy.isRetryable(failure, idempotent: true))
            #expect(!policy.isRetryable(failure, idempotent: false))
        }
    }

    @Test func backoffCeilingDoublesUpToTheCap() {
        let expected: [Int64] = [25, 50, 100, 200, 400, 800, 1_000, 1_000]
        for (index, milliseconds) in expected.enumerated() {
            #expect(policy.backoffCeiling(beforeRetry: index + 1) == .milliseconds(milliseconds))
        }
        for huge in [40, 62, 63, 64, 65, 1_000, Int.max] {
            #expect(policy.backoffCeiling(beforeRetry: huge) == .seconds(1))
        }
        var random = SeededRandom(seed: 9)
        #expect(policy.backoff(beforeRetry: Int.max, random: &random) <= .seconds(1))
    }

    @Test func backoffIsFullJitterInsideTheCeiling() {
        var random = SeededRandom(seed: 42)
        for retryNumber in 1...8 {
            let ceiling = policy.backoffCeiling(beforeRetry: retryNumber)
            var lowest = ceiling
            var highest = Duration.zero
            for _ in 0..<500 {
                let delay = policy.backoff(beforeRetry: retryNumber, random: &random)
                #expect(delay >= .zero && delay <= ceiling)
                lowest = min(lowest, delay)
                highest = max(highest, delay)
            }
            // Spread over the whole range, not clustered near the ceiling.
            #expect(lowest < ceiling / 10)
            #expect(highest > ceiling - ceiling / 10)
        }
    }

    @Test func backoffIsDeterministicForASeed() {
        var first = SeededRandom(seed: 7)
        var second = SeededRandom(seed: 7)
        for retryNumber in 1...20 {
            #expect(
                policy.backoff(beforeRetry: retryNumber, random: &first)
                    == policy.backoff(beforeRetry: retryNumber, random: &second))
        }
    }

    @Test func aZeroBaseNeverWaits() {
        var configuration = RetryPolicy.Configuration()
        configuration.backoffBase = .zero
        let immediate = RetryPolicy(configuration: configuration)
        var random = SeededRandom(seed: 1)
        #expect(immediate.backoff(beforeRetry: 5, random: &random) == .zero)
    }

    @Test func perTryTimeoutIsBoundedByTheDeadline() {
        #expect(policy.perTryTimeout(now: at(milliseconds: 0), deadline: at(milliseconds: 2_000)) == .milliseconds(500))
        #expect(policy.perTryTimeout(now: at(milliseconds: 0), deadline: at(milliseconds: 120)) == .milliseconds(120))
        #expect(policy.perTryTimeout(now: at(milliseconds: 120), deadline: at(milliseconds: 120)) == .zero)
        #expect(policy.perTryTimeout(now: at(milliseconds: 500), deadline: at(milliseconds: 120)) == .zero)
    }

    @Test func decideRetriesWithinEveryLimit() {
        var budget = RetryBudget(configuration: RetryBudget.Configuration())
        var random = SeededRandom(seed: 3)
        let decision = policy.decide(
            attemptsMade: 1, failure: .unavailable, idempotent: false, now: at(milliseconds: 0),
            deadline: at(milliseconds: 5_000), budget: &budget, random: &random)
        guard case .retry(let after) = decision else {
            Issue.record("expected a retry, got \(decision)")
            return
        }
        #expect(after >= .zero && after <= .milliseconds(25))
        #expect(budget.retriesAllowed == 1)
    }

    @Test func decideChecksInOrderAndNeverSpendsBudgetOnARefusal() {
        var budget = RetryBudget(configuration: RetryBudget.Configuration())
        var random = SeededRandom(seed: 5)
        func decide(_ attempts: Int, _ failure: RetryPolicy.Failure, idempotent: Bool = true, deadline: Int64)
            -> RetryPolicy.Decision
        {
            policy.decide(
                attemptsMade: attempts, failure: failure, idempotent: idempotent, now: at(milliseconds: 0),
                deadline: at(milliseconds: deadline), budget: &budget, random: &random)
        }
        // Not retryable wins over every other reason.
        #expect(decide(3, .badRequest, deadline: 0) == .giveUp(.notRetryable))
        #expect(decide(1, .timeout, idempotent: false, deadline: 5_000) == .giveUp(.notRetryable))
        // Then attempts, before the deadline.
        #expect(decide(3, .unavailable, deadline: 0) == .giveUp(.attemptsExhausted))
        #expect(decide(7, .unavailable, deadline: 5_000) == .giveUp(.attemptsExhausted))
        // The deadline: even a zero backoff needs 10 ms of useful time left.
        #expect(decide(1, .unavailable, deadline: 9) == .giveUp(.deadlineExceeded))
        #expect(decide(1, .unavailable, deadline: -100) == .giveUp(.deadlineExceeded))
        #expect(budget.retriesAllowed == 0 && budget.retriesRefused == 0)
        #expect(budget.retriesInWindow(now: at(milliseconds: 0)) == 0)
        // Exactly enough time (35 ms covers the largest first backoff plus 10 ms) always retries.
        #expect(decide(1, .unavailable, deadline: 35) != .giveUp(.deadlineExceeded))
    }

    @Test func decideGivesUpWhenTheBudgetIsSpent() {
        var configuration = RetryBudget.Configuration()
        configuration.minimumRetriesPerWindow = 2
        var budget = RetryBudget(configuration: configuration)
        var random = SeededRandom(seed: 11)
        var decisions: [RetryPolicy.Decision] = []
        for _ in 0..<3 {
            decisions.append(
                policy.decide(
                    attemptsMade: 2, failure: .overloaded, idempotent: true, now: at(milliseconds: 0),
                    deadline: at(milliseconds: 10_000), budget: &budget, random: &random))
        }
        #expect(decisions[0] != .giveUp(.budgetExhausted) && decisions[1] != .giveUp(.budgetExhausted))
        #expect(decisions[2] == .giveUp(.budgetExhausted))
        #expect(budget.retriesRefused == 1)
        #expect(budget.retriesInWindow(now: at(milliseconds: 0)) == 2)
    }

    /// Random failures, attempt counts, times and deadlines against a small budget. A retry must satisfy every
    /// rule; a give-up must name the first rule that failed; no give-up may change what the budget has spent.
    @Test func seededDecisionsKeepEveryRule() {
        for seed in UInt64(1)...200 {
            var random = SeededRandom(seed: seed, stream: 0x4E78)
            var configuration = RetryPolicy.Configuration()
            configuration.attemptsMax = Int(random.between(1, 6))
            configuration.backoffBase = .milliseconds(random.between(0, 50))
            configuration.backoffMax = .milliseconds(random.between(0, 400))
            let policy = RetryPolicy(configuration: configuration)
            var budgetConfiguration = RetryBudget.Configuration()
            budgetConfiguration.minimumRetriesPerWindow = random.between(0, 3)
            var budget = RetryBudget(configuration: budgetConfiguration)
            let failures: [RetryPolicy.Failure] = [
                .timeout, .connectionFailed, .unavailable, .overloaded, .serverError, .badRequest, .notFound,
            ]
            var now = Instant.zero
            var violations: [String] = []
            for step in 0..<200 {
                now = now + .milliseconds(random.between(0, 50))
                if random.chance(.percent(30)) { budget.requestStarted(now: now) }
                let attempts = Int(random.between(1, 7))
                let failure = failures[random.below(failures.count)]
                let idempotent = random.chance(.percent(50))
                let deadline = now + .milliseconds(random.between(-20, 500))
                let spentBefore = budget.retriesInWindow(now: now)
                let decision = policy.decide(
                    attemptsMade: attempts, failure: failure, idempotent: idempotent, now: now, deadline: deadline,
                    budget: &budget, random: &random)
                let spentAfter = budget.retriesInWindow(now: now)
                let retryable = policy.isRetryable(failure, idempotent: idempotent)
                switch decision {
                case .retry(let after):
                    let ceiling = policy.backoffCeiling(beforeRetry: attempts)
                    if !retryable || attempts >= configuration.attemptsMax {
                        violations.append("step \(step): retried")
                    }
                    if after < .zero || after > ceiling { violations.append("step \(step): backoff \(after)") }
                    if now + after + configuration.minimumUsefulAttempt > deadline {
                        violations.append("step \(step): retry past the deadline")
                    }
                    if spentAfter != spentBefore + 1 { violations.append("step \(step): retry not recorded") }
                case .giveUp(let reason):
                    if spentAfter != spentBefore { violations.append("step \(step): \(reason) spent budget") }
                    let expected: RetryPolicy.GiveUpReason? =
                        !retryable ? .notRetryable : attempts >= configuration.attemptsMax ? .attemptsExhausted : nil
                    if let expected, expected != reason { violations.append("step \(step): \(reason) not \(expected)") }
                    if deadline < now + configuration.minimumUsefulAttempt, retryable,
                        attempts < configuration.attemptsMax, reason != .deadlineExceeded
                    {
                        violations.append("step \(step): \(reason) with no time left")
                    }
                }
            }
            #expect(
                violations.isEmpty, "retry policy broke a rule: \(violations.prefix(3)); reproduce with seed=\(seed)")
        }
    }
}
