import SoftmaxCore
import SoftmaxText

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
    let sigma = Normaliser(ev)
    func checkText(_ emit: (ProseLine) -> Void) { checkLines(check, ev, n: n, fmt: fmt, context: ctx, emit) }
    func stepsText(_ emit: (ProseLine) -> Void) {
      stepLines(ev, n: n, i: i, sigma: sigma, fmt: fmt, context: ctx, emit)
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
    _ ev: Evaluation, n: Int, i: Int, sigma: Normaliser, fmt: MathFormat, context ctx: RenderContext,
    _ emit: (ProseLine) -> Void
  ) {
    let steps = DerivationSteps(ev, n: n, i: i, sigma: sigma, fmt: fmt, context: ctx)
    steps.context(emit)
    steps.normaliser(emit)
    steps.quotientRule(emit)
    steps.lossOfProbabilities(emit)
    steps.chainRule(emit)
  }

  /// Whether `1 − s_n` written with the rounded `s_n` loses digits: `s_n` is the largest class and above 0.9, so
  /// ``Evaluation/complement(_:)`` (`Σ_{j≠n} s_j`) is shown instead.
  static func complementCancels(_ ev: Evaluation, _ n: Int) -> Bool {
    ev.jacobianUsesComplementSum(n) && ev.complement(n) < 0.1
  }

  /// Whether `s_n − y_n` is computed as `(1 − y_n) − Σ_{j≠n} s_j`: `y_n ≥ 1/2` (so `n` is the target) and
  /// `1 − s_n` cancels.
  static func usesComplement(_ ev: Evaluation, _ n: Int) -> Bool {
    ev.targetDistribution[n] >= 0.5 && complementCancels(ev, n)
  }

  /// `(s_n − y_n)/τ` as written, with the rounded `s_n`: what the subtraction gives when it cancels.
  static func naiveDerivative(_ ev: Evaluation, _ n: Int) -> Double {
    let p = ev.problem
    return p.precision.round(p.precision.round(ev.softmax[n] - ev.targetDistribution[n]) / p.temperature)
  }

  /// Whether the naive `s_n − y_n` shows other digits than the cancellation-free value (so both are shown).
  static func differenceCancels(_ ev: Evaluation, _ n: Int, _ fmt: MathFormat) -> Bool {
    usesComplement(ev, n) && fmt(naiveDerivative(ev, n)) != fmt(derivative(ev, n))
  }

  /// `∂c/∂x_n = (s_n − y_n)/τ` in the precision, without cancellation (`(1 − y_n) − Σ_{j≠n} s_j` where
  /// ``usesComplement(_:_:)``), as the gradient is computed.
  static func derivative(_ ev: Evaluation, _ n: Int) -> Double {
    let p = ev.problem
    let y = ev.targetDistribution[n]
    let d = usesComplement(ev, n) ? (1 - y) - ev.complement(n) : ev.softmax[n] - y
    return p.precision.round(d / p.temperature)
  }

  /// The chain-rule sum `Σ_i (∂c/∂s_i)(∂s_i/∂x_n)` with the numbers: every term up to 4 classes, else the terms with
  /// `y_i > 0` (at most 3) and a count of the zero ones. Its value is the sum of the terms in float64.
  static func chainSumLine(
    _ ev: Evaluation, n: Int, fmt: MathFormat, context ctx: RenderContext, _ emit: (ProseLine) -> Void
  ) {
    let c = ev.problem.classes
    let s = ev.softmax
    let y = ev.targetDistribution
    var line: TextLine = "           = "
    var total = 0.0
    var shown = 0
    var hidden = 0
    var zeros = 0
    for k in 0..<c {
      let weight = y[k] == 0 ? 0 : -y[k] / s[k]
      let entry = ev.jacobian(k, n)
      if y[k] != 0 { total += weight * entry }
      if c <= 4 || (y[k] != 0 && shown < 3) {
        if shown > 0 { line += " + " }
        line += "(\(fmt(weight)))(\(fmt(entry)))"
        shown += 1
      } else if y[k] == 0 {
        zeros += 1
      } else {
        hidden += 1
      }
    }
    if hidden > 0 { line += " + … (\(hidden) more with y_i > 0)" }
    if zeros > 0 { line += " + 0 × … (the \(zeros) terms with ∂c/∂s_i = 0)" }
    line += " = \(fmt(ev.problem.precision.round(total)))"
    emit(ProseLine(line, ctx.numbers, indent: 13))
  }

  /// The case form of the case-form article, `∂c/∂x_k = (s_k − 1)/τ` for `k = T` and `s_k/τ` otherwise (with label
  /// smoothing `s_k − (1 − ε + ε/C)` and `s_k − ε/C`), and the case of the cursor's class with its numbers.
  static func caseFormLines(
    _ ev: Evaluation, n: Int, dc: Double, fmt: MathFormat, context ctx: RenderContext, _ emit: (ProseLine) -> Void
  ) {
    let p = ev.problem
    let t = p.target
    let hasTau = p.temperature != 1
    let slashTau: TextLine = hasTau ? "/τ" : ""
    let tauNum: TextLine = hasTau ? " / \(fmt.short(p.temperature))" : ""
    func paren(_ x: TextLine) -> TextLine { hasTau ? "(\(x))" : x }
    guard p.softTarget == nil else {
      emit(
        ProseLine(
          "   by cases: none with a soft target (every class has its own y_k; ∂c/∂x_k = (s_k − y_k)\(slashTau))",
          ctx.muted, indent: 5))
      return
    }
    let smoothed = p.labelSmoothing != 0
    let hit: TextLine = smoothed ? "s_k − (1 − ε + ε/C)" : "s_k − 1"
    let miss: TextLine = smoothed ? "s_k − ε/C" : "s_k"
    emit(
      ProseLine(
        "   by cases:  ∂c/∂x_k = \(paren(hit))\(slashTau) for k = T,  \(smoothed ? paren(miss) : miss)\(slashTau) for k ≠ T",
        .plain,
        indent: 5))
    let s = ev.softmax[n]
    let y = ev.targetDistribution[n]
    var line: TextLine
    if n == t {
      line =
        differenceCancels(ev, n, fmt)
        ? "   here k = \(n) = T:  ∂c/∂x_\(n) = \(paren(smoothed ? "(1 − y_\(n)) − Σ_{j≠\(n)} s_j" : "−Σ_{j≠\(n)} s_j"))"
          + "\(slashTau) = \(fmt(dc))"
        : "   here k = \(n) = T:  ∂c/∂x_\(n) = \(paren("\(fmt(s)) − \(smoothed ? fmt(y) : "1")"))\(tauNum) = \(fmt(dc))"
    } else {
      line =
        smoothed
        ? "   here k = \(n) ≠ T:  ∂c/∂x_\(n) = \(paren("\(fmt(s)) − \(fmt(y))"))\(tauNum) = \(fmt(dc))"
        : hasTau
          ? "   here k = \(n) ≠ T:  ∂c/∂x_\(n) = s_\(n)/τ = \(fmt(s))\(tauNum) = \(fmt(dc))"
          : "   here k = \(n) ≠ T:  ∂c/∂x_\(n) = s_\(n) = \(fmt(dc))"
    }
    emit(ProseLine(line, ctx.numbers, indent: 5))
  }

  /// σ as the derivation uses it, exact to the digits shown: `σ = e^{M}·Σ_j e^{z_j − M}` with the sum taken in float64
  /// over the precision's `z_j` (wider than every precision but float64, and in float64 within an ulp or so).
  struct Normaliser {
    /// `M = max_j z_j`.
    var max: Double
    /// `Σ_j e^{z_j − M}`.
    var shifted: Double
    /// `e^{M}·Σ_j e^{z_j − M}` (inf when `e^{M}` overflows float64).
    var value: Double
    /// Whether every finite `e^{z_j}` is finite and nonzero in float64: by the monotonicity of `exp`, whether the
    /// largest and the smallest finite `z` are.
    var everyTermRepresentable: Bool

    init(_ ev: Evaluation) {
      let z = ev.scaled
      var m = -Double.infinity
      var least = Double.infinity
      for v in z {
        if v > m { m = v }
        if v < least, v != -.infinity { least = v }
      }
      everyTermRepresentable = !m.isFinite || (Double.exp(m).isFinite && Double.exp(least) != 0)
      var sum = 0.0
      if m.isFinite {
        for v in z { sum += Double.exp(v - m) }
      }
      max = m
      shifted = sum
      value = m.isFinite ? Double.exp(m) * sum : .nan
    }

    /// `e^{z_k}` in float64.
    func exp(_ ev: Evaluation, _ k: Int) -> Double { Double.exp(ev.scaled[k]) }

    /// σ, or `e^{M} × Σ_j e^{z_j − M}` when it is too large for float64.
    func text(_ fmt: MathFormat) -> TextLine {
      value.isFinite || value.isNaN ? fmt(value) : "e^{\(fmt(max))} × \(fmt(shifted))"
    }

    /// Whether the naive left-to-right sum shows other digits than σ.
    func naiveDiffers(_ ev: Evaluation, _ fmt: MathFormat) -> Bool {
      value.isFinite && fmt(ev.naive.sum) != fmt(value)
    }

    /// How far the naive sum is from σ, in words.
    func naiveError(_ ev: Evaluation) -> TextLine {
      let naive = ev.naive.sum
      if naive.isInfinite { return "overflows" }
      if naive == 0 { return "underflows to 0" }
      if !naive.isFinite { return "not a number" }
      let ratio = value / naive
      if ratio >= 1.5 { return "\(ratio, digits: 3)× too small" }
      if ratio <= 1 / 1.5 { return "\(1 / ratio, digits: 3)× too large" }
      let percent = abs(naive / value - 1) * 100
      return "\(percent, digits: 2)% too \(naive < value ? "small" : "large") (rounding in each addition)"
    }
  }

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

