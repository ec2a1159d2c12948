import SoftmaxCore
import SoftmaxText

/// Where the Explore screen's panels sit for a given state and size; shared by rendering and mouse hit-testing.
struct ExploreLayout {
  var table: Rect
  /// Class indices shown in the table, and the screen row of the first.
  var tableRows: Range<Int>
  var tableFirstY: Int
  var jacobian: Rect
  var jacobianRows: Range<Int>
  var jacobianColumns: Range<Int>
  var cellWidth: Int
  var labelWidth: Int
  var jacobianFirstX: Int
  var jacobianFirstY: Int
  var inspector: Rect
  var loss: Rect

  init(state: AppState, body: Rect) {
    let c = state.problem.classes
    let h = body.height
    let tableWant = c + 3
    let jacobianWant = c + 4  // header, rows, legend
    let lossWant = c <= 8 ? 9 : 7
    var tableHeight: Int
    var lossHeight: Int
    if tableWant + jacobianWant + lossWant <= h {
      tableHeight = tableWant
      lossHeight = lossWant
    } else {
      lossHeight = Swift.max(4, Swift.min(lossWant, h / 4))
      let rest = Swift.max(0, h - lossHeight)
      tableHeight = Swift.min(tableWant, Swift.max(5, rest / 2))
      tableHeight = Swift.min(tableHeight, rest)
    }
    let lowerHeight = Swift.max(0, h - tableHeight - lossHeight)
    table = Rect(x: body.x, y: body.y, width: body.width, height: tableHeight)
    let visible = Swift.max(0, tableHeight - 3)
    tableRows = ExploreLayout.window(around: state.selection, count: c, visible: visible)
    tableFirstY = table.y + 2

    let inspectorWidth = body.width >= 110 ? 46 : 34
    jacobian = Rect(x: body.x, y: table.maxY, width: body.width - inspectorWidth, height: lowerHeight)
    inspector = Rect(x: jacobian.maxX, y: table.maxY, width: inspectorWidth, height: lowerHeight)
    loss = Rect(x: body.x, y: table.maxY + lowerHeight, width: body.width, height: Swift.min(lossHeight, body.height))

    labelWidth = String(c - 1).count + 3
    cellWidth = 10
    jacobianFirstX = jacobian.x + 1 + labelWidth
    jacobianFirstY = jacobian.y + 2
    let columns = Swift.max(0, (jacobian.width - 2 - labelWidth) / cellWidth)
    let rows = Swift.max(0, jacobian.height - 4)
    jacobianRows = ExploreLayout.window(around: state.cursorI, count: c, visible: rows)
    jacobianColumns = ExploreLayout.window(around: state.cursorN, count: c, visible: columns)
  }

  /// A window of `visible` indices out of `count` that keeps `index` in view, centred where possible.
  static func window(around index: Int, count: Int, visible: Int) -> Range<Int> {
    let v = Swift.min(visible, count)
    guard v > 0 else { return 0..<0 }
    let start = Swift.min(Swift.max(0, index - v / 2), count - v)
    return start..<(start + v)
  }
}

/// The main screen: logits, softmax, gradient and step in one table; the Jacobian heatmap with an inspector; the loss.
enum ExploreView {
  static func render(
    _ state: AppState, _ ev: Evaluation, into buf: inout Buffer, body: Rect, context ctx: RenderContext
  ) {
    let layout = ExploreLayout(state: state, body: body)
    let fmt = NumberStyle(precision: state.problem.precision, full: state.fullDigits)
    renderTable(state, ev, layout, fmt, &buf, ctx)
    renderJacobian(state, ev, layout, &buf, ctx)
    renderInspector(state, ev, layout, fmt, &buf, ctx)
    renderLoss(state, ev, layout, fmt, &buf, ctx)
  }

  // MARK: Table

