import SoftmaxCore

extension RenderContext {
  /// Substituted numbers in the derivation: plain without colour, a calm cyan with it.
  var numbers: Style {
    colorMode == .none ? .plain : Style(foreground: colorMode == .extended ? .indexed(117) : .cyan)
  }
  /// A warning that is not an error (a subnormal value): underlined without colour, yellow with it.
  var warning: Style {
    colorMode == .none ? Style(attributes: .underline) : Style(foreground: .yellow)
  }

  /// `text(_:)` plus the symbols these screens use that it does not know (`²`, `Δ`, `▲`, `▼`, `•`, curly quotes).
  func prose(_ s: String) -> String {
    if unicode { return s }
    var t = ""
    t.reserveCapacity(s.utf8.count)
    for ch in s.unicodeScalars {
      switch ch {
      case "²": t += "^2"
      case "Δ": t += "D"
      case "▲": t += "^"
      case "▼": t += "v"
      case "•": t += "*"
      case "“", "”": t += "\""
      case "’": t += "'"
      default: t.unicodeScalars.append(ch)
      }
    }
    return text(t)
  }
}

/// One line of a text-heavy screen: its text (with math symbols, converted by `RenderContext.text` when drawn), its
/// style, and how far continuation lines are indented when it wraps.
struct ProseLine {
  var text: String
  var style: Style
  var indent: Int

  init(_ text: String, _ style: Style = .plain, indent: Int = 0) {
    self.text = text
    self.style = style
    self.indent = indent
  }

  /// An empty spacer line.
  static let blank = ProseLine("")

  /// The line wrapped at spaces to `width` cells after converting it for `ctx`. Leading spaces are kept on the first
  /// line; continuation lines are indented by `indent` (at least the leading spaces). A word longer than the width is
  /// cut.
  func wrapped(width: Int, context ctx: RenderContext) -> [ProseLine] {
    let t = Array(ctx.prose(text).unicodeScalars)
    guard width > 0 else { return [] }
    if t.count <= width { return [ProseLine(String(String.UnicodeScalarView(t)), style)] }
    let lead = t.prefix { $0 == " " }.count
    let hang = Swift.min(Swift.max(indent, lead), width / 2)
    var lines: [ProseLine] = []
    var current = Array(t.prefix(lead))
    var k = lead
    func flush() {
      while current.last == " " { current.removeLast() }
      lines.append(ProseLine(String(String.UnicodeScalarView(current)), style))
      current = Array(repeating: " ", count: hang)
    }
    while k < t.count {
      // The next word and the spaces before it.
      var spaces = 0
      while k + spaces < t.count, t[k + spaces] == " " { spaces += 1 }
      var end = k + spaces
      while end < t.count, t[end] != " " { end += 1 }
      let word = t[(k + spaces)..<end]
      let atStart =
        current.count <= hang && !lines.isEmpty || current.count == lead && lines.isEmpty
      if !atStart && current.count + spaces + word.count > width {
        flush()
        current += word
      } else {
        if !atStart || lines.isEmpty {
          current += Array(repeating: " ", count: atStart ? 0 : spaces)
        }
        current += word
      }
      while current.count > width {
        let rest = current[width...]
        current = Array(current.prefix(width))
        flush()
        current += rest
      }
      k = end
    }
    if current.contains(where: { $0 != " " }) { flush() }
    return lines
  }
}

/// Numbers as the derivation prints them: the screen's number style with a true minus sign, and logits, deltas and
/// knobs in their shortest exact form when that is short (`e^{3}` rather than `e^{3.000}`).
struct MathFormat {
  var style: NumberStyle

  func callAsFunction(_ x: Double) -> String { Self.minus(style(x)) }

  /// The shortest exact decimal when it has at most 6 characters (and full digits are off), else the usual format.
  func short(_ x: Double) -> String {
    let c = DecimalFormat.compact(x)
    return !style.full && c.count <= 6 && x.isFinite ? Self.minus(c) : callAsFunction(x)
  }

