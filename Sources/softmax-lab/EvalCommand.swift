import ArgumentParser
import SoftmaxCore
import SoftmaxReport

/// `softmax-lab eval`: evaluates one problem and prints a report.
struct EvalCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "eval",
    abstract: "Evaluate softmax, loss, gradient and Jacobian for one vector and print a report.",
    discussion: """
      Examples:
        softmax-lab eval --logits 1,2,3 --target 2
        softmax-lab eval --logits=-1,0,1 --format json
        softmax-lab eval --random 1000 --seed 7 --precision float16 --format markdown > handout.md
      """
  )

  /// The output formats.
  enum Format: String, ExpressibleByArgument, CaseIterable {
    case text, json, markdown, latex
  }

  @OptionGroup var input: InputOptions

  @Option(help: "Output format: text (aligned report), json (for tools), markdown (worked example), latex.")
  var format: Format = .text

  @Flag(help: "Include the C×C Jacobian in the JSON even above 512 classes.")
  var jacobian = false

  @Flag(help: "Print every digit needed to round-trip in the precision (text format) instead of 4 significant.")
  var fullDigits = false

  /// The validated problem, made in `validate()` so an error is reported with this subcommand's usage.
  private var problem: Problem?

  private enum CodingKeys: String, CodingKey {
    case input, format, jacobian, fullDigits
  }

  mutating func validate() throws {
    problem = try input.makeProblem()
  }

  func run() throws {
    let ev = Evaluation(try problem ?? input.makeProblem())
    let report: String
    switch format {
    case .text: report = Report.text(ev, fullDigits: fullDigits)
    case .json: report = Report.json(ev, includeJacobian: jacobian)
    case .markdown: report = Report.markdown(ev)
    case .latex: report = Report.latex(ev)
    }
    print(report, terminator: "")
  }
}