  static func renderTable(
    _ state: AppState, _ ev: Evaluation, _ layout: ExploreLayout, _ fmt: NumberStyle, _ buf: inout Buffer,
    _ ctx: RenderContext
  ) {
    let r = layout.table
    let p = state.problem
    let c = p.classes
    let title: TextLine =
      c > layout.tableRows.count
      ? "Logits x · softmax s · gradient ∂l/∂x · step  (rows \(layout.tableRows.lowerBound)–\(layout.tableRows.upperBound - 1) of \(c))"
      : "Logits x · softmax s · gradient ∂l/∂x · step"
    buf.box(r, title: title, context: ctx)
    guard r.height > 3, r.width > 10 else { return }
    let inner = Rect(x: r.x + 1, y: r.y + 1, width: r.width - 2, height: r.height - 2)
    let iw = Swift.max(1, String(c - 1).count)
    let nw = fmt.width
    // Columns: mark(2) i x s [bar] grad [bar] x'
    let fixed = 2 + iw + 1 + 4 * (nw + 1)
    let flex = Swift.max(0, inner.width - fixed)
    let showBars = flex >= 12
    let sBarW = showBars ? flex / 2 - 1 : 0
    let gBarW = showBars ? flex - sBarW - 2 : 0
    let showAfter = inner.width >= 2 + iw + 1 + 3 * (nw + 1) + (showBars ? flex : 0) + nw
    var x = inner.x
    let hy = inner.y
    let columnsX = (
      i: x + 2, x: x + 2 + iw + 1, s: x + 2 + iw + 1 + nw + 1,
      sBar: x + 2 + iw + 1 + 2 * (nw + 1), g: x + 2 + iw + 1 + 2 * (nw + 1) + (showBars ? sBarW + 1 : 0)
    )
    let gBarX = columnsX.g + nw + 1
    let afterX = gBarX + (showBars ? gBarW + 1 : 0)
    func right(_ s: TextLine, _ x: Int, _ w: Int, _ y: Int, _ st: Style) {
      let t = ctx.text(s)
      buf.write(t, x: x + Swift.max(0, w - t.scalarCount), y: y, style: st, clip: inner)
    }
    right("i", columnsX.i, iw, hy, ctx.label)
    right("x_i", columnsX.x, nw, hy, ctx.label)
    right("s_i", columnsX.s, nw, hy, ctx.label)
    if showBars { buf.write(ctx.text("softmax"), x: columnsX.sBar, y: hy, style: ctx.muted, clip: inner) }
    right("∂l/∂x_i", columnsX.g, nw, hy, ctx.label)
    if showBars { buf.write(ctx.text("gradient"), x: gBarX, y: hy, style: ctx.muted, clip: inner) }
    if showAfter { right("x_i after", afterX, nw, hy, ctx.label) }

    let maxS = ev.softmax.max() ?? 1
    let maxG = ev.gradient.reduce(0) { Swift.max($0, abs($1)) }
    for (k, i) in layout.tableRows.enumerated() {
      let y = layout.tableFirstY + k
      guard y < inner.maxY else { break }
      let isTarget = p.softTarget == nil && i == p.target
      x = inner.x
      let mark: TextLine = "\(i == state.selection ? ctx.selectionMark : " ")\(isTarget ? ctx.targetMark : " ")"
      buf.write(mark, x: x, y: y, style: isTarget ? ctx.target : ctx.label, clip: inner)
      right("\(i)", columnsX.i, iw, y, isTarget ? ctx.target : .plain)
      if let e = state.edit, e.field == .logit(i) {
        // Right-aligned as the numbers are, growing to the left up to the row's start when the text is longer.
        let w = Swift.min(e.text.scalarCount + 1, Swift.max(nw, columnsX.x + nw - inner.x - 2))
        buf.fill(Rect(x: columnsX.x, y: y, width: nw, height: 1), with: Cell(" ", style: ctx.editing))
        e.draw(into: &buf, x: columnsX.x + nw - w, y: y, width: w, context: ctx)
      } else {
        right(fmt(p.logits[i]), columnsX.x, nw, y, .plain)
      }
      right(fmt(ev.softmax[i]), columnsX.s, nw, y, isTarget ? ctx.target : .plain)
      if showBars {
        buf.bar(
          fraction: maxS > 0 ? ev.softmax[i] / maxS : 0, x: columnsX.sBar, y: y, width: sBarW,
          style: isTarget ? ctx.target : ctx.probabilityBar, context: ctx)
      }
      let g = ev.gradient[i]
      right(fmt(g), columnsX.g, nw, y, g < 0 ? ctx.negativeBar : .plain)
      if showBars {
        buf.signedBar(fraction: maxG > 0 ? g / maxG : 0, x: gBarX, y: y, width: gBarW, context: ctx)
      }
      if showAfter {
        let after: TextLine = ev.stepRefusal == nil ? fmt(ev.updatedLogits[i]) : "—"
        right(after, afterX, nw, y, ctx.muted)
      }
      if i == state.selection {
        // In 256 colours the whole row gets a background; otherwise only the text columns are reversed, so the
        // bars keep their shape.
        let width = ctx.colorMode == .extended ? inner.width : columnsX.s + nw - inner.x
        buf.restyle(Rect(x: inner.x, y: y, width: width, height: 1)) { ctx.highlightRow(&$0) }
      }
    }
  }

