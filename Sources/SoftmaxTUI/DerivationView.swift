import SoftmaxCore

extension RenderContext {
  /// `text(_:)` plus the symbols these screens use that it does not know (`²`, `Δ`, `▲`, `▼`, `•`, curly quotes).
  func prose(_ line: TextLine) -> TextLine { unicode ? line : Self.ascii(line, prose: true) }
}

/// Numbers as the derivation prints them: the screen's number style with a true minus sign, and logits, deltas and
/// knobs in their shortest exact form when that is short (`e^{3}` rather than `e^{3.000}`).
struct MathFormat {
  var style: NumberStyle

  func callAsFunction(_ x: Double) -> TextLine { Self.minus(style(x)) }

  /// The shortest exact decimal when it has at most 6 characters (and full digits are off), else the usual format.
  func short(_ x: Double) -> TextLine {
    let c = TextLine(compact: x)
    return !style.full && c.scalarCount <= 6 && x.isFinite ? Self.minus(c) : callAsFunction(x)
  }

  /// A leading `-` as `−` (converted back to `-` in ASCII mode).
  static func minus(_ s: TextLine) -> TextLine { s.hasPrefix("-") ? "−\(s.dropFirst(scalars: 1))" : s }
}

/// The Derivation screen: ∂l/∂x_n worked out step by step, each step an equation in index notation followed by the
/// same equation with the current numbers, for the class `n` (and output `i`) under the cursor.
///
/// Steps 1–4 scroll (PgUp/PgDn; the offset is clamped here); step 5, the check that three independent numbers agree, is
/// pinned at the bottom when there is room for it.
enum DerivationView {
  static func render(
    _ state: AppState, _ ev: Evaluation, into buf: inout Buffer, body: Rect,
    context ctx: RenderContext
  ) {
    guard !body.isEmpty else { return }
    let fmt = MathFormat(
      style: NumberStyle(precision: ev.problem.precision, full: state.fullDigits))
    let n = clampIndex(state.cursorN, ev.problem.classes)
    let i = clampIndex(state.cursorI, ev.problem.classes)
    let pinned = body.height >= 16 && body.width >= 40
    let check = Check(ev, n: n)
    func checkText(_ emit: (ProseLine) -> Void) { checkLines(check, ev, n: n, fmt: fmt, context: ctx, emit) }
    func stepsText(_ emit: (ProseLine) -> Void) {
      stepLines(ev, n: n, i: i, fmt: fmt, context: ctx, emit)
      if !pinned {
        emit(.blank)
        emit(ProseLine("5. Three numbers that must agree", ctx.label))
        checkText(emit)
      }
    }
    var stepsRect = body
    if pinned {
      var checkHeight = 2
      checkText { checkHeight += $0.wrappedCount(width: body.width - 3, context: ctx) }
      stepsRect.height = body.height - checkHeight
      let checkRect = Rect(x: body.x, y: stepsRect.maxY, width: body.width, height: checkHeight)
      buf.box(
        checkRect, title: "5. Three numbers that must agree (relative distance from the closed form)",
        context: ctx)
      drawLines(in: checkRect, scroll: 0, into: &buf, context: ctx, checkText)
    }
    let inner = Rect(
      x: stepsRect.x + 2, y: stepsRect.y + 1, width: stepsRect.width - 3,
      height: stepsRect.height - 2)
    var total = 0
    stepsText { total += $0.wrappedCount(width: inner.width, context: ctx) }
    let maxScroll = Swift.max(0, total - inner.height)
    let scroll = Swift.min(Swift.max(0, state.derivationScroll), maxScroll)
    var title: TextLine = "Derivation of ∂l/∂x_\(n) (n: ← →, i = \(i): ↑ ↓)"
    if maxScroll > 0 {
      title += " · lines \(scroll + 1)–\(Swift.min(total, scroll + inner.height)) of \(total), PgUp/PgDn"
    }
    buf.box(stepsRect, title: title, context: ctx)
    guard !inner.isEmpty else { return }
    var window = ProseWindow(inner, scroll: scroll, context: ctx)
    stepsText { window.add($0, into: &buf) }
    if maxScroll > 0 {
      // Arrows on the right border say there is more above or below.
      let up: TextLine = ctx.unicode ? "▲" : "^"
      let down: TextLine = ctx.unicode ? "▼" : "v"
      let edge = Rect(x: stepsRect.maxX - 1, y: inner.y, width: 1, height: inner.height)
      if scroll > 0 { buf.write(up, x: edge.x, y: inner.y, style: ctx.label, clip: edge) }
      if scroll < maxScroll {
        buf.write(down, x: edge.x, y: inner.maxY - 1, style: ctx.label, clip: edge)
      }
    }
  }

