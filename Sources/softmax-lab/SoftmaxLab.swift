import ArgumentParser

/// The `softmax-lab` command: an interactive explorer by default, plus `eval` and `gradcheck`.
@main
struct SoftmaxLab: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "softmax-lab",
    abstract: "Softmax and cross-entropy, step by step: values, gradients, Jacobian and numerical stability.",
    version: "0.1.0",
    subcommands: [ExploreCommand.self, EvalCommand.self, GradcheckCommand.self, TourCommand.self, BenchCommand.self],
    defaultSubcommand: ExploreCommand.self
  )
}
