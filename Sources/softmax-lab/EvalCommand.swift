import ArgumentParser
import SoftmaxCore
import SoftmaxReport

/// `softmax-lab eval`: evaluates one problem and prints a report.
struct EvalCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "eval",
    abstract: "Evaluate softmax, loss, gradient and Jacobian for one vector (or a batch) and print a report.",
    discussion: """
      Numbers: decimals, exponents, hex floats (0x1p-3), a leading + or −, and inf/∞. -inf (or −∞) masks a \
      class; NaN and +inf are refused. Every value is rounded to the nearest value of --precision: -0 stays -0, \
      a denormal is kept where the precision has it and otherwise rounds to 0 (1e-400 reads as 0), and a value \
      beyond the precision's largest finite one is refused.

      Lists: commas and/or spaces, tabs or newlines (LF or CRLF); one trailing comma is ignored; # starts a \
      comment; a file may begin with a UTF-8 byte-order mark; blank lines are skipped. A file holds one vector: \
      one line, one number per line, or a list wrapped once; several lines of several numbers are a batch, \
      read as one only with --targets-file.

      Batches: --logits-file X --targets-file T reads N rows of C logits (a 2-D .npy, C order, or one row per \
      line) and N class indices, and evaluates them as PyTorch's cross_entropy(input, target, weight, \
      ignore_index, reduction, label_smoothing) does: --reduction mean divides by the sum of the targets' weights \
      over the rows not ignored (their count without weights), ignored rows get loss 0 and gradient 0, and \
      --upstream-file (with --reduction none) gives each row's ∂l/∂c_b. Each row is the single-vector path's \
      evaluation; the reduction is summed in a wider format.

      Limits: at most 1048576 (2^20) classes; --logits-file reads at most 128 MiB, a file or standard input (-).

      Examples:
        softmax-lab eval --logits 1,2,3 --target 2
        softmax-lab eval --logits=-1,0,1 --format json
        softmax-lab eval --logits 1000,1001,1002 --target 2 --precision float16
        softmax-lab eval --random 1000 --seed 3 --format markdown > handout.md
        softmax-lab eval --logits-file examples/logits.npy --format latex > ex.tex
        python3 make_logits.py | softmax-lab eval --logits-file -
        softmax-lab eval --logits-file examples/b.txt --targets-file examples/t.txt
        softmax-lab eval --load examples/session.json --format json
      """
  )

  /// The output formats.
  enum Format: String, ExpressibleByArgument, CaseIterable {
    case text, json, markdown, latex
  }

  @OptionGroup var input: InputOptions

  @OptionGroup(title: "Batches (PyTorch's cross_entropy)") var batch: BatchOptions

  @Option(help: "Output format: text (aligned report), json (for tools), markdown (worked example), latex.")
  var format: Format = .text

  @Flag(help: "Include the C×C Jacobian in the JSON even above 512 classes.")
  var jacobian = false

  @Flag(help: "Leave the Jacobian out of the JSON.")
  var noJacobian = false

  @Flag(help: "Print every digit needed to round-trip in the precision (text format) instead of 4 significant.")
  var fullDigits = false

  /// The validated problem, made in `validate()` so an error is reported with this subcommand's usage.
  private var problem: Problem?
  /// The validated batch, when `--targets-file` is given.
  private var batchProblem: BatchProblem?

  private enum CodingKeys: String, CodingKey {
    case input, batch, format, jacobian, noJacobian, fullDigits
  }

  mutating func validate() throws {
    if jacobian && noJacobian { throw ValidationError("give only one of --jacobian and --no-jacobian") }
    if batch.isBatch {
      if format == .latex { throw ValidationError("a batch report is text, json or markdown (not latex)") }
      batchProblem = try batch.makeBatch(input)
      return
    }
    if batch.upstreamFile != nil || batch.weightFile != nil || batch.reduction != nil || batch.ignoreIndex != nil
      || batch.saveNpy != nil
    {
      throw ValidationError(
        "--upstream-file, --weight-file, --reduction, --ignore-index and --save-npy need a batch (--targets-file)")
    }
    problem = try input.makeProblem()
  }

  func run() throws {
    if batch.isBatch {
      let ev = BatchEvaluation(try batchProblem ?? batch.makeBatch(input))
      if let dir = batch.saveNpy { try saveNpy(ev, to: dir) }
      switch format {
      case .json: print(Report.json(ev), terminator: "")
      case .markdown: print(Report.markdown(ev), terminator: "")
      case .text, .latex: print(Report.text(ev, fullDigits: fullDigits), terminator: "")
      }
      return
    }
    let ev = Evaluation(try problem ?? input.makeProblem())
    let report: String
    switch format {
    case .text: report = Report.text(ev, fullDigits: fullDigits)
    case .json: report = Report.json(ev, includeJacobian: jacobian, excludeJacobian: noJacobian)
    case .markdown: report = Report.markdown(ev)
    case .latex: report = Report.latex(ev)
    }
    print(report, terminator: "")
  }

  /// Writes `softmax.npy`, `gradient.npy` (N×C) and `row_loss.npy` (N) into `dir`, each atomically.
  private func saveNpy(_ ev: BatchEvaluation, to dir: String) throws {
    let p = ev.problem
    let files: [(String, [Double], [Int])] = [
      ("softmax.npy", ev.softmax, [p.rows, p.classes]), ("gradient.npy", ev.gradient, [p.rows, p.classes]),
      ("row_loss.npy", ev.rowLoss, [p.rows]),
    ]
    for (name, values, shape) in files {
      let (bytes, _) = NPYParser.encode(values, shape: shape, in: p.precision)
      do {
        try AtomicFile.write(bytes, to: dir + "/" + name)
      } catch {
        throw ValidationError("--save-npy: \(error)")
      }
    }
  }
}
