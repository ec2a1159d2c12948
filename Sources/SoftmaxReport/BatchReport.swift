import SoftmaxCore
import SoftmaxText

extension Report {
  /// A batch as JSON: `batch` (N), `classes` (C), `precision`, `reduction`, `ignore_index`, `label_smoothing`,
  /// `weights` and `upstream` (only when given), `targets`, `loss` (a number for `mean` and `sum`, the N per-row
  /// losses for `none`), `row_loss` (always the N per-row losses), `divisor` (`mean`'s `Σ w_T`, else 1), `ignored`
  /// (row indices), `softmax` and `gradient` (N rows of C; the gradient of the reduced loss, or of `Σ_b g_b l_b`
  /// with upstream gradients). Numbers round-trip in the precision; non-finite values are `"inf"`, `"-inf"`, `"nan"`.
  public static func json(_ ev: BatchEvaluation) -> String {
    let p = ev.problem
    var out = ""
    out.reserveCapacity(256 + p.rows * p.classes * 24)
    func number(_ x: Double) {
      guard x.isFinite else {
        out += x.isNaN ? "\"nan\"" : (x < 0 ? "\"-inf\"" : "\"inf\"")
        return
      }
      let s = p.precision.roundTrip(x)
      out += JSONReport.isNumber(s) ? s : x.description
    }
    func numbers(_ xs: ArraySlice<Double>) {
      out += "["
      for (k, x) in xs.enumerated() {
        if k > 0 { out += ", " }
        number(x)
      }
      out += "]"
    }
    func matrix(_ xs: [Double]) {
      out += "[\n"
      for b in 0..<p.rows {
        out += b == 0 ? "    " : ",\n    "
        numbers(xs[(b * p.classes)..<((b + 1) * p.classes)])
      }
      out += "\n  ]"
    }
    out += "{\n  \"batch\": \(p.rows),\n  \"classes\": \(p.classes),\n"
    out += "  \"precision\": \(JSONReport.quoted(p.precision.rawValue)),\n"
    out += "  \"reduction\": \(JSONReport.quoted(p.reduction.rawValue)),\n"
    out += "  \"ignore_index\": \(p.ignoreIndex),\n  \"label_smoothing\": "
    number(p.labelSmoothing)
    if let w = p.weights {
      out += ",\n  \"weights\": "
      numbers(w[...])
    }
    if let g = p.upstream {
      out += ",\n  \"upstream\": "
      numbers(g[...])
    }
    out += ",\n  \"targets\": [" + p.targets.map(String.init).joined(separator: ", ") + "]"
    out += ",\n  \"loss\": "
    if p.reduction == .none { numbers(ev.rowLoss[...]) } else { number(ev.loss) }
    out += ",\n  \"row_loss\": "
    numbers(ev.rowLoss[...])
    out += ",\n  \"divisor\": \(JSONReport.double(ev.divisor))"
    out += ",\n  \"ignored\": [" + ev.ignored.map(String.init).joined(separator: ", ") + "]"
    out += ",\n  \"softmax\": "
    matrix(ev.softmax)
    out += ",\n  \"gradient\": "
    matrix(ev.gradient)
    out += "\n}\n"
    return out
  }

  /// A batch as aligned text: the options, the reduced loss with its divisor, and a table of rows (target, loss,
  /// the largest gradient entry), the first and last rows when there are many.
  public static func text(_ ev: BatchEvaluation, fullDigits: Bool) -> String {
    let p = ev.problem
    func fmt(_ x: Double) -> String {
      fullDigits && x.isFinite ? p.precision.roundTrip(x) : DecimalFormat.significant(x, digits: 4)
    }
    var out = "Batch: \(p.rows) rows × \(p.classes) classes, \(p.precision.rawValue), reduction \(p.reduction.rawValue)"
    if p.labelSmoothing != 0 { out += ", label smoothing \(fmt(p.labelSmoothing))" }
    if p.weights != nil { out += ", class weights" }
    if p.upstream != nil { out += ", upstream gradients" }
    out += "\n"
    if !ev.ignored.isEmpty {
      out += "ignored rows (target \(p.ignoreIndex)): \(ev.ignored.count): loss 0 and gradient 0 there\n"
    }
    switch p.reduction {
    case .none:
      out += "loss: one per row (below)\n"
    case .sum:
      out += "loss = Σ_b l_b = \(fmt(ev.loss))\n"
    case .mean:
      let what = p.weights == nil ? "rows not ignored" : "Σ_b w_{T_b} over rows not ignored"
      out += "loss = Σ_b l_b / D = \(fmt(ev.loss)), D = \(fmt(ev.divisor)) (\(what)); every row's gradient × 1/D\n"
    }
    let rows = RowSelection(total: p.rows, limit: 24, head: 10, tail: 4, extra: [])
    out += "\n   row  target        loss    max |∂l/∂x|\n"
    for b in rows.shown {
      var largest = 0.0
      for j in 0..<p.classes { largest = Swift.max(largest, abs(ev.gradient[b * p.classes + j])) }
      let target = p.isIgnored(b) ? "ignored" : String(p.targets[b])
      out += pad(String(b), 6) + pad(target, 8) + pad(fmt(ev.rowLoss[b]), 12) + pad(fmt(largest), 15) + "\n"
    }
    if rows.hidden > 0 { out += "   (\(rows.hidden) rows not shown; --format json has them all)\n" }
    return out
  }

