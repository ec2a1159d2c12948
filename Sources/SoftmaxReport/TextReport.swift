import SoftmaxCore
import SoftmaxText

/// The plain-text report: a header, an aligned per-class table, the loss, the naive-softmax diagnosis, the
/// precision's thresholds and the gradient checks.
struct TextReport {
  /// Up to this many classes the table shows every row.
  static let rowLimit = 24

  let ev: Evaluation
  let fullDigits: Bool

  init(_ ev: Evaluation, fullDigits: Bool) {
    self.ev = ev
    self.fullDigits = fullDigits
  }

  /// A value of the problem's precision: 4 significant digits, or every digit needed to round-trip.
  func f(_ x: Double) -> String {
    fullDigits && x.isFinite ? ev.problem.precision.roundTrip(x) : DecimalFormat.significant(x, digits: 4)
  }

  func render() -> String {
    let p = ev.problem
    var lines: [String] = []
    var knobs = ["τ = \(f(p.temperature))"]
    if p.softTarget != nil {
      knobs.append("soft target")
    } else {
      knobs.append("ε = \(f(p.labelSmoothing))")
    }
    knobs += ["g = ∂l/∂c = \(f(p.upstream))", "η = \(f(p.learningRate))"]
    lines.append(
      "softmax-lab · \(grouped(p.classes)) \(p.classes == 1 ? "class" : "classes") · \(p.precision.rawValue) · "
        + "target T = \(p.target)")
    lines.append(knobs.joined(separator: " · "))
    lines.append("")
    lines += table()
    lines.append("")
    lines += losses()
    lines.append("")
    lines += diagnosis()
    lines.append("")
    lines += checks()
    return lines.joined(separator: "\n") + "\n"
  }

  /// The per-class table, truncated to the first and last rows and the target for a large `C`.
  func table() -> [String] {
    let header = ["i", "x_i", "z_i", "e^{z_i} naive", "s_i", "y_i", "∂l/∂x_i", "x_i after step"]
    let selection = RowSelection(
      total: ev.problem.classes, limit: TextReport.rowLimit, head: 10, tail: 10, extra: [ev.problem.target])
    var rows: [[String]?] = []
    for entry in selection.withGaps {
      guard let i = entry.index else {
        rows.append(nil)
        continue
      }
      rows.append([
        i == ev.problem.target ? "\(i) T" : String(i), f(ev.problem.logits[i]), f(ev.scaled[i]),
        f(ev.naive.exps[i]), f(ev.softmax[i]), f(ev.targetDistribution[i]), f(ev.gradient[i]),
        f(ev.updatedLogits[i]),
      ])
    }
    var widths = header.map(\.count)
    for row in rows.compactMap({ $0 }) {
      for (k, cell) in row.enumerated() { widths[k] = max(widths[k], cell.count) }
    }
    func line(_ cells: [String]) -> String {
      cells.enumerated().map { k, cell in
        String(repeating: " ", count: widths[k] - cell.count) + cell
      }.joined(separator: " │ ")
    }
    var out = [line(header), widths.map { String(repeating: "─", count: $0) }.joined(separator: "─┼─")]
    var gaps = selection.withGaps.makeIterator()
    for row in rows {
      let entry = gaps.next()
      if let row {
        out.append(line(row))
      } else {
        let n = entry?.skipped ?? 0
        out.append(line(["⋮"] + Array(repeating: "", count: header.count - 1)) + "   (\(grouped(n)) rows hidden)")
      }
    }
    if selection.hidden > 0 {
      out.append("(\(grouped(selection.hidden)) of \(grouped(selection.total)) rows hidden; T marks the target)")
    } else {
      out.append("(T marks the target)")
    }
    return out
  }

