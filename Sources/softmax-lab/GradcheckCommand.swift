import ArgumentParser
import SoftmaxBench
import SoftmaxCore
import SoftmaxText

/// `softmax-lab gradcheck`: the fused batch kernel's gradient against the exact gradient on a random batch.
struct GradcheckCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "gradcheck",
    abstract: "Check the batch kernel's gradient against the exact gradient on a random batch.",
    // The parser never wraps a usage line: wrapped here to 80 columns (a test checks it names every option).
    usage: """
      softmax-lab gradcheck [--batch <N>] [--classes <C>] [--seed <S>]
                            [--precision <name>] [--sample <K>] [--json]
      softmax-lab gradcheck [--logits-file <X>] [--targets-file <T>]
                            [--upstream-file <G>] [--precision <name>] [--json]
      """,
    discussion: """
      Each row has normally distributed logits, a random target T and a random upstream gradient g in (0, 1], \
      rounded into the chosen precision (the article's PyTorch check: --batch 128 --classes 256). The gradient of \
      the fused softmax + cross-entropy kernel, g·(s_n − δ_nT), is compared element by element with the same \
      formula computed exactly in a wider format (float80 for float64, float64 for the others) from the same \
      rounded inputs, with −Σ_{j≠T} s_j for the target so nothing cancels. An element passes when \
      |got − exact| ≤ r·|exact| + a, with r = 4ε in float64 and float32 (a few ulps) and r = ε/2 + 16ε_float32 in \
      float16 and bfloat16 (computed in float32, rounded once), and a is a few least subnormals; a gradient off by 1% \
      fails in every precision. The check fails (exit code 1) if any element is off by more.

      Every element is checked up to \(BatchGradientCheck.fullCheckLimit) elements; above that a seeded sample \
      is (--sample K sets its size; only the rows holding checked elements are computed, so no batch is too big).

      A given batch is checked instead with --logits-file X --targets-file T [--upstream-file G], read as `eval` \
      reads a batch (every target a class: the fused kernel has no ignore index). --json prints the outcome and \
      each checked row's worst element.

      Examples:
        softmax-lab gradcheck --batch 128 --classes 256 --precision bfloat16
        softmax-lab gradcheck --batch 4096 --classes 32768 --sample 100000
      """
  )

  @Option(help: ArgumentHelp("Rows in the batch.", valueName: "N"))
  var batch: Int = 8

  @Option(help: ArgumentHelp("Classes per row (at most \(BatchGradientCheck.maximumClasses)).", valueName: "C"))
  var classes: Int = 10

  @Option(help: ArgumentHelp("Seed of the random batch and of the sample.", valueName: "S"))
  var seed: UInt64 = 0

  @Option(
    help: ArgumentHelp("float16, bfloat16, float32 or float64.", valueName: "name"),
    completion: .list(Precision.allCases.map(\.rawValue)))
  var precision: String = "float64"

  @Option(
    help: ArgumentHelp(
      "Check a seeded sample of K elements (default: every element up to \(BatchGradientCheck.fullCheckLimit), "
        + "else a sample).", valueName: "K"))
  var sample: Int?

  @Option(help: ArgumentHelp("Check this batch (N rows of C logits) instead of a random one.", valueName: "path"))
  var logitsFile: String?

  @Option(help: ArgumentHelp("The given batch's targets, one class index per row.", valueName: "path"))
  var targetsFile: String?

  @Option(help: ArgumentHelp("The given batch's upstream gradients g_b (default 1).", valueName: "path"))
  var upstreamFile: String?

  @Flag(help: "Print the outcome as JSON, with each checked row's worst element.")
  var json = false

  /// Testing: make the gradient wrong in one element, `ROW,CLASS[,FRACTION]` (default fraction 0.01): that element
  /// becomes `(1 + FRACTION)·exact`, rounded into the precision.
  @Option(help: .private)
  var corrupt: String?

  /// The given batch and its shape, read from the files (nil without --logits-file).
  private func givenBatch() throws -> (given: BatchGradientCheck.Given, rows: Int, classes: Int)? {
    guard let logitsFile else {
      if targetsFile != nil || upstreamFile != nil {
        throw ValidationError("--targets-file and --upstream-file need --logits-file (the batch to check)")
      }
      return nil
    }
    guard let targetsFile else { throw ValidationError("--logits-file needs --targets-file (a class per row)") }
    // Read and checked as `eval` reads a batch.
    let input = try BatchOptions.parse(
      ["--targets-file", targetsFile, "--reduction", upstreamFile == nil ? "sum" : "none"]
        + (upstreamFile.map { ["--upstream-file", $0] } ?? []))
    let logits = try InputOptions.parse(["--logits-file", logitsFile, "--precision", precision])
    let p = try input.makeBatch(logits)
    if let b = p.ignored.first {
      throw ValidationError(
        "\(targetsFile): row \(b) has the ignore index \(p.ignoreIndex) as its target; the fused kernel has no ignore "
          + "index, so every target must be a class")
    }
    return (.init(logits: p.logits, targets: p.targets, upstream: p.upstream), p.rows, p.classes)
  }

  func validate() throws {
    guard Precision(name: precision) != nil else {
      throw ValidationError("unknown precision '\(precision)' (expected float16, bfloat16, float32 or float64)")
    }
    if logitsFile != nil {
      let args = CommandLine.arguments
      if args.contains(where: { $0.hasPrefix("--batch") || $0.hasPrefix("--classes") || $0.hasPrefix("--seed") }) {
        throw ValidationError(
          "a given batch (--logits-file) has its own shape: --batch, --classes and --seed are for a random one")
      }
      let given = try givenBatch()
      _ = try corruption(rows: given?.rows, classes: given?.classes)
      return
    }
    if targetsFile != nil || upstreamFile != nil { _ = try givenBatch() }
    guard batch >= 1 else { throw ValidationError("--batch \(batch) must be at least 1") }
    guard (1...BatchGradientCheck.maximumClasses).contains(classes) else {
      throw ValidationError(
        "--classes \(classes) must be in 1...\(BatchGradientCheck.maximumClasses) (the lab's limit on one vector)")
    }
    if let sample, sample < 1 { throw ValidationError("--sample \(sample) must be at least 1") }
    _ = try corruption()
  }

  private func corruption(rows: Int? = nil, classes given: Int? = nil) throws -> BatchGradientCheck.Corruption? {
    guard let corrupt else { return nil }
    let parts = corrupt.split(separator: ",")
    guard (2...3).contains(parts.count), let row = Int(parts[0]), let column = Int(parts[1]),
      (0..<(rows ?? batch)).contains(row), (0..<(given ?? classes)).contains(column)
    else {
      throw ValidationError("--corrupt \(corrupt): expected ROW,CLASS[,FRACTION] inside the batch")
    }
    let fraction = parts.count == 3 ? Double(parts[2]) : 0.01
    guard let fraction else { throw ValidationError("--corrupt \(corrupt): the fraction is not a number") }
    return .init(row: row, column: column, relative: fraction)
  }

  func run() throws {
    let p = Precision(name: precision) ?? .float64
    let given = try givenBatch()
    var check = BatchGradientCheck(
      batch: given?.rows ?? batch, classes: given?.classes ?? classes, seed: seed, precision: p, sample: sample)
    check.given = given?.given
    check.corruption = try corruption(rows: given?.rows, classes: given?.classes)
    let outcome = check.run()
    if json {
      print(GradcheckCommand.json(check, outcome), terminator: "")
      if !outcome.passed { throw ExitCode.failure }
      return
    }
    let batch = check.batch
    let classes = check.classes
    let f = { (x: Double) in DecimalFormat.significant(x, digits: 3) }
    // Enough digits to tell the kernel's value from the exact one: the precision's round-trip digits and two more.
    let digits = Int((Double(p.facts.significandBits) * 0.30103).rounded(.up)) + 3
    let full = { (x: Double) in DecimalFormat.significant(x, digits: digits) }
    let size = check.elements.map { "\($0) elements" } ?? "more than \(Int.max) elements"
    let source = given == nil ? "seed \(seed)" : "from \(logitsFile ?? "")"
    print("gradcheck: \(batch) × \(classes) logits in \(p.rawValue) (\(source)), \(size)")
    if check.checksEveryElement {
      print("checked   every element")
    } else {
      let why = sample == nil ? "the default sample above \(BatchGradientCheck.fullCheckLimit) elements" : "--sample"
      let rows = (outcome.checked + classes - 1) / classes
      print(
        "checked   \(outcome.checked) elements in \(rows) seeded random rows (\(why); "
          + "the other rows are not computed)")
    }
    let upstreamWhat =
      given == nil ? "random g per row" : upstreamFile == nil ? "g = 1" : "g from \(upstreamFile ?? "")"
    print("gradient  the fused softmax + cross-entropy kernel (\(check.isa)), g·(s_n − δ_nT), \(upstreamWhat)")
    print("exact     the same in \(wideName(p)) from the rounded inputs, −g·Σ_{j≠T} s_j for the target")
    if let w = outcome.worstRelative {
      print(
        "max relative error  \(f(w.relativeError))  (row \(w.row), class \(w.column): \(p.roundTrip(w.value)) "
          + "against exact \(full(w.exact)))")
    }
    if outcome.subnormal > 0 {
      print("subnormal results    \(outcome.subnormal), held to the absolute part a of the tolerance")
    }
    let t = outcome.tolerance
    print(
      "tolerance           |got − exact| ≤ r·|exact| + a, r = \(t.formula) = \(f(t.relative)), a = \(f(t.absolute))"
        + " (ε = \(f(p.facts.ulpOfOne)))")
    if let w = outcome.worstRatio { print("worst error/tolerance \(f(w.ratio))") }
    if let first = outcome.firstFailure {
      print(
        "FAIL: \(outcome.failures) of \(outcome.checked) elements exceed their tolerance; first at row \(first.row), "
          + "class \(first.column): \(p.roundTrip(first.value)) against exact \(full(first.exact)), relative error "
          + "\(f(first.relativeError)) > r = \(f(t.relative))")
      throw ExitCode.failure
    }
    print("PASS")
  }

  /// The outcome as JSON: the batch, the tolerance, the counts, the worst element, and each checked row's worst.
  static func json(_ check: BatchGradientCheck, _ o: BatchGradientCheck.Outcome) -> String {
    func element(_ e: BatchGradientCheck.Element) -> String {
      "{\"row\": \(e.row), \"class\": \(e.column), \"value\": \(number(e.value)), \"exact\": \(number(e.exact)), "
        + "\"relative_error\": \(number(e.relativeError)), \"error_over_tolerance\": \(number(e.ratio))}"
    }
    func number(_ x: Double) -> String {
      x.isFinite ? x.description : x.isNaN ? "\"nan\"" : x < 0 ? "\"-inf\"" : "\"inf\""
    }
    var out = "{\n  \"batch\": \(check.batch),\n  \"classes\": \(check.classes),\n"
    out += "  \"precision\": \"\(check.precision.rawValue)\",\n  \"given\": \(check.given != nil),\n"
    out += "  \"checked\": \(o.checked),\n  \"failures\": \(o.failures),\n  \"passed\": \(o.passed),\n"
    out +=
      "  \"tolerance\": {\"relative\": \(number(o.tolerance.relative)), \"absolute\": \(number(o.tolerance.absolute)), "
    out += "\"formula\": \"\(o.tolerance.formula)\"},\n"
    out += "  \"worst\": \(o.worstRatio.map(element) ?? "null"),\n"
    out += "  \"first_failure\": \(o.firstFailure.map(element) ?? "null"),\n"
    out += "  \"rows\": [\n" + o.rowWorst.map { "    " + element($0) }.joined(separator: ",\n") + "\n  ]\n}\n"
    return out
  }

  /// The reference's format: float80 for float64 on x86, float64 otherwise.
  private func wideName(_ p: Precision) -> String {
    #if arch(x86_64) || arch(i386)
      p == .float64 ? "float80" : "float64"
    #else
      "float64"
    #endif
  }
}
