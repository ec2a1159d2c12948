import ArgumentParser
import SoftmaxCore

/// `softmax-lab gradcheck`: the analytic gradient against a central difference of the loss, over a random batch.
struct GradcheckCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "gradcheck",
    abstract: "Check the analytic gradient against central finite differences on a random batch.",
    discussion: """
      Each row has normally distributed logits and a random target. For every element the closed form
      g(s_n − y_n)/τ is compared with (c(x + h e_n) − c(x − h e_n))/2h, computed in the chosen precision with
      h ≈ ε^(1/3)·max(1, |x_n|). The check fails (exit code 1) if any element is off by more than its tolerance,
      16·ε^(2/3)·(1 + |c|/s + s²) with s = max(1, |x_n|), which bounds the truncation and rounding error of the
      difference.
      """
  )

  /// The largest `N·C²` (elements times classes, the work of the checks) accepted.
  static let maximumWork = 1 << 21

  @Option(help: ArgumentHelp("Rows in the batch.", valueName: "N"))
  var batch: Int = 8

  @Option(help: ArgumentHelp("Classes per row.", valueName: "C"))
  var classes: Int = 10

  @Option(help: ArgumentHelp("Seed of the random batch.", valueName: "S"))
  var seed: UInt64 = 0

  @Option(help: ArgumentHelp("float16, bfloat16, float32 or float64.", valueName: "name"))
  var precision: String = "float64"

  func validate() throws {
    guard Precision(name: precision) != nil else {
      throw ValidationError("unknown precision '\(precision)' (expected float16, bfloat16, float32 or float64)")
    }
    guard batch >= 1 else { throw ValidationError("--batch \(batch) must be at least 1") }
    guard classes >= 1 else { throw ValidationError("--classes \(classes) must be at least 1") }
    let (work, overflow) = batch.multipliedReportingOverflow(by: classes)
    let (work2, overflow2) = work.multipliedReportingOverflow(by: classes)
    guard !overflow, !overflow2, work2 <= GradcheckCommand.maximumWork else {
      throw ValidationError(
        "--batch \(batch) --classes \(classes) is too much work: batch × classes² must be at most "
          + "\(GradcheckCommand.maximumWork) (each of the N·C checks evaluates the loss over C classes)")
    }
  }

  func run() throws {
    let p = Precision(name: precision) ?? .float64
    var rng = SeededRandom(seed: seed)
    var worstAbsolute = (error: 0.0, row: 0, column: 0)
    var worstRelative = 0.0
    var worstRatio = (ratio: 0.0, tolerance: 0.0)
    var failures = 0
    for row in 0..<batch {
      let logits = (0..<classes).map { _ in rng.nextNormal() }
      let target = Int(rng.next() % UInt64(classes))
      let ev = Evaluation(try Problem(logits: logits, target: target, precision: p).validated())
      for n in 0..<classes {
        guard let fd = ev.finiteDifference(n) else { continue }
        let error = fd.error
        if !(error <= fd.tolerance) { failures += 1 }
        if !(error <= worstAbsolute.error) { worstAbsolute = (error, row, n) }
        let size = max(abs(fd.analytic), abs(fd.estimate))
        if size > 0 { worstRelative = max(worstRelative, error / size) }
        let ratio = error / fd.tolerance
        if !(ratio <= worstRatio.ratio) { worstRatio = (ratio, fd.tolerance) }
      }
    }
    let f = { (x: Double) in DecimalFormat.significant(x, digits: 3) }
    let eps = p.facts.ulpOfOne
    print("gradcheck: \(batch) × \(classes) logits in \(p.rawValue) (seed \(seed)), \(batch * classes) elements")
    print("max absolute error  \(f(worstAbsolute.error))  (row \(worstAbsolute.row), class \(worstAbsolute.column))")
    print("max relative error  \(f(worstRelative))  (|fd − analytic| / max(|fd|, |analytic|))")
    print(
      "tolerance           16·ε^(2/3)·(1 + |c|/s + s²), s = max(1, |x_n|), ε = \(f(eps)): "
        + "\(f(16 * pow23(eps))) at s = 1, c = 0; at the worst element \(f(worstRatio.tolerance))")
    print("worst error/tolerance \(f(worstRatio.ratio))")
    if failures > 0 {
      print("FAIL: \(failures) of \(batch * classes) elements exceed their tolerance")
      throw ExitCode.failure
    }
    print("PASS")
  }

  private func pow23(_ x: Double) -> Double { Double.pow(x, 2.0 / 3.0) }
}