  /// Sums, log-sum-exp, the loss computed three ways and the loss after the step.
  func losses() -> [String] {
    let p = ev.problem
    let lse = ev.logSumExp
    var rows: [(String, String)] = [
      ("σ = Σ e^{z_j} (naive)", f(ev.naive.sum)),
      ("M = max z (class \(ev.stable.argmax))", f(ev.stable.max)),
      ("Σ e^{z_j − M} (stable)", f(ev.stable.sum)),
      ("LSE(z) = M + log Σ e^{z_j − M}", f(lse.value)),
      ("loss c (stable, log-sum-exp)", f(ev.loss)),
      ("loss c (naive softmax)", f(ev.lossNaive)),
      ("loss c (−Σ y log s, stable s)", f(ev.lossFromStableSoftmax)),
    ]
    rows.append(("loss after one step", ev.stepRefusal == nil ? f(ev.updatedLoss) : "refused"))
    if p.isOneHot {
      rows.append(("Σ_n ∂l/∂x_n (0 for one-hot y)", f(ev.gradient.reduce(0, +))))
    }
    let width = rows.map(\.0.count).max() ?? 0
    var out = rows.map { $0.0 + String(repeating: " ", count: width - $0.0.count) + " = " + $0.1 }
    let naiveGap = maxDifference(ev.naive.probabilities, ev.softmax)
    let onlineGap = maxDifference(ev.onlineProbabilities, ev.softmax)
    out.append("max |s naive − s stable| = \(f(naiveGap)) · max |s online − s stable| = \(f(onlineGap))")
    if let note = ev.lossNote { out.append("note: \(note)") }
    if let refusal = ev.stepRefusal { out.append("step refused: \(refusal)") }
    return out
  }

  /// The naive-softmax verdict and the thresholds of the precision.
  func diagnosis() -> [String] {
    let o = ev.overflow
    let facts = ev.problem.precision.facts
    let d = { (x: Double) in DecimalFormat.significant(x, digits: 6) }
    var out = ["naive softmax: \(o.label) — \(o.diagnosis)"]
    func list(_ name: String, _ a: [Int]) {
      guard !a.isEmpty else { return }
      let shown = a.prefix(8).map(String.init).joined(separator: ", ")
      out.append("  \(name): \(shown)\(a.count > 8 ? ", … (\(grouped(a.count)) in all)" : "")")
    }
    list("e^{z_i} overflows at", o.overflowing)
    list("e^{z_i} underflows to 0 at", o.underflowing)
    list("e^{z_i} is subnormal at", o.subnormal)
    out.append(
      "\(facts.precision.rawValue): \(facts.significandBits)-bit significand, ε = \(d(facts.ulpOfOne)), "
        + "max finite = \(d(facts.maxFinite)), least normal = \(d(facts.leastNormal)), "
        + "least subnormal = \(d(facts.leastNonzero))")
    out.append(
      "  e^z overflows for z > \(d(facts.expOverflow)), is subnormal for z < \(d(facts.expSubnormal)), "
        + "rounds to 0 for z ≤ \(d(facts.expZero))")
    return out
  }

  /// Chain rule, closed form and central difference for the target and class 0, judged by relative error.
  func checks() -> [String] {
    var out = ["gradient checks (chain rule = closed form g(s_n − y_n)/τ ≈ central difference; relative errors):"]
    let e = { (x: Double) in DecimalFormat.significant(x, digits: 2) }
    func mark(_ v: CheckVerdict, _ tolerance: String) -> String {
      switch v {
      case .agrees: "≤ \(tolerance) ✓"
      case .differs: "> \(tolerance) ✗"
      case .unresolved: "against a tolerance of \(tolerance): too coarse to tell ?"
      }
    }
    for n in ev.checkedClasses {
      let check = ev.gradientCheck(n)
      let label = n == ev.problem.target ? "class \(n) (target)" : "class \(n)"
      var line =
        "  \(label): chain rule \(f(check.chain)), closed form \(f(check.closed)): relative error "
        + "\(e(check.chainRelativeError)) \(mark(check.chainVerdict, e(check.chainRelativeTolerance)))"
      if let fd = check.finite {
        line +=
          "; central difference \(f(fd.estimate)) (h = \(e(fd.step))): relative error \(e(fd.relativeError)) "
          + mark(fd.verdict, e(fd.relativeTolerance))
      } else {
        line += " (no finite difference: the class is masked)"
      }
      out.append(line)
    }
    return out
  }
}

/// `max_i |a_i − b_i|`, NaN when any difference is NaN (equal entries, infinities included, differ by 0).
func maxDifference(_ a: [Double], _ b: [Double]) -> Double {
  var worst = 0.0
  for i in a.indices where a[i] != b[i] {
    let d = abs(a[i] - b[i])
    if d.isNaN { return .nan }
    worst = max(worst, d)
  }
  return worst
}