/// What steps 1–4 of the derivation share: the evaluation, the class and output shown, and the notation.
struct DerivationSteps {
  let ev: Evaluation
  let n: Int
  let i: Int
  let sigma: DerivationView.Normaliser
  let fmt: MathFormat
  let ctx: RenderContext
  let p: Problem
  let c: Int
  let t: Int
  let s: [Double]
  let tau: Double
  let hasTau: Bool
  let oneHot: Bool
  let head: Style
  let eq = Style.plain
  let num: Style
  let note: Style
  /// With temperature the exponent is z = x/τ; without, z = x and we write x.
  let v: TextLine
  let slashTau: TextLine
  let tauNum: TextLine

  init(
    _ ev: Evaluation, n: Int, i: Int, sigma: DerivationView.Normaliser, fmt: MathFormat, context ctx: RenderContext
  ) {
    (self.ev, self.n, self.i, self.sigma, self.fmt, self.ctx) = (ev, n, i, sigma, fmt, ctx)
    p = ev.problem
    c = p.classes
    t = p.target
    s = ev.softmax
    tau = p.temperature
    hasTau = tau != 1
    oneHot = p.isOneHot
    (head, num, note) = (ctx.label, ctx.numbers, ctx.muted)
    v = hasTau ? "z" : "x"
    slashTau = hasTau ? "/τ" : ""
    tauNum = hasTau ? " / \(fmt.short(tau))" : ""
  }