  static func clampIndex(_ k: Int, _ count: Int) -> Int {
    Swift.min(Swift.max(0, k), Swift.max(0, count - 1))
  }

  /// Draws the lines `text` emits inside a box (one cell of padding left and right), wrapping and clipping them.
  static func drawLines(
    in rect: Rect, scroll: Int, into buf: inout Buffer, context ctx: RenderContext,
    _ text: ((ProseLine) -> Void) -> Void
  ) {
    let inner = Rect(x: rect.x + 2, y: rect.y + 1, width: rect.width - 3, height: rect.height - 2)
    guard !inner.isEmpty else { return }
    var window = ProseWindow(inner, scroll: scroll, context: ctx)
    text { window.add($0, into: &buf) }
  }

  // MARK: Steps 1–4

  /// The derivation for class `n` and output `i`, with the evaluation's numbers substituted.
  static func stepLines(
    _ ev: Evaluation, n: Int, i: Int, fmt: MathFormat, context ctx: RenderContext, _ emit: (ProseLine) -> Void
  ) {
    let p = ev.problem
    let c = p.classes
    let t = p.target
    let s = ev.softmax
    let tau = p.temperature
    let hasTau = tau != 1
    let oneHot = p.isOneHot
    let head = ctx.label
    let eq = Style.plain
    let num = ctx.numbers
    let note = ctx.muted
    // With temperature the exponent is z = x/τ; without, z = x and we write x.
    let v: TextLine = hasTau ? "z" : "x"
    let slashTau: TextLine = hasTau ? "/τ" : ""
    let tauNum: TextLine = hasTau ? " / \(fmt.short(tau))" : ""
    func paren(_ x: TextLine) -> TextLine { hasTau ? "(\(x))" : x }
    func e(_ k: Int) -> TextLine { "e^{\(fmt.short(ev.scaled[k]))}" }

    // Context line.
    var context: TextLine = "class n = \(n), output i = \(i), "
    if oneHot {
      context += "target T = \(t) (y = e_T, one-hot)"
    } else if p.softTarget != nil {
      context += "soft target y given (T = \(t) only names a row)"
    } else {
      context +=
        "target T = \(t), label smoothing ε = \(fmt(p.labelSmoothing)): y = (1 − ε)e_T + ε/C"
    }
    if hasTau { context += ", temperature τ = \(fmt(tau))" }
    if p.upstream != 1 { context += ", upstream g = ∂l/∂c = \(fmt(p.upstream))" }
    emit(ProseLine(context, note, indent: 2))
    emit(.blank)

    // 1. The normaliser.
    emit(ProseLine("1. The normaliser σ and its derivative", head))
    if hasTau {
      emit(
        ProseLine(
          "   σ = Σ_j e^{z_j}  with  z_j = x_j/τ   (j runs over all \(c) classes)", eq, indent: 5))
    } else {
      emit(ProseLine("   σ = Σ_j e^{x_j}   (j runs over all \(c) classes)", eq, indent: 5))
    }
    emit(
      ProseLine(
        "   in index notation σ = 1_j e^{\(v)_j}: a sum over the repeated index j, 1_j a vector of ones", note,
        indent: 5))
    var terms = TextLine()
    var values = TextLine()
    // A naive e^{z} that overflowed or underflowed is not the exact value: it is written after → , not =.
    var exact = true
    for k in 0..<c where ev.scaled[k] != -.infinity {
      let x = ev.naive.exps[k]
      if !x.isFinite || x == 0 { exact = false }
    }
    if c <= 5 {
      for k in 0..<c {
        if k > 0 {
          terms += " + "
          values += " + "
        }
        terms += e(k)
        values += fmt(ev.naive.exps[k])
      }
    } else {
      terms = "\(e(0)) + \(e(1)) + … + \(e(c - 1))"
      values =
        "\(fmt(ev.naive.exps[0])) + \(fmt(ev.naive.exps[1])) + … + \(fmt(ev.naive.exps[c - 1]))"
    }
    let naiveSum = ev.naive.sum
    if exact {
      emit(ProseLine("     = \(terms) = \(values) = \(fmt(naiveSum))", num, indent: 7))
    } else {
      emit(
        ProseLine(
          "     = \(terms) → \(values) → \(fmt(naiveSum)) in \(p.precision.rawValue)", num, indent: 7))
    }
    // The σ every later step uses is the accurate one, e^{M} Σ_j e^{z_j − M}; where the naive left-to-right sum
    // in the precision differs from it, both are named.
    let accurate = Double.exp(ev.stable.max) * ev.stable.sum
    if naiveSum.isFinite && naiveSum > 0 && accurate.isFinite && c > 5
      && abs(naiveSum - accurate) > 4 * p.precision.facts.ulpOfOne * accurate
    {
      let ratio = accurate / naiveSum
      let how: TextLine = ratio > 1 ? "\(ratio, digits: 3)× too small" : "\(1 / ratio, digits: 3)× too large"
      emit(
        ProseLine(
          "     that is the naive sum, left to right in \(p.precision.rawValue) (\(how)); the σ the steps below "
            + "use is the accurate σ = e^{M} Σ_j e^{\(v)_j − M} = \(fmt(accurate))", ctx.warning, indent: 7))
    }
    let dn = ev.naive.exps[n]
    let dnExact = dn.isFinite && (dn != 0 || ev.scaled[n] == -.infinity)
    let rel: TextLine = dnExact ? "=" : "→"
    if hasTau {
      emit(
        ProseLine(
          "   ∂σ/∂x_n = 1_j (∂e^{z_j}/∂z_j)(∂z_j/∂x_n) = 1_j e^{z_j} δ_jn/τ = e^{z_n}/τ   "
            + "(δ_jn keeps only j = n, and 1_n = 1)", eq, indent: 5))
      emit(
        ProseLine(
          "   ∂σ/∂x_\(n) = \(e(n))\(tauNum) \(rel) \(fmt(dn / tau))", num, indent: 5))
    } else {
      emit(
        ProseLine(
          "   ∂σ/∂x_n = 1_j (∂e^{x_j}/∂x_j)(∂x_j/∂x_n) = 1_j e^{x_j} δ_jn = e^{x_n}   "
            + "(δ_jn keeps only j = n, and 1_n = 1)", eq, indent: 5))
      emit(ProseLine("   ∂σ/∂x_\(n) = \(e(n)) \(rel) \(fmt(dn))", num, indent: 5))
    }
    overflowNote(ev, n: n, fmt: fmt, context: ctx, emit)
    emit(.blank)

    // 2. The quotient rule.
    emit(ProseLine("2. The quotient rule on s_i = e^{\(v)_i}/σ", head))
    emit(
      ProseLine("   ∂s_i/∂x_n = (∂e^{\(v)_i}/∂x_n · σ − e^{\(v)_i} · ∂σ/∂x_n) / σ²", eq, indent: 5))
    emit(
      ProseLine(
        "             = (e^{\(v)_i} δ_in σ − e^{\(v)_i} e^{\(v)_n}) / \(hasTau ? "(τσ²)" : "σ²")",
        eq, indent: 5))
    emit(ProseLine("             = \(paren("s_i δ_in − s_i s_n"))\(slashTau)", eq, indent: 5))
    // The two cases; the one under the cursor is marked. For i = n the off-diagonal example uses another class.
    let other = i != n ? i : (t != n ? t : (n + 1) % Swift.max(1, c))
    let diagMark = i == n ? "▸" : " "
    let offMark = i != n ? "▸" : " "
    let diagValue = ev.jacobian(n, n)
    if c > 1 && ev.jacobianUsesComplementSum(n) && s[n] > 0.9 {
      emit(
        ProseLine(
          " \(diagMark) i = n:  ∂s_n/∂x_n = s_n(1 − s_n)\(slashTau) = s_n Σ_{j≠n} s_j\(slashTau)   ∂s_\(n)/∂x_\(n) = "
            + "\(fmt(s[n])) × \(fmt(ev.complement(n)))\(tauNum) = \(fmt(diagValue))", i == n ? ctx.label : eq,
          indent: 12))
      emit(
        ProseLine(
          "            1 − s_\(n) is taken as Σ_{j≠\(n)} s_j = \(fmt(ev.complement(n))): 1 − \(fmt(s[n])) would cancel "
            + "and keep none of its digits", note, indent: 12))
    } else {
      emit(
        ProseLine(
          " \(diagMark) i = n:  ∂s_n/∂x_n = s_n(1 − s_n)\(slashTau)   ∂s_\(n)/∂x_\(n) = \(fmt(s[n])) × (1 − \(fmt(s[n])))"
            + "\(tauNum) = \(fmt(diagValue))", i == n ? ctx.label : eq, indent: 12))
    }
    if c > 1 {
      emit(
        ProseLine(
          " \(offMark) i ≠ n:  ∂s_i/∂x_n = −s_i s_n\(slashTau)      "
            + "∂s_\(other)/∂x_\(n) = −\(fmt(s[other])) × \(fmt(s[n]))\(tauNum) = \(fmt(ev.jacobian(other, n)))",
          i != n ? ctx.label : eq, indent: 12))
    } else {
      emit(ProseLine("   i ≠ n: does not occur with a single class", note, indent: 5))
    }
    emit(.blank)

    // 3. The loss as a function of s.
    emit(ProseLine("3. The loss as a function of the probabilities", head))
    if oneHot {
      emit(
        ProseLine(
          "   c = −log s_T   (T = \(t) is the label: a fixed index chosen by the data, not an index summed over)",
          eq, indent: 5))
      emit(ProseLine("   ∂c/∂s_i = −δ_iT / s_T   (zero for every i except T)", eq, indent: 5))
      var line: TextLine = "   ∂c/∂s_\(t) = −1/\(fmt(s[t])) = \(fmt(-1 / s[t]))"
      if i != t { line += ";  ∂c/∂s_\(i) = 0 since \(i) ≠ T" }
      emit(ProseLine(line, num, indent: 5))
    } else {
      let yDef: TextLine = p.softTarget != nil ? "y is the soft target" : "y_i = (1 − ε)δ_iT + ε/C"
      emit(ProseLine("   c = −Σ_i y_i log s_i   (\(yDef); Σ_i y_i = 1)", eq, indent: 5))
      emit(
        ProseLine("   ∂c/∂s_i = −y_i / s_i   (every class with y_i > 0 contributes)", eq, indent: 5)
      )
      let y = ev.targetDistribution
      var line: TextLine = "   ∂c/∂s_\(i) = −\(fmt(y[i]))/\(fmt(s[i])) = \(fmt(-y[i] / s[i]))"
      if let k = t != i ? t : (n != i ? n : nil) {
        line += ";  ∂c/∂s_\(k) = −\(fmt(y[k]))/\(fmt(s[k])) = \(fmt(-y[k] / s[k]))"
      }
      emit(ProseLine(line, num, indent: 5))
    }
    emit(.blank)

    // 4. The chain rule.
    emit(ProseLine("4. The chain rule: x_n reaches c through every s_i (they share σ)", head))
    let g = p.upstream
    if oneHot {
      emit(
        ProseLine(
          "   ∂c/∂x_n = Σ_i (∂c/∂s_i)(∂s_i/∂x_n) = Σ_i (−δ_iT/s_T)(s_i δ_in − s_i s_n)\(slashTau)",
          eq, indent: 5))
      emit(
        ProseLine(
          "           = −(1/s_T)(s_T δ_Tn − s_T s_n)\(slashTau)   (δ_iT keeps only the term i = T)",
          eq, indent: 5))
      emit(ProseLine("           = \(paren("s_n − δ_Tn"))\(slashTau)", ctx.label, indent: 5))
      // The sum written out with the numbers: only i = T survives.
      let jtn = ev.jacobian(t, n)
      let chainValue = -jtn / s[t]
      var sum: TextLine = "   Σ_i (∂c/∂s_i)(∂s_i/∂x_\(n)) = (∂c/∂s_\(t))(∂s_\(t)/∂x_\(n))"
      if c > 1 { sum += " + Σ_{i≠\(t)} 0 · ∂s_i/∂x_\(n)" }
      sum += " = (−1/\(fmt(s[t]))) × \(parenthesizedMath(fmt(jtn))) = \(fmt(chainValue))"
      emit(ProseLine(sum, num, indent: 7))
      let d = n == t ? 1.0 : 0.0
      // s_T − 1 cancels when s_T is near 1: the value is −Σ_{j≠T} s_j, computed without the subtraction.
      let cancels = n == t && c > 1 && s[n] > 0.9
      let cValue = cancels ? -ev.complement(n) / tau : (s[n] - d) / tau
      if cancels {
        emit(
          ProseLine(
            "   ∂c/∂x_\(n) = \(paren("s_\(n) − 1"))\(slashTau) = \(paren("−Σ_{j≠\(n)} s_j"))\(slashTau) = "
              + "\(paren("−\(fmt(ev.complement(n)))"))\(tauNum) = \(fmt(cValue))", num, indent: 5))
        emit(
          ProseLine(
            "   (subtracting 1 from s_\(n) ≈ \(fmt(s[n])) would cancel the leading digits; the other classes' sum keeps "
              + "them all)",
            note, indent: 5))
      } else {
        emit(
          ProseLine(
            "   ∂c/∂x_\(n) = \(paren("s_\(n) − δ_T\(n)"))\(slashTau) = "
              + "\(paren("\(fmt(s[n])) − \(fmt.short(d))"))\(tauNum) = \(fmt(cValue))",
            num, indent: 5))
      }
      emit(
        ProseLine(
          "   case form: ∂c/∂x_k = \(paren("s_k − 1"))\(slashTau) for k = T, \(paren("s_k"))\(slashTau) otherwise; "
            + "here k = \(n) \(n == t ? "is T" : "≠ T")", eq, indent: 5))
      emit(
        ProseLine(
          "   backprop:  ∂l/∂x_n = (∂l/∂c)(s_n − δ_Tn)\(slashTau) = g·(s_n − δ_Tn)\(slashTau)", eq,
          indent: 5))
      if cancels {
        emit(
          ProseLine(
            "   ∂l/∂x_\(n) = \(fmt.short(g)) × (−\(fmt(ev.complement(n))))\(tauNum) = \(fmt(ev.gradient[n]))",
            num, indent: 5))
      } else {
        emit(
          ProseLine(
            "   ∂l/∂x_\(n) = \(fmt.short(g)) × (\(fmt(s[n])) − \(fmt.short(d)))\(tauNum) = \(fmt(ev.gradient[n]))",
            num, indent: 5))
      }
    } else {
      let y = ev.targetDistribution
      emit(
        ProseLine(
          "   ∂c/∂x_n = Σ_i (−y_i/s_i)(s_i δ_in − s_i s_n)\(slashTau) = Σ_i y_i (s_n − δ_in)\(slashTau)",
          eq, indent: 5))
      emit(
        ProseLine(
          "           = \(paren("s_n Σ_i y_i − y_n"))\(slashTau) = \(paren("s_n − y_n"))\(slashTau)   (Σ_i y_i = 1)",
          eq, indent: 5))
      emit(
        ProseLine(
          "   ∂c/∂x_\(n) = \(paren("s_\(n) − y_\(n)"))\(slashTau) = "
            + "\(paren("\(fmt(s[n])) − \(fmt(y[n]))"))\(tauNum) = \(fmt((s[n] - y[n]) / tau))",
          num, indent: 5))
      emit(
        ProseLine(
          "   backprop:  ∂l/∂x_n = (∂l/∂c)(s_n − y_n)\(slashTau) = g·(s_n − y_n)\(slashTau)", eq,
          indent: 5))
      emit(
        ProseLine(
          "   ∂l/∂x_\(n) = \(fmt.short(g)) × (\(fmt(s[n])) − \(fmt(y[n])))\(tauNum) = \(fmt(ev.gradient[n]))",
          num, indent: 5))
    }
    if p.logits[n] == -.infinity {
      emit(
        ProseLine(
          "   x_\(n) is masked (−∞): s_\(n) = 0 exactly, so its gradient is −y_\(n)\(slashTau)",
          note, indent: 5))
    }
  }