  // MARK: Jacobian

  static func renderJacobian(
    _ state: AppState, _ ev: Evaluation, _ layout: ExploreLayout, _ buf: inout Buffer, _ ctx: RenderContext
  ) {
    let r = layout.jacobian
    let title: TextLine =
      ev.problem.temperature == 1
      ? "Jacobian ∂s_i/∂x_n = s_i δ_in − s_i s_n" : "Jacobian ∂s_i/∂x_n = (s_i δ_in − s_i s_n)/τ"
    buf.box(r, title: title, context: ctx)
    guard r.height > 3, r.width > 4 else { return }
    let inner = Rect(x: r.x + 1, y: r.y + 1, width: r.width - 2, height: r.height - 2)
    // Colour scale: the largest magnitude in the visible window (the diagonal dominates).
    var scale = 0.0
    for i in layout.jacobianRows {
      scale = Swift.max(scale, abs(ev.jacobian(i, i)))
    }
    for (k, n) in layout.jacobianColumns.enumerated() {
      let label: TextLine = "n=\(n)"
      let x = layout.jacobianFirstX + k * layout.cellWidth
      buf.write(
        label, x: x + Swift.max(0, layout.cellWidth - label.scalarCount - 1), y: inner.y,
        style: n == state.cursorN ? ctx.label : ctx.muted, clip: inner)
    }
    legend(&buf, inner, ctx)
    for (row, i) in layout.jacobianRows.enumerated() {
      let y = layout.jacobianFirstY + row
      buf.write("i=\(i)", x: inner.x, y: y, style: i == state.cursorI ? ctx.label : ctx.muted, clip: inner)
      for (k, n) in layout.jacobianColumns.enumerated() {
        let v = ev.jacobian(i, n)
        let x = layout.jacobianFirstX + k * layout.cellWidth
        let cell = Rect(x: x, y: y, width: layout.cellWidth - 1, height: 1)
        var st = ctx.heat(v, scale: scale)
        if i == state.cursorI && n == state.cursorN {
          st = Style(foreground: st.foreground, background: st.background, attributes: [.reverse, .bold])
        }
        buf.fill(Rect(x: cell.x, y: y, width: cell.width, height: 1).clipped(to: inner), with: Cell(" ", style: st))
        var text = TextLine()
        if v > 0 || (v == 0 && v.sign == .plus) { text.append(ascii: UInt8(ascii: "+")) }
        text = ctx.text("\(text)\(v, digits: 3)")
        buf.write(text, x: x + Swift.max(0, cell.width - text.scalarCount), y: y, style: st, clip: inner)
      }
    }
  }

