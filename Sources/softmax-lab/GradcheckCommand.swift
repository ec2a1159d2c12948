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
                            [--precision <name>] [--sample <K>]
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

  /// Testing: make the gradient wrong in one element, `ROW,CLASS[,FRACTION]` (default fraction 0.01): that element
  /// becomes `(1 + FRACTION)·exact`, rounded into the precision.
  @Option(help: .private)
  var corrupt: String?

  func validate() throws {
    guard Precision(name: precision) != nil else {
      throw ValidationError("unknown precision '\(precision)' (expected float16, bfloat16, float32 or float64)")
    }
    guard batch >= 1 else { throw ValidationError("--batch \(batch) must be at least 1") }
    guard (1...BatchGradientCheck.maximumClasses).contains(classes) else {
      throw ValidationError(
        "--classes \(classes) must be in 1...\(BatchGradientCheck.maximumClasses) (the lab's limit on one vector)")
    }
    if let sample, sample < 1 { throw ValidationError("--sample \(sample) must be at least 1") }
    _ = try corruption()
  }

  private func corruption() throws -> BatchGradientCheck.Corruption? {
    guard let corrupt else { return nil }
    let parts = corrupt.split(separator: ",")
    guard (2...3).contains(parts.count), let row = Int(parts[0]), let column = Int(parts[1]),
      (0..<batch).contains(row), (0..<classes).contains(column)
    else {
      throw ValidationError("--corrupt \(corrupt): expected ROW,CLASS[,FRACTION] inside the batch")
    }
    let fraction = parts.count == 3 ? Double(parts[2]) : 0.01
    guard let fraction else { throw ValidationError("--corrupt \(corrupt): the fraction is not a number") }
    return .init(row: row, column: column, relative: fraction)
  }

  func run() throws {
    let p = Precision(name: precision) ?? .float64
    var check = BatchGradientCheck(batch: batch, classes: classes, seed: seed, precision: p, sample: sample)
    check.corruption = try corruption()
    let outcome = check.run()
    let f = { (x: Double) in DecimalFormat.significant(x, digits: 3) }
    // Enough digits to tell the kernel's value from the exact one: the precision's round-trip digits and two more.
    let digits = Int((Double(p.facts.significandBits) * 0.30103).rounded(.up)) + 3
    let full = { (x: Double) in DecimalFormat.significant(x, digits: digits) }
    let size = check.elements.map { "\($0) elements" } ?? "more than \(Int.max) elements"
    print("gradcheck: \(batch) × \(classes) logits in \(p.rawValue) (seed \(seed)), \(size)")
    if check.checksEveryElement {
      print("checked   every element")
    } else {
      let why = sample == nil ? "the default sample above \(BatchGradientCheck.fullCheckLimit) elements" : "--sample"
      let rows = (outcome.checked + classes - 1) / classes
      print(
        "checked   \(outcome.checked) elements in \(rows) seeded random rows (\(why); "
          + "the other rows are not computed)")
    }
    print("gradient  the fused softmax + cross-entropy kernel (\(check.isa)), g·(s_n − δ_nT), random g per row")
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

  /// The reference's format: float80 for float64 on x86, float64 otherwise.
  private func wideName(_ p: Precision) -> String {
    #if arch(x86_64) || arch(i386)
      p == .float64 ? "float80" : "float64"
    #else
      "float64"
    #endif
  }
}