  /// A number after an operator: negatives in parentheses (`× (−0.05989)`).
  static func parenthesizedMath(_ x: TextLine) -> TextLine { x.hasPrefix("−") ? "(\(x))" : x }

  /// When naive `e^{z}` overflows or underflows, the numbers of step 1 are `inf` or 0: says why and shows the shifted
  /// form `σ = e^{M} Σ_j e^{z_j − M}`, whose factor `e^{M}` cancels in every `s_i`.
  static func overflowNote(
    _ ev: Evaluation, n: Int, fmt: MathFormat, context ctx: RenderContext, _ emit: (ProseLine) -> Void
  ) {
    let report = ev.overflow
    guard report.sumOverflows || report.sumIsZero || !report.overflowing.isEmpty else { return }
    let c = ev.problem.classes
    let warn = ctx.error
    let st = ev.stable
    let m = fmt(st.max)
    emit(
      ProseLine(
        "   ⚠ in \(ev.problem.precision.rawValue): \(report.diagnosis(significantDigits: fmt.style.full ? nil : 4))",
        warn, indent: 5))
    emit(
      ProseLine(
        "   so use the shifted form with M = max_j z_j = \(m): σ = e^{M} Σ_j e^{z_j − M}, and e^{M} cancels in every "
          + "s_i = e^{z_i − M} / Σ_j e^{z_j − M}", .plain, indent: 5))
    var values = TextLine()
    if c <= 5 {
      for k in 0..<c {
        if k > 0 { values += " + " }
        values += fmt(st.exps[k])
      }
    } else {
      values = "\(fmt(st.exps[0])) + … + \(fmt(st.exps[c - 1]))"
    }
    // A shifted exponential can still underflow (e^{−200} in float32): such a 0 is written after →, not =.
    var underflows = false
    for k in 0..<c where st.exps[k] == 0 && st.shifted[k] != -.infinity { underflows = true }
    let sumRel: TextLine = underflows ? "→" : "="
    emit(ProseLine("     Σ_j e^{z_j − M} \(sumRel) \(values) = \(fmt(st.sum))", .plain, indent: 7))
    let nRel: TextLine = st.exps[n] == 0 && st.shifted[n] != -.infinity ? "→" : "="
    emit(
      ProseLine(
        "     e^{z_\(n) − M} = e^{\(fmt(st.shifted[n]))} \(nRel) \(fmt(st.exps[n])) in \(ev.problem.precision.rawValue), "
          + "so ∂σ/∂z_\(n) = e^{\(m)} × \(fmt(st.exps[n]))",
        .plain, indent: 7))
  }

