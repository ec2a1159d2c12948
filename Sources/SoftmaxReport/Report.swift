import SoftmaxCore

/// Reports of one `Evaluation` as plain text, JSON, Markdown and LaTeX.
///
/// Every builder is a pure function from an evaluation to a `String`: no I/O, no Foundation. The Markdown and LaTeX
/// reports are the same worked example (built once as a `Document`) rendered two ways.
public enum Report {
  /// An aligned, readable report for a terminal: a table of every per-class quantity, the loss, the overflow
  /// diagnosis, the precision's thresholds and the gradient checks.
  ///
  /// - Parameters:
  ///   - ev: the evaluation to report.
  ///   - fullDigits: print the shortest round-trip digits of each value in its precision instead of 4 significant
  ///     digits.
  /// - Returns: the report, ending in a newline. For a large `C` the table shows the first and last rows and the
  ///   target, and says how many rows it hid.
  public static func text(_ ev: Evaluation, fullDigits: Bool) -> String {
    TextReport(ev, fullDigits: fullDigits).render()
  }

  /// The JSON contract other tools read; see `JSONReport` for the keys.
  ///
  /// - Parameters:
  ///   - ev: the evaluation to report.
  ///   - includeJacobian: include the `C × C` Jacobian even when `C` is above `JSONReport.jacobianLimit` (512).
  ///   - excludeJacobian: leave it out at any size.
  /// - Returns: a pretty-printed JSON object, ending in a newline. Numbers round-trip in the problem's precision;
  ///   non-finite values are the strings `"inf"`, `"-inf"` and `"nan"`.
  public static func json(_ ev: Evaluation, includeJacobian: Bool, excludeJacobian: Bool = false) -> String {
    JSONReport(ev, includeJacobian: includeJacobian, excludeJacobian: excludeJacobian).render()
  }

  /// A worked example for a handout, in Markdown with LaTeX math (`$…$` inline, `$$…$$` displayed).
  public static func markdown(_ ev: Evaluation) -> String {
    WorkedExample(ev).document().markdown()
  }

  /// The worked example as a standalone LaTeX document (`article` with `amsmath`), ready for `pdflatex`.
  public static func latex(_ ev: Evaluation) -> String {
    WorkedExample(ev).document().latex(title: "Softmax and cross-entropy: a worked example")
  }
}

/// The classes a report shows when it cannot show all of them: the first and last few, and the target.
struct RowSelection {
  /// Indices shown, in increasing order.
  let shown: [Int]
  /// How many indices were left out.
  var hidden: Int { total - shown.count }
  let total: Int

  /// Every index when `total <= limit`; otherwise `head` first, `tail` last, plus `extra` (the target).
  init(total: Int, limit: Int, head: Int, tail: Int, extra: [Int]) {
    self.total = total
    if total <= limit {
      shown = Array(0..<total)
      return
    }
    var set = Set(0..<min(head, total))
    set.formUnion(max(0, total - tail)..<total)
    for e in extra where (0..<total).contains(e) { set.insert(e) }
    shown = set.sorted()
  }

  /// The shown indices with `nil` marking each run of hidden ones, and how many that run hides.
  var withGaps: [(index: Int?, skipped: Int)] {
    var out: [(index: Int?, skipped: Int)] = []
    var previous = -1
    for i in shown {
      if i > previous + 1 { out.append((nil, i - previous - 1)) }
      out.append((i, 0))
      previous = i
    }
    if previous < total - 1 { out.append((nil, total - 1 - previous)) }
    return out
  }
}

extension Evaluation {
  /// A class other than the target for the off-diagonal examples and checks (class 0, or 1 when the target is 0);
  /// nil when there is only one class.
  var otherClass: Int? {
    guard problem.classes > 1 else { return nil }
    return problem.target == 0 ? 1 : 0
  }

  /// The classes whose gradient the reports check: the target and class 0 (once each).
  var checkedClasses: [Int] {
    problem.target == 0 ? [0] : [problem.target, 0]
  }
}

/// Groups the digits of a count by thousands: `131072 → "131,072"`.
func grouped(_ n: Int) -> String {
  let digits = String(n.magnitude)
  var out = ""
  for (k, ch) in digits.enumerated() {
    if k > 0 && (digits.count - k) % 3 == 0 { out.append(",") }
    out.append(ch)
  }
  return n < 0 ? "-" + out : out
}