  /// A leading `-` as `−` (converted back to `-` in ASCII mode).
  static func minus(_ s: String) -> String { s.hasPrefix("-") ? "−" + s.dropFirst() : s }
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
    let check = checkLines(ev, n: n, fmt: fmt, context: ctx)
    let pinned = body.height >= 16 && body.width >= 40
    var stepsRect = body
    if pinned {
      let checkHeight = check.flatMap { $0.wrapped(width: body.width - 3, context: ctx) }.count + 2
      stepsRect.height = body.height - checkHeight
      let checkRect = Rect(x: body.x, y: stepsRect.maxY, width: body.width, height: checkHeight)
      buf.box(
        checkRect, title: "5. Three numbers that must agree (|Δ|: distance from the closed form)",
        context: ctx)
      drawLines(check, in: checkRect, scroll: 0, into: &buf, context: ctx)
    }
    var lines = stepLines(ev, n: n, i: i, fmt: fmt, context: ctx)
    if !pinned {
      lines.append(.blank)
      lines.append(ProseLine("5. Three numbers that must agree", ctx.label))
      lines += check
    }
    let inner = Rect(
      x: stepsRect.x + 2, y: stepsRect.y + 1, width: stepsRect.width - 3,
      height: stepsRect.height - 2)
    let wrapped = lines.flatMap { $0.wrapped(width: inner.width, context: ctx) }
    let maxScroll = Swift.max(0, wrapped.count - inner.height)
    let scroll = Swift.min(Swift.max(0, state.derivationScroll), maxScroll)
    var title = "Derivation of ∂l/∂x_\(n) (n: ← →, i = \(i): ↑ ↓)"
    if maxScroll > 0 {
      title +=
        " · lines \(scroll + 1)–\(Swift.min(wrapped.count, scroll + inner.height)) of \(wrapped.count), PgUp/PgDn"
    }
    buf.box(stepsRect, title: title, context: ctx)
    guard !inner.isEmpty else { return }
    for (k, line) in wrapped.dropFirst(scroll).prefix(inner.height).enumerated() {
      buf.write(line.text, x: inner.x, y: inner.y + k, style: line.style, clip: inner)
    }
    if maxScroll > 0 {
      // Arrows on the right border say there is more above or below.
      let up = ctx.unicode ? "▲" : "^"
      let down = ctx.unicode ? "▼" : "v"
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

  /// Draws already built lines inside a box (one cell of padding left and right), wrapping and clipping them.
  static func drawLines(
    _ lines: [ProseLine], in rect: Rect, scroll: Int, into buf: inout Buffer,
    context ctx: RenderContext
  ) {
    let inner = Rect(x: rect.x + 2, y: rect.y + 1, width: rect.width - 3, height: rect.height - 2)
    guard !inner.isEmpty else { return }
    let wrapped = lines.flatMap { $0.wrapped(width: inner.width, context: ctx) }
    for (k, line) in wrapped.dropFirst(scroll).prefix(inner.height).enumerated() {
      buf.write(line.text, x: inner.x, y: inner.y + k, style: line.style, clip: inner)
    }
  }

  // MARK: Steps 1–4

  /// The derivation for class `n` and output `i`, with the evaluation's numbers substituted.
  static func stepLines(
    _ ev: Evaluation, n: Int, i: Int, fmt: MathFormat, context ctx: RenderContext
  ) -> [ProseLine] {
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
    let v = hasTau ? "z" : "x"
    let slashTau = hasTau ? "/τ" : ""
    let tauNum = hasTau ? " / \(fmt.short(tau))" : ""
    func paren(_ x: String) -> String { hasTau ? "(\(x))" : x }
    func e(_ k: Int) -> String { "e^{\(fmt.short(ev.scaled[k]))}" }
    var out: [ProseLine] = []

    // Context line.
    var context = "class n = \(n), output i = \(i), "
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
    out.append(ProseLine(context, note, indent: 2))
    out.append(.blank)

    // 1. The normaliser.
    out.append(ProseLine("1. The normaliser σ and its derivative", head))
    if hasTau {
      out.append(
        ProseLine(
          "   σ = Σ_j e^{z_j}  with  z_j = x_j/τ   (j runs over all \(c) classes)", eq, indent: 5))
    } else {
      out.append(ProseLine("   σ = Σ_j e^{x_j}   (j runs over all \(c) classes)", eq, indent: 5))
    }
    let terms: String
    let values: String
    if c <= 5 {
      terms = (0..<c).map(e).joined(separator: " + ")
      values = (0..<c).map { fmt(ev.naive.exps[$0]) }.joined(separator: " + ")
    } else {
      terms = "\(e(0)) + \(e(1)) + … + \(e(c - 1))"
      values =
        "\(fmt(ev.naive.exps[0])) + \(fmt(ev.naive.exps[1])) + … + \(fmt(ev.naive.exps[c - 1]))"
    }
    out.append(ProseLine("     = \(terms) = \(values) = \(fmt(ev.naive.sum))", num, indent: 7))
    if hasTau {
      out.append(
        ProseLine(
          "   ∂σ/∂x_n = Σ_j e^{z_j} δ_jn /τ = e^{z_n}/τ   (only j = n depends on x_n)", eq,
          indent: 5))
      out.append(
        ProseLine(
          "   ∂σ/∂x_\(n) = \(e(n))\(tauNum) = \(fmt(ev.naive.exps[n] / tau))", num, indent: 5))
    } else {
      out.append(
        ProseLine(
          "   ∂σ/∂x_n = Σ_j e^{x_j} δ_jn = e^{x_n}   (only j = n depends on x_n)", eq, indent: 5))
      out.append(ProseLine("   ∂σ/∂x_\(n) = \(e(n)) = \(fmt(ev.naive.exps[n]))", num, indent: 5))
    }
    out += overflowNote(ev, n: n, fmt: fmt, context: ctx)
    out.append(.blank)

    // 2. The quotient rule.
    out.append(ProseLine("2. The quotient rule on s_i = e^{\(v)_i}/σ", head))
    out.append(
      ProseLine("   ∂s_i/∂x_n = (∂e^{\(v)_i}/∂x_n · σ − e^{\(v)_i} · ∂σ/∂x_n) / σ²", eq, indent: 5))
    out.append(
      ProseLine(
        "             = (e^{\(v)_i} δ_in σ − e^{\(v)_i} e^{\(v)_n}) / \(hasTau ? "(τσ²)" : "σ²")",
        eq, indent: 5))
    out.append(ProseLine("             = \(paren("s_i δ_in − s_i s_n"))\(slashTau)", eq, indent: 5))
    // The two cases; the one under the cursor is marked. For i = n the off-diagonal example uses another class.
    let other = i != n ? i : (t != n ? t : (n + 1) % Swift.max(1, c))
    let diagMark = i == n ? "▸" : " "
    let offMark = i != n ? "▸" : " "
    let diagValue = ev.jacobian(n, n)
    out.append(
      ProseLine(
        " \(diagMark) i = n:  ∂s_n/∂x_n = s_n(1 − s_n)\(slashTau)   ∂s_\(n)/∂x_\(n) = \(fmt(s[n])) × (1 − \(fmt(s[n])))"
          + "\(tauNum) = \(fmt(diagValue))", i == n ? ctx.label : eq, indent: 12))
    if c > 1 {
      out.append(
        ProseLine(
          " \(offMark) i ≠ n:  ∂s_i/∂x_n = −s_i s_n\(slashTau)      "
            + "∂s_\(other)/∂x_\(n) = −\(fmt(s[other])) × \(fmt(s[n]))\(tauNum) = \(fmt(ev.jacobian(other, n)))",
          i != n ? ctx.label : eq, indent: 12))
    } else {
      out.append(ProseLine("   i ≠ n: does not occur with a single class", note, indent: 5))
    }
    out.append(.blank)

    // 3. The loss as a function of s.
    out.append(ProseLine("3. The loss as a function of the probabilities", head))
    if oneHot {
      out.append(
        ProseLine(
          "   c = −log s_T   (T = \(t) is the label: a fixed index chosen by the data, not an index summed over)",
          eq, indent: 5))
      out.append(ProseLine("   ∂c/∂s_i = −δ_iT / s_T   (zero for every i except T)", eq, indent: 5))
      var line = "   ∂c/∂s_\(t) = −1/\(fmt(s[t])) = \(fmt(-1 / s[t]))"
      if i != t { line += ";  ∂c/∂s_\(i) = 0 since \(i) ≠ T" }
      out.append(ProseLine(line, num, indent: 5))
    } else {
      let yDef = p.softTarget != nil ? "y is the soft target" : "y_i = (1 − ε)δ_iT + ε/C"
      out.append(ProseLine("   c = −Σ_i y_i log s_i   (\(yDef); Σ_i y_i = 1)", eq, indent: 5))
      out.append(
        ProseLine("   ∂c/∂s_i = −y_i / s_i   (every class with y_i > 0 contributes)", eq, indent: 5)
      )
      let y = ev.targetDistribution
      var line = "   ∂c/∂s_\(i) = −\(fmt(y[i]))/\(fmt(s[i])) = \(fmt(-y[i] / s[i]))"
      if let k = [t, n].first(where: { $0 != i }) {
        line += ";  ∂c/∂s_\(k) = −\(fmt(y[k]))/\(fmt(s[k])) = \(fmt(-y[k] / s[k]))"
      }
      out.append(ProseLine(line, num, indent: 5))
    }
    out.append(.blank)

    // 4. The chain rule.
    out.append(ProseLine("4. The chain rule: x_n reaches c through every s_i (they share σ)", head))
    let g = p.upstream
    if oneHot {
      out.append(
        ProseLine(
          "   ∂c/∂x_n = Σ_i (∂c/∂s_i)(∂s_i/∂x_n) = Σ_i (−δ_iT/s_T)(s_i δ_in − s_i s_n)\(slashTau)",
          eq, indent: 5))
      out.append(
        ProseLine(
          "           = −(1/s_T)(s_T δ_Tn − s_T s_n)\(slashTau)   (δ_iT keeps only the term i = T)",
          eq, indent: 5))
      out.append(ProseLine("           = \(paren("s_n − δ_Tn"))\(slashTau)", ctx.label, indent: 5))
      let d = n == t ? 1.0 : 0.0
      out.append(
        ProseLine(
          "   ∂c/∂x_\(n) = \(paren("s_\(n) − δ_T\(n)"))\(slashTau) = "
            + "\(paren("\(fmt(s[n])) − \(fmt.short(d))"))\(tauNum) = \(fmt((s[n] - d) / tau))",
          num, indent: 5))
      out.append(
        ProseLine(
          "   backprop:  ∂l/∂x_n = (∂l/∂c)(s_n − δ_Tn)\(slashTau) = g·(s_n − δ_Tn)\(slashTau)", eq,
          indent: 5))
      out.append(
        ProseLine(
          "   ∂l/∂x_\(n) = \(fmt.short(g)) × (\(fmt(s[n])) − \(fmt.short(d)))\(tauNum) = \(fmt(ev.gradient[n]))",
          num, indent: 5))
    } else {
      let y = ev.targetDistribution
      out.append(
        ProseLine(
          "   ∂c/∂x_n = Σ_i (−y_i/s_i)(s_i δ_in − s_i s_n)\(slashTau) = Σ_i y_i (s_n − δ_in)\(slashTau)",
          eq, indent: 5))
      out.append(
        ProseLine(
          "           = \(paren("s_n Σ_i y_i − y_n"))\(slashTau) = \(paren("s_n − y_n"))\(slashTau)   (Σ_i y_i = 1)",
          eq, indent: 5))
      out.append(
        ProseLine(
          "   ∂c/∂x_\(n) = \(paren("s_\(n) − y_\(n)"))\(slashTau) = "
            + "\(paren("\(fmt(s[n])) − \(fmt(y[n]))"))\(tauNum) = \(fmt((s[n] - y[n]) / tau))",
          num, indent: 5))
      out.append(
        ProseLine(
          "   backprop:  ∂l/∂x_n = (∂l/∂c)(s_n − y_n)\(slashTau) = g·(s_n − y_n)\(slashTau)", eq,
          indent: 5))
      out.append(
        ProseLine(
          "   ∂l/∂x_\(n) = \(fmt.short(g)) × (\(fmt(s[n])) − \(fmt(y[n])))\(tauNum) = \(fmt(ev.gradient[n]))",
          num, indent: 5))
    }
    if p.logits[n] == -.infinity {
      out.append(
        ProseLine(
          "   x_\(n) is masked (−∞): s_\(n) = 0 exactly, so its gradient is −y_\(n)\(slashTau)",
          note, indent: 5))
    }
    return out
  }

  /// When naive `e^{z}` overflows or underflows, the numbers of step 1 are `inf` or 0: says why and shows the shifted
  /// form `σ = e^{M} Σ_j e^{z_j − M}`, whose factor `e^{M}` cancels in every `s_i`.
  static func overflowNote(_ ev: Evaluation, n: Int, fmt: MathFormat, context ctx: RenderContext)
    -> [ProseLine]
  {
    let report = ev.overflow
    guard report.sumOverflows || report.sumIsZero || !report.overflowing.isEmpty else { return [] }
    let c = ev.problem.classes
    let warn = ctx.error
    let st = ev.stable
    let m = fmt(st.max)
    var out = [
      ProseLine("   ⚠ in \(ev.problem.precision.rawValue): " + report.diagnosis, warn, indent: 5)
    ]
    out.append(
      ProseLine(
        "   so use the shifted form with M = max_j z_j = \(m): σ = e^{M} Σ_j e^{z_j − M}, and e^{M} cancels in every "
          + "s_i = e^{z_i − M} / Σ_j e^{z_j − M}", .plain, indent: 5))
    let values =
      c <= 5
      ? (0..<c).map { fmt(st.exps[$0]) }.joined(separator: " + ")
      : "\(fmt(st.exps[0])) + … + \(fmt(st.exps[c - 1]))"
    out.append(ProseLine("     Σ_j e^{z_j − M} = \(values) = \(fmt(st.sum))", .plain, indent: 7))
    out.append(
      ProseLine(
        "     e^{z_\(n) − M} = e^{\(fmt(st.shifted[n]))} = \(fmt(st.exps[n])), "
          + "so ∂σ/∂z_\(n) = e^{\(m)} × \(fmt(st.exps[n]))",
        .plain, indent: 7))
    return out
  }

  // MARK: Step 5

  /// The three numbers (chain rule, closed form, finite difference) with their differences and a verdict.
  static func checkLines(_ ev: Evaluation, n: Int, fmt: MathFormat, context ctx: RenderContext)
    -> [ProseLine]
  {
    let result = Check(ev, n: n)
    func d(_ x: Double) -> String { MathFormat.minus(DecimalFormat.significant(x, digits: 2)) }
    let oneHot = ev.problem.isOneHot
    let chainLabel =
      oneHot ? "chain rule: row T of J × (−1/s_T)" : "chain rule: Σ_i (−y_i/s_i)·∂s_i/∂x_n"
    let hasTau = ev.problem.temperature != 1
    let closedLabel =
      "closed form "
      + (oneHot ? (hasTau ? "(s − e_T)/τ" : "s − e_T") : (hasTau ? "(s − y)/τ" : "s − y"))
    let g = ev.problem.upstream == 1 ? "" : "g·"
    let fdLabel =
      result.finite.map { "central difference, h = \(d($0.step))" } ?? "central difference"
    let labelWidth = [chainLabel, closedLabel, fdLabel].map { g.count + $0.count }.max()! + 2
    let values = [
      fmt(result.chain), fmt(result.closed), result.finite.map { fmt($0.estimate) } ?? "",
    ]
    let valueWidth = values.map(\.count).max()! + 3
    var out: [ProseLine] = []
    out.append(
      ProseLine(
        pad("\(g)\(chainLabel)", labelWidth) + pad(values[0], valueWidth)
          + "|Δ| = \(d(result.chainError))"))
    out.append(
      ProseLine(
        pad("\(g)\(closedLabel)", labelWidth) + pad(values[1], valueWidth) + "(the reference)"))
    if let fd = result.finite {
      out.append(
        ProseLine(pad(fdLabel, labelWidth) + pad(values[2], valueWidth) + "|Δ| = \(d(fd.error))"))
    } else {
      out.append(
        ProseLine(
          pad(fdLabel, labelWidth) + "none: x_\(n) is masked (−∞), no neighbourhood to difference"))
    }
    let verdictStyle = result.agrees ? ctx.good : ctx.error
    if result.agrees {
      out.append(
        ProseLine(
          "✓ all three agree within tolerance \(d(result.tolerance)) (\(ev.problem.precision.rawValue))",
          verdictStyle, indent: 2))
    } else {
      out.append(
        ProseLine(
          "✗ do not agree within tolerance \(d(result.tolerance)): \(result.reason)", verdictStyle,
          indent: 2))
    }
    return out
  }

  /// Right-pads (or cuts) to `width` scalars.
  static func pad(_ s: String, _ width: Int) -> String {
    let k = s.unicodeScalars.count
    return k >= width ? s + " " : s + String(repeating: " ", count: width - k)
  }

  /// The agreement check of step 5, shared by the view and the tests.
  struct Check {
    /// `g·Σ_i (−y_i/s_i)·∂s_i/∂x_n`.
    var chain: Double
    /// `g(s_n − y_n)/τ`.
    var closed: Double
    /// The central difference, nil for a masked logit.
    var finite: FiniteDifference?
    /// The tolerance the three are held to: the finite difference's (it is the loosest of the three).
    var tolerance: Double
    var chainError: Double { abs(chain - closed) }
    /// Whether all three agree within `tolerance` (NaN never agrees).
    var agrees: Bool {
      guard chain.isFinite, closed.isFinite else { return false }
      if let f = finite {
        return chainError <= tolerance && f.error <= tolerance
          && abs(chain - f.estimate) <= tolerance
      }
      return chainError <= tolerance
    }
    /// Why they do not agree, when they do not.
    var reason: String

    init(_ ev: Evaluation, n: Int) {
      chain = ev.chainRule(n)
      closed = ev.gradient[n]
      finite = ev.finiteDifference(n)
      let eps = ev.problem.precision.facts.ulpOfOne
      tolerance =
        finite?.tolerance
        ?? (16 * eps * abs(ev.problem.upstream) * (1 + abs(closed)) / ev.problem.temperature)
      let t = ev.problem.target
      if ev.problem.isOneHot, ev.softmax[t] == 0 {
        reason =
          "s_T rounds to 0 in \(ev.problem.precision.rawValue), so −1/s_T = −inf and the chain-rule product is "
          + "\(DecimalFormat.significant(chain)); the closed form never divides by s_T"
      } else if !chain.isFinite || !closed.isFinite {
        reason =
          "a value is not finite (\(DecimalFormat.significant(chain)), \(DecimalFormat.significant(closed)))"
      } else if let f = finite, f.error > tolerance {
        reason =
          "the finite difference is off by \(DecimalFormat.significant(f.error, digits: 2)): rounding in the loss"
      } else {
        reason =
          "the chain-rule product differs by \(DecimalFormat.significant(abs(chain - closed), digits: 2))"
      }
    }
  }
}