  /// A batch as a Markdown handout: the batch form of the gradient, the reduction's factor, and the rows' losses.
  public static func markdown(_ ev: BatchEvaluation) -> String {
    let p = ev.problem
    func n(_ x: Double) -> String { DecimalFormat.significant(x, digits: 4) }
    var d = Document()
    d.heading(1, "A batch: \(p.rows) rows of \(p.classes) classes")
    d.paragraph(
      "Each row $b$ has its own logits $x_b$, softmax $s_b$ and loss $l_b$; PyTorch's `cross_entropy` with "
        + "`reduction='\(p.reduction.rawValue)'`"
        + (p.weights == nil ? "" : ", class weights $w$")
        + (p.labelSmoothing == 0 ? "" : ", label smoothing $\\varepsilon$")
        + " and `ignore_index=\(p.ignoreIndex)`. In `\(p.precision.rawValue)`.")
    let rowLoss =
      p.weights == nil && p.labelSmoothing == 0
      ? "l_b = -\\log s_{b,T_b}"
      : "l_b = (1-\\varepsilon)\\, w_{T_b} (-\\log s_{b,T_b}) + \\frac{\\varepsilon}{C} \\sum_c w_c (-\\log s_{b,c})"
    d.math(rowLoss)
    switch p.reduction {
    case .none:
      d.paragraph(
        "With `none` the loss is the vector of the $l_b$, and an upstream gradient $g_b = \\partial l/\\partial l_b$ "
          + "scales each row: $\\partial l/\\partial x_{b,n} = g_b\\, \\partial l_b/\\partial x_{b,n}$.")
    case .sum:
      d.paragraph("With `sum` the loss is $\\sum_b l_b = \(n(ev.loss))$ and every row keeps its own gradient.")
    case .mean:
      d.paragraph(
        "With `mean` the loss is $\\sum_b l_b / D = \(n(ev.loss))$ with $D = \(n(ev.divisor))$: "
          + (p.weights == nil
            ? "the number of rows not ignored" : "$\\sum_b w_{T_b}$ over the rows not ignored, not $N$")
          + ". So every row's gradient is multiplied by $1/D$.")
    }
    d.math(
      "\\frac{\\partial l_b}{\\partial x_{b,n}} = s_{b,n} \\sum_c \\hat y_{b,c} - \\hat y_{b,n}, \\qquad "
        + "\\hat y_{b,c} = (1-\\varepsilon)\\, w_{T_b} \\delta_{c T_b} + \\frac{\\varepsilon}{C} w_c")
    if !ev.ignored.isEmpty {
      d.paragraph(
        "Rows whose target is \(p.ignoreIndex) are left out: loss 0, gradient 0, and they do not count in $D$ "
          + "(\(ev.ignored.count) here).")
    }
    let rows = RowSelection(total: p.rows, limit: 16, head: 8, tail: 3, extra: [])
    var table: [[String]] = []
    for b in rows.shown {
      table.append(["\(b)", p.isIgnored(b) ? "ignored" : "\(p.targets[b])", "$\(n(ev.rowLoss[b]))$"])
    }
    if rows.hidden > 0 { table.append(["…", "", "(\(rows.hidden) rows not shown)"]) }
    d.table(["$b$", "$T_b$", "$l_b$"], table)
    return d.markdown()
  }

  private static func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? " " + s : String(repeating: " ", count: width - s.count) + s
  }
}
