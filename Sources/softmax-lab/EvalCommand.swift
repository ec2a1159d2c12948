import ArgumentParser
import SoftmaxCore
import SoftmaxReport

/// `softmax-lab eval`: evaluates one problem and prints a report.
struct EvalCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "eval",
    abstract: "Evaluate softmax, loss, gradient and Jacobian for one vector and print a report.",
    discussion: """
      Numbers: decimals, exponents, hex floats (0x1p-3), a leading + or −, and inf/∞. -inf (or −∞) masks a \
      class; NaN and +inf are refused. Every value is rounded to the nearest value of --precision: -0 stays -0, \
      a denormal is kept where the precision has it and otherwise rounds to 0 (1e-400 reads as 0), and a value \
      beyond the precision's largest finite one is refused.

      Lists: commas and/or spaces, tabs or newlines (LF or CRLF); one trailing comma is ignored; # starts a \
      comment; a file may begin with a UTF-8 byte-order mark; blank lines are skipped. A file holds one vector: \
      one line, one number per line, or a list wrapped once; several lines of several numbers (a batch) are \
      refused, as batches are not supported yet.

      Limits: at most 1048576 (2^20) classes; --logits-file reads at most 128 MiB, a file or standard input (-).

      Examples:
        softmax-lab eval --logits 1,2,3 --target 2
        softmax-lab eval --logits=-1,0,1 --format json
        softmax-lab eval --logits 1000,1001,1002 --target 2 --precision float16
        softmax-lab eval --random 1000 --seed 3 --format markdown > handout.md
        softmax-lab eval --logits-file examples/logits.npy --format latex > ex.tex
        python3 make_logits.py | softmax-lab eval --logits-file -
        softmax-lab eval --load examples/session.json --format json
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