  // MARK: Step 5

  /// The three numbers (chain rule, closed form, finite difference) with their relative distances and a verdict.
  static func checkLines(
    _ result: Check, _ ev: Evaluation, n: Int, fmt: MathFormat, context ctx: RenderContext, _ emit: (ProseLine) -> Void
  ) {
    func d(_ x: Double) -> TextLine { MathFormat.minus("\(x, digits: 2)") }
    let check = result.check
    let oneHot = ev.problem.isOneHot
    let chainLabel: TextLine =
      oneHot ? "chain rule: row T of J × (−1/s_T)" : "chain rule: Σ_i (−y_i/s_i)·∂s_i/∂x_n"
    let hasTau = ev.problem.temperature != 1
    let closedLabel: TextLine =
      "closed form \(oneHot ? (hasTau ? "(s − e_T)/τ" : "s − e_T") : (hasTau ? "(s − y)/τ" : "s − y"))"
    let g: TextLine = ev.problem.upstream == 1 ? "" : "g·"
    let fdLabel: TextLine =
      check.finite.map { "central difference, h = \(d($0.step))" } ?? "central difference"
    let labelWidth =
      Swift.max(g.scalarCount + Swift.max(chainLabel.scalarCount, closedLabel.scalarCount), fdLabel.scalarCount) + 2
    let chainValue = fmt(check.chain)
    let closedValue = fmt(check.closed)
    let finiteValue = check.finite.map { fmt($0.estimate) } ?? TextLine()
    let valueWidth =
      Swift.max(chainValue.scalarCount, closedValue.scalarCount, finiteValue.scalarCount) + 3
    func verdict(_ error: Double, _ tolerance: Double, _ v: CheckVerdict) -> TextLine {
      switch v {
      case .agrees: return "rel. error \(d(error)) ≤ \(d(tolerance)) ✓"
      case .differs: return "rel. error \(d(error)) > \(d(tolerance)) ✗"
      case .unresolved:
        // A value that is not a number (an overflowed chain rule) has no relative error to show.
        if !error.isFinite || !tolerance.isFinite { return "not a finite number: nothing to compare ?" }
        return "rel. error \(d(error)), tolerance \(d(tolerance)): too coarse to tell ?"
      }
    }
    emit(
      ProseLine(
        pad("\(g)\(chainLabel)", labelWidth) + pad(chainValue, valueWidth)
          + verdict(check.chainRelativeError, check.chainRelativeTolerance, check.chainVerdict)))
    emit(ProseLine(pad("\(g)\(closedLabel)", labelWidth) + pad(closedValue, valueWidth) + "(the reference)"))
    if let fd = check.finite {
      emit(
        ProseLine(
          pad(fdLabel, labelWidth) + pad(finiteValue, valueWidth)
            + verdict(fd.relativeError, fd.relativeTolerance, fd.verdict)))
    } else {
      emit(ProseLine(pad(fdLabel, labelWidth) + "none: x_\(n) is masked (−∞), no neighbourhood to difference"))
    }
    let verdictStyle = check.agrees ? ctx.good : ctx.error
    if check.agrees {
      emit(
        ProseLine(
          "✓ all three agree: each within the relative error \(ev.problem.precision.rawValue) and the conditioning "
            + "of its computation allow", verdictStyle, indent: 2))
    } else if check.verdict == .unresolved {
      emit(
        ProseLine(
          "? no contradiction, but \(ev.problem.precision.rawValue) cannot settle it: "
            + (check.chainUndefined
              ? "the chain rule is not a number here (\(result.reason))"
              : "a tolerance at least half the value cannot tell a right gradient from a wrong one"),
          ctx.warning, indent: 2))
    } else {
      emit(ProseLine("✗ they do not agree: \(result.reason)", verdictStyle, indent: 2))
    }
  }

