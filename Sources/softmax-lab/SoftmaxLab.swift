import ArgumentParser

/// The `softmax-lab` command: an interactive explorer by default, plus `eval` and `gradcheck`.
@main
struct SoftmaxLab: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "softmax-lab",
    abstract: "Softmax and cross-entropy, step by step: values, gradients, Jacobian and numerical stability.",
    discussion: """
      With no subcommand it starts the explorer, which takes the options of `softmax-lab explore`. \
      --generate-completion-script bash, zsh or fish prints a completion script for that shell (the last example \
      loads it into bash).

      Examples:
        softmax-lab
        softmax-lab --logits 1000,1001,1002 --target 2 --theme light
        softmax-lab tour
        softmax-lab lesson --check examples/lessons/stability.md
        softmax-lab eval --logits 1,2,3 --target 2 --format json
        source <(softmax-lab --generate-completion-script bash)
      """,
    version: "0.1.0",
    subcommands: [ExploreCommand.self, EvalCommand.self, GradcheckCommand.self, TourCommand.self, LessonCommand.self, QuizCommand.self, BenchCommand.self],
    defaultSubcommand: ExploreCommand.self
  )
}