  static func legend(_ buf: inout Buffer, _ inner: Rect, _ ctx: RenderContext) {
    let y = inner.maxY - 1
    var x = inner.x
    if ctx.colorMode == .none {
      buf.write(
        ctx.text("sign shown; bold = strong · rows sum to 0 · symmetric"), x: x, y: y, style: ctx.muted, clip: inner)
      return
    }
    x = buf.write("  −  ", x: x, y: y, style: ctx.heat(-1, scale: 1), clip: inner)
    x = buf.write(ctx.text(" negative  "), x: x, y: y, style: ctx.muted, clip: inner)
    x = buf.write("  +  ", x: x, y: y, style: ctx.heat(1, scale: 1), clip: inner)
    buf.write(ctx.text(" positive · rows sum to 0 · symmetric"), x: x, y: y, style: ctx.muted, clip: inner)
  }

  // MARK: Inspector

  static func renderInspector(
    _ state: AppState, _ ev: Evaluation, _ layout: ExploreLayout, _ fmt: NumberStyle, _ buf: inout Buffer,
    _ ctx: RenderContext
  ) {
    let r = layout.inspector
    let i = state.cursorI
    let n = state.cursorN
    buf.box(r, title: "Cell i=\(i), n=\(n)", context: ctx)
    guard r.height > 2, r.width > 4 else { return }
    let inner = Rect(x: r.x + 2, y: r.y + 1, width: r.width - 3, height: r.height - 2)
    let s = ev.softmax
    let tau = ev.problem.temperature
    let overTau: TextLine = tau == 1 ? "" : " / τ"
    let tauValue: TextLine = tau == 1 ? "" : " / \(fmt(tau))"
    var out = PanelText(inner)
    // Wrapped, not clipped: a formula cut at the panel edge (its `/ τ` dropped) would be a false equation.
    func line(_ text: TextLine, _ style: Style) { out.wrapped(ctx.text(text), style, into: &buf) }
    line("∂s_\(i)/∂x_\(n)\(i == n ? "   (i = n: diagonal)" : "   (i ≠ n)")", ctx.label)
    // Where 1 − s_i would cancel (s_i rounds to about 1), the complement Σ_{j≠i} s_j is shown as the core computes it.
    let complementShown = i == n && DerivationView.complementCancels(ev, i)
    if i == n {
      line("= s_i (1 − s_i)\(overTau)", .plain)
      if complementShown {
        line("= \(fmt(s[i])) × \(fmt(ev.problem.precision.round(ev.complement(i))))\(tauValue)", .plain)
      } else {
        line("= \(fmt(s[i])) × (1 − \(fmt(s[i])))\(tauValue)", .plain)
      }
    } else {
      line("= −s_i s_n\(overTau)", .plain)
      line("= −\(fmt(s[i])) × \(fmt(s[n]))\(tauValue)", .plain)
    }
    let value = ev.jacobian(i, n)
    if value == 0 && s[i] != 0 && (i == n ? s[i] != 1 : s[n] != 0) {
      // A product of nonzero factors that rounds to 0 in the precision is not equal to them: it underflowed.
      line("→ \(fmt(value)) in \(ev.problem.precision.rawValue) (underflows)", ctx.label)
    } else {
      line("= \(fmt(value))", ctx.label)
    }
    if complementShown {
      out.wrapped(ctx.text("1 − s_\(i) = Σ_{j≠\(i)} s_j, computed without cancellation"), ctx.muted, into: &buf)
    }
    line("", .plain)
    line("symmetric: ∂s_\(n)/∂x_\(i) = \(fmt(ev.jacobian(n, i)))", ctx.muted)
    if ev.problem.classes <= 4096 {
      // The row sums to 0 exactly; adding the rounded entries leaves rounding, which is not shown as the sum.
      var rowSum = 0.0
      for k in 0..<ev.problem.classes { rowSum += ev.jacobian(i, k) }
      if rowSum == 0 {
        line("row sum Σ_n = 0", ctx.muted)
      } else {
        line("row sum Σ_n = 0 (the rounded entries", ctx.muted)
        line("  add up to \(fmt(rowSum)))", ctx.muted)
      }
    }
    if ev.problem.isOneHot {
      // ∂l/∂x_n = g·(−1/s_T)·∂s_T/∂x_n (the entry carries 1/τ) against the closed form g·(s_n − δ_Tn)/τ.
      let t = ev.problem.target
      let g = ev.problem.upstream
      let gName: TextLine = g == 1 ? "" : "g·"
      let gValue: TextLine = g == 1 ? "" : g < 0 ? "(\(fmt(g)))·" : "\(fmt(g))·"
      let mfmt = MathFormat(style: fmt)
      line("", .plain)
      line("chain rule: ∂l/∂x_\(n) = −\(gName)(1/s_T)·∂s_T/∂x_\(n)", ctx.label)
      let substituted: TextLine = "−\(gValue)(1/\(fmt(s[t])))·\(parenthesized(fmt(ev.jacobian(t, n))))"
      let chain = ev.chainRule(n)
      if chain.isFinite {
        line("= \(substituted)", .plain)
        line("= \(fmt(chain))", .plain)
      } else {
        // Computed in the precision, 1/s_T can overflow: the product is then not the arithmetic of its factors.
        line("  \(substituted)", .plain)
        line("→ \(fmt(chain)) in \(ev.problem.precision.rawValue): 1/s_T overflows", ctx.error)
      }
      let closed: TextLine = tau == 1 ? "\(gName)(s_n − δ_Tn)" : "\(gName)(s_n − δ_Tn)/τ"
      line("closed form \(closed)", .plain)
      if DerivationView.differenceCancels(ev, n, mfmt) {
        // s_T − 1 cancels: −Σ_{j≠T} s_j instead, said in one line.
        line(
          "= \(gValue)(−\(fmt(ev.problem.precision.round(ev.complement(n)))))\(tauValue) = \(fmt(ev.gradient[n]))",
          .plain)
        out.wrapped(
          ctx.text(
            "s_\(n) − 1 = −Σ_{j≠\(n)} s_j, without cancellation (\(fmt(s[n])) − 1 would give "
              + "\(fmt(DerivationView.naiveDerivative(ev, n) * tau)))"), ctx.muted, into: &buf)
      } else {
        line("= \(gValue)(\(fmt(s[n])) − \(n == t ? "1" : "0"))\(tauValue) = \(fmt(ev.gradient[n]))", .plain)
      }
    }
    line("", .plain)
    line("move: H J K L or Shift+arrows", ctx.muted)
  }