  /// Right-pads (or cuts) to `width` scalars.
  static func pad(_ s: TextLine, _ width: Int) -> TextLine {
    var t = s
    t.append(" ", count: Swift.max(1, width - s.scalarCount))
    return t
  }

  /// The agreement check of step 5 (``GradientCheck``) with the facts its verdict line needs.
  struct Check {
    var check: GradientCheck
    var chain: Double { check.chain }
    var closed: Double { check.closed }
    var finite: FiniteDifference? { check.finite }
    var agrees: Bool { check.agrees }
    /// The precision, the loss's target and `s_T` (for `reason`).
    var precision: Precision
    var oneHot: Bool
    var targetProbability: Double

    init(_ ev: Evaluation, n: Int) {
      check = ev.gradientCheck(n)
      precision = ev.problem.precision
      oneHot = ev.problem.isOneHot
      targetProbability = ev.softmax[ev.problem.target]
    }

    /// Why they do not agree, when they do not.
    var reason: TextLine {
      if oneHot, targetProbability == 0 {
        return "s_T rounds to 0 in \(precision.rawValue), so −1/s_T = −inf and the chain-rule product is "
          + "\(chain, digits: 4); the closed form never divides by s_T"
      } else if !chain.isFinite || !closed.isFinite {
        return "a value is not finite (\(chain, digits: 4), \(closed, digits: 4))"
      } else if check.chainVerdict == .differs {
        return "the chain-rule product is off by \(check.chainRelativeError, digits: 2) relative, more than the "
          + "\(check.chainRelativeTolerance, digits: 2) its rounding allows"
      } else if let f = finite, f.verdict == .differs {
        return "the finite difference is off by \(f.relativeError, digits: 2) relative (allowed "
          + "\(f.relativeTolerance, digits: 2)): its step or the loss's rounding is too coarse here"
      } else {
        return "they differ"
      }
    }
  }
}
