import FlowRunner

/// `runs retry RUN --plan` as text: per action, each recorded step and what
/// the next attempt would do with it.
enum RetryPlanText {
    static func show(_ plan: RetryPlan) -> String {
        let run = plan.run
        let policy: String = switch plan.replay {
        case .matching: "replaying every step the action calls as before"
        case .fromStep(let step): "replaying steps before step \(step), running the rest"
        case .restart: "running every step again"
        }
        var text = "A retry of run \(run.id) (\(run.hook) of \(run.deployment), \(run.status.rawValue)) would be attempt \(run.attempt + 1), \(policy).\n"
        if plan.actions.allSatisfy({ $0.steps.isEmpty }) {
            text += "No steps were recorded: every action runs from its start.\n"
        }
        for action in plan.actions where !action.steps.isEmpty {
            text += "\nAction \(action.name)\n"
            var table = ""
            Table.render(["STEP", "KIND", "NAME", "ARGS", "RECORDED", "PLAN"], action.steps.map { step in
                [String(step.seq), step.kind.rawValue, step.name, ProgressPrinter.shorten(step.argsJSON, 50), step.recorded.rawValue, step.plan]
            }, into: &table)
            text += table.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n") + "\n"
        }
        let replayed = plan.actions.reduce(0) { $0 + $1.steps.count { $0.plan == "replay" } }
        text += "\n\(replayed) step\(replayed == 1 ? "" : "s") would be replayed (steps after them run only if the action calls them again). "
        text += "Nothing was changed."
        return text
    }
}