  func paren(_ x: TextLine) -> TextLine { hasTau ? "(\(x))" : x }
  func e(_ k: Int) -> TextLine { "e^{\(fmt.short(ev.scaled[k]))}" }
}

extension DerivationSteps {
  /// The line naming the class, output, target and knobs.
  func context(_ emit: (ProseLine) -> Void) {
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
  }

  func normaliser(_ emit: (ProseLine) -> Void) {
    // 1. The normaliser, in index notation: σ = 1_j e^{v_j} (a repeated index is summed; 1 is the all-ones vector).
    // Its numbers are exact to the digits shown (summed in float64, see `Normaliser`); the naive left-to-right sum in
    // the precision is shown beside it, labelled, when it says something else.
    emit(ProseLine("1. The normaliser σ and its derivative", head))
    emit(
      ProseLine(
        "   σ = Σ_j e^{\(v)_j} = 1_j e^{\(v)_j}\(hasTau ? "  with  z_j = x_j/τ" : "")   (repeated j summed; "
          + "1 = all-ones vector; \(c) classes)", eq, indent: 5))
    var terms = TextLine()
    var values = TextLine()
    // An e^{z} that overflows or underflows even in float64 is not the exact value: it is written after →, not =.
    let rel: TextLine = sigma.everyTermRepresentable ? "=" : "→"
    if c <= 5 {
      for k in 0..<c {
        if k > 0 {
          terms += " + "
          values += " + "
        }
        terms += e(k)
        values += fmt(sigma.exp(ev, k))
      }
    } else {
      terms = "\(e(0)) + \(e(1)) + … + \(e(c - 1))"
      values =
        "\(fmt(sigma.exp(ev, 0))) + \(fmt(sigma.exp(ev, 1))) + … + \(fmt(sigma.exp(ev, c - 1)))"
    }
    emit(ProseLine("     = \(terms) \(rel) \(values) \(rel) \(sigma.text(fmt))", num, indent: 7))
    if p.precision != .float64 {
      emit(
        ProseLine(
          "     (e^{\(v)_j} and σ computed in float64, wider than \(p.precision.rawValue): exact to the digits shown)",
          note, indent: 7))
    }
    if sigma.naiveDiffers(ev, fmt) {
      emit(
        ProseLine(
          "   σ (naive left-to-right, \(p.precision.rawValue)) = \(fmt(ev.naive.sum)) — \(sigma.naiveError(ev)); "
            + "σ used below = \(sigma.text(fmt))", ctx.warning, indent: 5))
    }
    let overTau: TextLine = hasTau ? "/τ" : ""
    emit(
      ProseLine(
        "   ∂σ/∂x_n = 1_j ∂e^{\(v)_j}/∂x_n = 1_j (∂e^{\(v)_j}/∂\(v)_j)(∂\(v)_j/∂x_n) = 1_j e^{\(v)_j} δ_jn\(overTau)"
          + "  (δ_jn: 1 if j = n, else 0)", eq, indent: 5))
    emit(
      ProseLine(
        "           = Σ_j e^{\(v)_j} δ_jn\(overTau) = e^{\(v)_n}\(overTau)   (δ_jn keeps j = n; 1_n = 1 dropped)",
        eq, indent: 5))
    var expanded = TextLine()
    if c <= 4 {
      for k in 0..<c {
        if k > 0 { expanded += " + " }
        expanded += "1·\(e(k))·\(k == n ? "1" : "0")"
      }
    } else {
      expanded = "1·\(e(n))·1 + (the \(c - 1) terms j ≠ \(n), each × 0)"
    }
    emit(
      ProseLine(
        "   ∂σ/∂x_\(n) = (\(expanded))\(tauNum) = \(e(n))\(tauNum) \(rel) \(fmt(sigma.exp(ev, n) / tau))", num,
        indent: 5))
    DerivationView.overflowNote(ev, n: n, fmt: fmt, context: ctx, emit)
    emit(.blank)
  }

