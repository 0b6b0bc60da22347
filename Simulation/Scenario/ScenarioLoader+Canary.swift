// The `canary` section of a scenario: an automated rollout the router runs from the start, and the
// verdict the scenario expects of it.

import PlatformCore
import PlatformWire

/// An automated canary rollout and what must come of it.
public struct CanarySpec: Sendable {
    public enum Verdict: String, Sendable {
        case promote, rollback
    }
    public var model: Int
    public var stable: Int
    public var canary: Int
    public var controller = CanaryController.Configuration()
    /// What the analysis must decide, and by when (from the start of the run).
    public var expect: Verdict
    public var deadline: Duration
    /// For a rollback: the most canary failures, beyond what stable's error rate predicts, the scenario allows.
    public var allowedExcessFailures: Int64
}

extension Scenario {
    static func loadCanary(_ root: FieldReader, into scenario: inout Scenario) throws(ScenarioError) {
        guard let field = try root.object("canary") else { return }
        try field.onlyKnown([
            "model", "stable", "canary", "stepsPercent", "holdSeconds", "lookSeconds", "minimumSamples",
            "alphaPercent", "errorMarginPercent", "latencyTolerancePercent", "errorAllowance",
            "analysisDeadlineSeconds",
            "expect", "deadlineSeconds", "allowedExcessFailures",
        ])
        let modelName = try field.string("model", default: scenario.models.first?.name ?? "")
        guard let model = scenario.models.firstIndex(where: { $0.name == modelName }) else {
            throw field.fail("model", "no model named \"\(modelName)\"")
        }
        let versions = scenario.models[model].versions
        let stable = Int(try field.integer("stable", min: 0, max: 1_000_000, default: nil))
        let canary = Int(try field.integer("canary", min: 0, max: 1_000_000, default: nil))
        for (name, number) in [("stable", stable), ("canary", canary)] {
            guard let version = versions.first(where: { $0.number == number }) else {
                throw field.fail(name, "model \(modelName) has no version \(number)")
            }
            guard version.state.takesTraffic else {
                throw field.fail(name, "version \(number) is \(version.state.name): it must be serving or canary")
            }
        }
        guard stable != canary else { throw field.fail("canary", "must differ from stable") }
        var controller = CanaryController.Configuration()
        if field.value("stepsPercent") != nil {
            var steps: [Int64] = []
            for (index, element) in try field.array("stepsPercent").enumerated() {
                guard case .number(let percent, _) = element, percent > 0, percent <= 100,
                    percent * 100 == (percent * 100).rounded()
                else {
                    throw field.fail("stepsPercent[\(index)]", "expected a percentage in (0, 100] with two decimals")
                }
                let basisPoints = Int64(percent * 100)
                guard steps.last.map({ basisPoints > $0 }) ?? true else {
                    throw field.fail("stepsPercent[\(index)]", "steps must increase")
                }
                steps.append(basisPoints)
            }
            guard steps.last == 10_000 else { throw field.fail("stepsPercent", "the last step must be 100") }
            controller.stepsBasisPoints = steps
        }
        controller.holdPerStep = try field.seconds("holdSeconds", default: controller.holdPerStep)
        controller.lookInterval = try field.seconds("lookSeconds", default: controller.lookInterval)
        controller.minimumSamplesPerSide = try field.integer(
            "minimumSamples", min: 1, max: 100_000_000, default: controller.minimumSamplesPerSide)
        controller.alpha = try field.percent("alphaPercent", default: controller.alpha)
        controller.errorRateMargin = try field.percent("errorMarginPercent", default: controller.errorRateMargin)
        controller.latencyTolerance = try field.percent(
            "latencyTolerancePercent", default: controller.latencyTolerance, max: 1_000)
        controller.errorAllowance = try field.integer(
            "errorAllowance", min: 1, max: 100_000_000, default: controller.errorAllowance)
        controller.analysisDeadline = try field.seconds(
            "analysisDeadlineSeconds", default: controller.holdPerStep * Int64(controller.stepsBasisPoints.count * 2))
        guard controller.lookInterval > .zero, controller.holdPerStep > .zero else {
            throw field.fail("lookSeconds", "holdSeconds and lookSeconds must be greater than 0")
        }
        guard controller.analysisDeadline >= controller.holdPerStep * Int64(controller.stepsBasisPoints.count) else {
            throw field.fail("analysisDeadlineSeconds", "must be at least holdSeconds × the number of steps")
        }
        let expectName = try field.string("expect")
        guard let expect = CanarySpec.Verdict(rawValue: expectName) else {
            throw field.fail("expect", "expected \"promote\" or \"rollback\", got \"\(expectName)\"")
        }
        let deadline = try field.seconds("deadlineSeconds", default: nil)
        guard deadline <= scenario.duration else { throw field.fail("deadlineSeconds", "must be within the run") }
        scenario.canary = CanarySpec(
            model: model, stable: stable, canary: canary, controller: controller, expect: expect, deadline: deadline,
            allowedExcessFailures: try field.integer(
                "allowedExcessFailures", min: 0, max: 100_000_000, default: controller.errorAllowance))
    }
}