  // MARK: Loss and step

  static func renderLoss(
    _ state: AppState, _ ev: Evaluation, _ layout: ExploreLayout, _ fmt: NumberStyle, _ buf: inout Buffer,
    _ ctx: RenderContext
  ) {
    let r = layout.loss
    buf.box(r, title: "Loss, gradient and one step", context: ctx)
    guard r.height > 2 else { return }
    let inner = Rect(x: r.x + 2, y: r.y + 1, width: r.width - 3, height: r.height - 2)
    let p = ev.problem
    var out = PanelText(inner)
    func line(_ text: TextLine, _ style: Style) { out.wrapped(ctx.text(text), style, into: &buf) }
    let t = p.target
    let naiveAgrees =
      ev.lossNaive == ev.loss || abs(ev.lossNaive - ev.loss) <= 4 * p.precision.facts.ulpOfOne * abs(ev.loss)
    let naive: TextLine =
      naiveAgrees ? "   (naive: \(fmt(ev.lossNaive)) ✓)" : "   naive −log s_T = \(fmt(ev.lossNaive)) ✗"
    if p.isOneHot {
      line("c = −log s_T = −log \(fmt(ev.softmax[t])) = \(fmt(ev.loss))\(naive)", naiveAgrees ? ctx.label : ctx.error)
      let lse = ev.logSumExp
      let xT = ev.scaled[t]
      line(
        "  = LSE(z) − z_T = M + log Σ e^{z_j−M} − z_T = \(fmt(lse.max)) + \(fmt(lse.logSum)) − \(parenthesized(fmt(xT))) = \(fmt(ev.loss))",
        .plain)
    } else {
      line("c = −Σ y_i log s_i = \(fmt(ev.loss))\(naive)", naiveAgrees ? ctx.label : ctx.error)
    }
    if let note = ev.lossNote { line("\(note)", ctx.error) }
    let n = state.selection
    let g: TextLine = p.upstream == 1 ? "" : "g·"
    let tau: TextLine = p.temperature == 1 ? "" : "/τ"
    let yName: TextLine = p.isOneHot ? "δ_T\(n)" : "y_\(n)"
    let yValue = ev.targetDistribution[n]
    var gradLine: TextLine = "∂l/∂x_\(n) = \(g)(s_\(n) − \(yName))\(tau) = "
    if p.upstream != 1 { gradLine += "\(fmt(p.upstream))·" }
    if p.isOneHot && n == t && p.classes > 1 && ev.softmax[n] > 0.9 {
      // s_T − 1 cancels when s_T is near 1 (a digit lost per factor of ten): the lab sums the other classes
      // instead, and says so.
      gradLine = "∂l/∂x_\(n) = \(g)(s_\(n) − 1)\(tau) = −\(g)Σ_{j≠\(n)} s_j\(tau) = "
      if p.upstream != 1 { gradLine += "\(fmt(p.upstream))·" }
      gradLine += "(−\(fmt(ev.complement(n))))"
      if p.temperature != 1 { gradLine += "/\(fmt(p.temperature))" }
      gradLine += " = \(fmt(ev.gradient[n]))   (summed: \(fmt(ev.softmax[n])) − 1 would cancel)"
      line(gradLine, .plain)
    } else {
      let y: TextLine = p.isOneHot ? (yValue == 1 ? "1" : "0") : parenthesized(fmt(yValue))
      gradLine += "(\(fmt(ev.softmax[n])) − \(y))"
      if p.temperature != 1 { gradLine += "/\(fmt(p.temperature))" }
      gradLine += " = \(fmt(ev.gradient[n]))"
      line(gradLine, .plain)
    }
    if let refusal = ev.stepRefusal {
      line("step (η = \(fmt(p.learningRate))) refused: \(refusal)", ctx.error)
    } else {
      let sumBefore = p.logits.reduce(0, +)
      let sumAfter = ev.updatedLogits.reduce(0, +)
      line(
        "one step x ← x − η·∇, η = \(fmt(p.learningRate)): c \(fmt(ev.loss)) → \(fmt(ev.updatedLoss)) "
          + "(Δc = \(fmt(ev.updatedLoss - ev.loss))) · Σx \(fmt(sumBefore)) → \(fmt(sumAfter)) · press s",
        .plain)
    }
    if p.classes <= 8 {
      var grads = TextLine()
      var logs = TextLine()
      for k in 0..<p.classes {
        if k > 0 {
          grads += ", "
          logs += ", "
        }
        grads += fmt(ev.gradient[k])
        logs += fmt(ev.logSoftmax[k])
      }
      let total = ev.gradient.reduce(0, +)
      line(
        "∇ = [\(grads)]   Σ_n ∂l/∂x_n = \(fmt(total))\(p.isOneHot ? " (one-hot: 0 up to rounding)" : "")", .plain)
      line("log s = z − LSE(z) = [\(logs)]", ctx.muted)
    }
    let fine = ev.overflow.outcome == .fine
    line(
      "\(fine ? "" : "naive: ")\(ev.overflow.diagnosis(significantDigits: state.fullDigits ? nil : 4))",
      fine ? ctx.muted : ctx.error)
  }
}

/// A number ready to follow an operator: negatives in parentheses, with a true minus sign (`·(−0.05989)`).
func parenthesized(_ number: TextLine) -> TextLine {
  number.hasPrefix("-") ? "(−\(number.dropFirst(scalars: 1)))" : number
}

extension Rect {
  /// The part of this rectangle inside `other`.
  func clipped(to other: Rect) -> Rect {
    let x0 = Swift.max(x, other.x)
    let y0 = Swift.max(y, other.y)
    let x1 = Swift.min(maxX, other.maxX)
    let y1 = Swift.min(maxY, other.maxY)
    return Rect(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
  }
}