  func quotientRule(_ emit: (ProseLine) -> Void) {
    // 2. The quotient rule.
    emit(ProseLine("2. The quotient rule on s_i = e^{\(v)_i}/σ", head))
    emit(
      ProseLine("   ∂s_i/∂x_n = (∂e^{\(v)_i}/∂x_n · σ − e^{\(v)_i} · ∂σ/∂x_n) / σ²", eq, indent: 5))
    emit(
      ProseLine(
        "             = (e^{\(v)_i} δ_in σ − e^{\(v)_i} e^{\(v)_n}) / \(hasTau ? "(τσ²)" : "σ²")",
        eq, indent: 5))
    emit(ProseLine("             = \(paren("s_i δ_in − s_i s_n"))\(slashTau)", eq, indent: 5))
    if sigma.naiveDiffers(ev, fmt) {
      emit(
        ProseLine(
          "   (every s_i here is e^{\(v)_i}/σ with σ = \(sigma.text(fmt)) of step 1, rounded into "
            + "\(p.precision.rawValue); not the naive \(fmt(ev.naive.sum)))", note, indent: 5))
    }
    // The two cases; the one under the cursor is marked. For i = n the off-diagonal example uses another class.
    let other = i != n ? i : (t != n ? t : (n + 1) % Swift.max(1, c))
    let diagMark = i == n ? "▸" : " "
    let offMark = i != n ? "▸" : " "
    let diagValue = ev.jacobian(n, n)
    let diagCancels = DerivationView.complementCancels(ev, n)
    // Where 1 − s_n would cancel (s_n rounds to about 1), the complement is shown as the core computes it.
    let oneMinus: TextLine =
      diagCancels ? fmt(p.precision.round(ev.complement(n))) : "(1 − \(fmt(s[n])))"
    emit(
      ProseLine(
        " \(diagMark) i = n:  ∂s_n/∂x_n = s_n(1 − s_n)\(slashTau)   ∂s_\(n)/∂x_\(n) = \(fmt(s[n])) × \(oneMinus)"
          + "\(tauNum) = \(fmt(diagValue))", i == n ? ctx.label : eq, indent: 12))
    if diagCancels {
      emit(
        ProseLine(
          "             1 − s_\(n) = Σ_{j≠\(n)} s_j = \(oneMinus)   (computed without cancellation: 1 − \(fmt(s[n])) "
            + "would lose its digits)", note, indent: 14))
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
  }

  func lossOfProbabilities(_ emit: (ProseLine) -> Void) {
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
  }

  func chainRule(_ emit: (ProseLine) -> Void) {
    // 4. The chain rule.
    emit(ProseLine("4. The chain rule: x_n reaches c through every s_i (they share σ)", head))
    let g = p.upstream
    let y = ev.targetDistribution
    emit(ProseLine("   ∂c/∂x_n = Σ_i (∂c/∂s_i)(∂s_i/∂x_n)", eq, indent: 5))
    DerivationView.chainSumLine(ev, n: n, fmt: fmt, context: ctx, emit)
    if oneHot {
      emit(
        ProseLine(
          "           = Σ_i (−δ_iT/s_T)(s_i δ_in − s_i s_n)\(slashTau)"
            + " = −(1/s_T)(s_T δ_Tn − s_T s_n)\(slashTau)   (δ_iT keeps only the term i = T)",
          eq, indent: 5))
      emit(ProseLine("           = \(paren("s_n − δ_Tn"))\(slashTau)", ctx.label, indent: 5))
    } else {
      emit(
        ProseLine(
          "           = Σ_i (−y_i/s_i)(s_i δ_in − s_i s_n)\(slashTau) = Σ_i y_i (s_n − δ_in)\(slashTau)",
          eq, indent: 5))
      emit(
        ProseLine(
          "           = \(paren("s_n Σ_i y_i − y_n"))\(slashTau) = \(paren("s_n − y_n"))\(slashTau)   (Σ_i y_i = 1)",
          ctx.label, indent: 5))
    }
    let yn: TextLine = oneHot ? "δ_T\(n)" : "y_\(n)"
    let dc = DerivationView.derivative(ev, n)
    let dcShown = fmt(dc)
    if DerivationView.differenceCancels(ev, n, fmt) {
      // s_n − y_n with s_n ≈ y_n ≈ 1: written as (1 − y_n) − Σ_{j≠n} s_j, which has no cancellation.
      let free: TextLine =
        oneHot ? "−Σ_{j≠\(n)} s_j" : "(1 − y_\(n)) − Σ_{j≠\(n)} s_j"
      emit(
        ProseLine(
          "   ∂c/∂x_\(n) = \(paren("s_\(n) − \(yn)"))\(slashTau) = \(paren(free))\(slashTau) = \(dcShown)", num,
          indent: 5))
      emit(
        ProseLine(
          "     naive: \(paren("\(fmt(s[n])) − \(fmt.short(y[n]))"))\(tauNum) = "
            + "\(fmt(DerivationView.naiveDerivative(ev, n)))   cancellation-free: "
            + (oneHot && !hasTau
              ? "−Σ_{j≠\(n)} s_j = \(dcShown)"
              : "\(paren(oneHot ? "−\(fmt(p.precision.round(ev.complement(n))))" : "\(fmt(p.precision.round(1 - y[n]))) − \(fmt(p.precision.round(ev.complement(n))))"))\(tauNum) = \(dcShown)"),
          num, indent: 7))
      emit(
        ProseLine(
          "     why: s_\(n) rounds to \(fmt(s[n])), so the subtraction keeps none of its digits; 1 − s_\(n) = "
            + "Σ_{j≠\(n)} s_j adds positive terms and loses nothing", note, indent: 7))
    } else {
      emit(
        ProseLine(
          "   ∂c/∂x_\(n) = \(paren("s_\(n) − \(yn)"))\(slashTau) = "
            + "\(paren("\(fmt(s[n])) − \(fmt.short(y[n]))"))\(tauNum) = \(dcShown)",
          num, indent: 5))
    }
    DerivationView.caseFormLines(ev, n: n, dc: dc, fmt: fmt, context: ctx, emit)
    emit(
      ProseLine(
        "   backprop:  ∂l/∂x_n = (∂l/∂c)(∂c/∂x_n) = g·(s_n − \(oneHot ? "δ_Tn" : "y_n"))\(slashTau)",
        eq, indent: 5))
    emit(
      ProseLine(
        "   ∂l/∂x_\(n) = \(fmt.short(g)) × \(dc < 0 || dc.sign == .minus ? "(\(dcShown))" : dcShown) = "
          + "\(fmt(ev.gradient[n]))", num, indent: 5))
    if p.logits[n] == -.infinity {
      emit(
        ProseLine(
          "   x_\(n) is masked (−∞): s_\(n) = 0 exactly, so its gradient is −y_\(n)\(slashTau)",
          note, indent: 5))
    }
  }
}
