import SoftmaxCore

/// The parts of the Stability lab's table; `v` picks which one is shown first (the others follow while they fit).
public enum StabilitySection: Int, CaseIterable, Sendable {
  case naive, stable, online, loss, limits

  /// The name in headings and messages.
  public var title: String {
    switch self {
    case .naive: "naive softmax"
    case .stable: "max-subtracted softmax"
    case .online: "online softmax"
    case .loss: "loss three ways"
    case .limits: "limits of e^x"
    }
  }

  /// The next section in the `v` cycle.
  public var next: StabilitySection {
    StabilitySection(rawValue: (rawValue + 1) % Self.allCases.count) ?? .naive
  }
}

/// The Stability lab: the current logits in float16, bfloat16, float32 and float64 side by side — naive, stable and
/// online softmax step by step, the loss three ways with its error in ulps, where `e^x` leaves each format, and a
/// one-line diagnosis per precision.
///
/// Per frame the work is O(visible cells): the columns come from ``PrecisionComparison`` (lean above 4,096 classes,
/// with per-class values recomputed for the visible rows), and the `Float80` reference losses are computed once per
/// problem when the loss section is first (per frame only when it merely follows another section, at small `C`).
enum StabilityView {
  static func render(
    _ state: AppState, comparison: PrecisionComparison, into buf: inout Buffer, body: Rect, context ctx: RenderContext
  ) {
    guard !body.isEmpty else { return }
    let c = comparison.problem.classes
    let lesson = lessonLine(state)
    var lessonLines = lesson.wrapped(width: Swift.max(1, body.width - 2), context: ctx)
    lessonLines = Array(lessonLines.prefix(body.height >= 16 ? 2 : (body.height >= 8 ? 1 : 0)))
    let avail = body.height - lessonLines.count
    for (k, line) in lessonLines.enumerated() {
      buf.write(line.text, x: body.x + 1, y: body.y + k, style: line.style, clip: body)
    }

    // Vertical budget: the first section whole if it can be, then the diagnosis (wrapped if it can be), then more
    // sections while they fit.
    let first = state.stabilitySection
    let innerWidth = Swift.max(0, body.width - 3)
    let diagnosis = diagnosisLines(comparison, ctx)
    let diagnosisFull = diagnosis.flatMap { $0.wrapped(width: innerWidth, context: ctx) }.count
    let firstWhole = 3 + rowCount(first, classes: c, perGroup: c)
    var tableHeight: Int
    var diagnosisHeight: Int
    if avail < 9 {
      tableHeight = avail
      diagnosisHeight = 0
    } else if firstWhole + diagnosisFull + 2 <= avail {
      diagnosisHeight = diagnosisFull + 2
      tableHeight = avail - diagnosisHeight
    } else if firstWhole + diagnosis.count + 2 <= avail {
      tableHeight = firstWhole
      diagnosisHeight = avail - tableHeight
    } else {
      // The table scrolls anyway: the diagnosis gets its wrapped height when that leaves the table at least half the
      // body (a sentence cut off with "…" teaches less than a few rows fewer in the window), one line each otherwise.
      diagnosisHeight =
        diagnosisFull + 2 <= avail / 2 ? diagnosisFull + 2 : Swift.min(diagnosis.count + 2, avail / 3)
      tableHeight = avail - diagnosisHeight
    }
    var tableRect = Rect(
      x: body.x, y: body.y + lessonLines.count, width: body.width, height: tableHeight)
    let used = renderTable(
      state, comparison, first: first, in: tableRect, into: &buf, context: ctx, dryRun: true)
    if diagnosisHeight > 0 && used + 3 < tableHeight {
      // Rows the table cannot use go to the diagnosis below it.
      diagnosisHeight += tableHeight - (used + 3)
      tableHeight = used + 3
      tableRect.height = tableHeight
    }
    _ = renderTable(state, comparison, first: first, in: tableRect, into: &buf, context: ctx)
    if diagnosisHeight > 2 {
      let r = Rect(x: body.x, y: tableRect.maxY, width: body.width, height: diagnosisHeight)
      buf.box(r, title: "What naive softmax does in each precision", context: ctx)
      let inner = Rect(x: r.x + 2, y: r.y + 1, width: r.width - 3, height: r.height - 2)
      let full = diagnosis.flatMap { $0.wrapped(width: inner.width, context: ctx) }
      // One line per precision (cut with …) when the wrapped text does not fit.
      let lines =
        full.count <= inner.height
        ? full
        : diagnosis.map { line -> ProseLine in
          let t = ctx.prose(line.text)
          let cut = t.unicodeScalars.count > inner.width
          return ProseLine(
            cut
              ? String(String.UnicodeScalarView(t.unicodeScalars.prefix(inner.width - 1)))
                + (ctx.unicode ? "…" : "~")
              : t, line.style)
        }
      for (k, line) in lines.prefix(inner.height).enumerated() {
        buf.write(line.text, x: inner.x, y: inner.y + k, style: line.style, clip: inner)
      }
    }
  }

  /// The preset's lesson while the problem is still that preset's, otherwise how to load one.
  static func lessonLine(_ state: AppState) -> ProseLine {
    if let k = state.presetIndex, Preset.all.indices.contains(k) {
      let preset = Preset.all[k]
      if let v = try? preset.problem.validated(), v == state.problem {
        return ProseLine(
          "Preset \(k + 1)/\(Preset.all.count) \"\(preset.name)\": \(preset.lesson)",
          Style(attributes: .bold), indent: 2)
      }
    }
    return ProseLine(
      "Your own logits. P / O load the presets (overflow, underflow, float16, sum overflow, …); v changes the section; "
        + "↑ ↓ move the row window.", Style(attributes: .dim), indent: 2)
  }

  // MARK: Rows

  /// How a zero or a tiny value in a row is to be read.
  enum ValueKind {
    /// `e^{·}`, `s_i`: a zero where the class is not masked means the value underflowed.
    case underflowable
    /// A sum: zero means every term underflowed.
    case sum
    /// Maxima, shifted logits, running values: a zero is just a zero.
    case plain
  }

  /// One row of the table.
  enum Row {
    /// A section heading spanning the table.
    case heading(String)
    /// One value per precision for class `index` (nil: a scalar of the whole vector).
    case value(label: String, index: Int?, kind: ValueKind, get: (PrecisionColumn) -> Double)
    /// A loss and, on the row under it, its error in ulps against the Float80 reference.
    case loss(label: String, get: (PrecisionColumn) -> Double)
    case lossError(get: (PrecisionColumn) -> Double)
    /// A threshold of the format, which needs no evaluation.
    case limit(label: String, get: (PrecisionFacts) -> Double)
  }

  /// Rows a section needs with `perGroup` classes shown in each per-class group (plus its heading when not first).
  static func rowCount(_ section: StabilitySection, classes c: Int, perGroup k: Int) -> Int {
    let (groups, scalars) = shape(section)
    return scalars + groups * Swift.min(c, k)
  }

  /// Per-class groups and scalar rows of each section.
  static func shape(_ section: StabilitySection) -> (groups: Int, scalars: Int) {
    switch section {
    case .naive: (2, 1)
    case .stable: (3, 2)
    case .online: (3, 0)
    case .loss: (0, 7)
    case .limits: (0, 5)
    }
  }

  /// The rows of one section, with per-class groups limited to `window`.
  static func rows(_ section: StabilitySection, window: Range<Int>, tau: Bool, soft: Bool) -> [Row] {
    let v = tau ? "z" : "x"
    var out: [Row] = []
    func group(
      _ label: (Int) -> String, _ kind: ValueKind, _ get: @escaping (PrecisionColumn, Int) -> Double
    ) {
      for i in window {
        out.append(.value(label: label(i), index: i, kind: kind, get: { get($0, i) }))
      }
    }
    switch section {
    case .naive:
      group({ "e^{\(v)_\($0)}" }, .underflowable, { $0.naiveExp($1) })
      out.append(.value(label: "σ = Σ e^{\(v)_j}", index: nil, kind: .sum, get: { $0.naiveSum }))
      group({ "s_\($0)" }, .underflowable, { $0.naiveProbability($1) })
    case .stable:
      out.append(.value(label: "M = max \(v)", index: nil, kind: .plain, get: { $0.stableMax }))
      group({ "\(v)_\($0) − M" }, .plain, { $0.shifted($1) })
      group({ "e^{\(v)_\($0)−M}" }, .underflowable, { $0.stableExp($1) })
      out.append(.value(label: "Σ e^{\(v)_j−M}", index: nil, kind: .sum, get: { $0.stableSum }))
      group({ "s_\($0)" }, .underflowable, { $0.stableProbability($1) })
    case .online:
      group({ "m_\($0)" }, .plain, { $0.runningMax($1) })
      group({ "d_\($0)" }, .plain, { $0.runningSum($1) })
      group({ "s_\($0)" }, .underflowable, { $0.onlineProbability($1) })
    case .loss:
      let target = soft ? "−Σ y log " : "−log "
      out.append(.loss(label: "exact (Float80)", get: { exactLoss($0.problem) }))
      out.append(.loss(label: target + "naive s" + (soft ? "" : "_T"), get: { $0.lossNaive }))
      out.append(.lossError(get: { $0.lossNaive }))
      out.append(
        .loss(label: target + "stable s" + (soft ? "" : "_T"), get: { $0.lossFromStableSoftmax }))
      out.append(.lossError(get: { $0.lossFromStableSoftmax }))
      out.append(.loss(label: "log-sum-exp form", get: { $0.loss }))
      out.append(.lossError(get: { $0.loss }))
    case .limits:
      out.append(.limit(label: "e^x = inf above", get: { $0.expOverflow }))
      out.append(.limit(label: "e^x subnormal below", get: { $0.expSubnormal }))
      out.append(.limit(label: "e^x = 0 at/below", get: { $0.expZero }))
      out.append(.limit(label: "max finite", get: { $0.maxFinite }))
      out.append(.limit(label: "ε (ulp of 1)", get: { $0.ulpOfOne }))
    }
    return out
  }

  // MARK: Table

  static func renderTable(
    _ state: AppState, _ comparison: PrecisionComparison, first: StabilitySection,
    in r: Rect,
    into buf: inout Buffer, context ctx: RenderContext, dryRun: Bool = false
  ) -> Int {
    let c = comparison.problem.classes
    let dataRows = Swift.max(0, r.height - 3)
    let (groups, scalars) = shape(first)
    let perGroup = groups == 0 ? c : Swift.max(1, Swift.min(c, (dataRows - scalars) / groups))
    let window = ExploreLayout.window(around: state.selection, count: c, visible: perGroup)
    let tau = comparison.problem.temperature != 1
    let soft = !comparison.problem.isOneHot
    var rowList = rows(first, window: window, tau: tau, soft: soft)
    var shown = [first]
    var section = first.next
    while section != first {
      let need = 1 + rowCount(section, classes: c, perGroup: c)
      if rowList.count + need <= dataRows {
        rowList.append(.heading(section.title))
        rowList += rows(section, window: 0..<c, tau: tau, soft: soft)
        shown.append(section)
      }
      section = section.next
    }
    if dryRun { return rowList.count }
    var title = "Stability lab: \(first.title)"
    if shown.count > 1 { title += " + " + shown.dropFirst().map(\.rawName).joined(separator: ", ") }
    title += " · v next"
    if groups > 0 && window.count < c {
      title += " · rows \(window.lowerBound)–\(window.upperBound - 1) of \(c) (↑↓)"
    }
    buf.box(r, title: title, context: ctx)
    let inner = Rect(x: r.x + 1, y: r.y + 1, width: r.width - 2, height: r.height - 2)
    guard inner.width > 4, inner.height > 0 else { return rowList.count }
    legend(in: r, into: &buf, context: ctx)

    // Columns: marks (2) + label, then four equal value columns.
    let labelWidth = Swift.min(
      inner.width / 3,
      3
        + rowList.reduce(9) { w, row in
          switch row {
          case .heading: w
          case .value(let l, _, _, _), .loss(let l, _), .limit(let l, _):
            Swift.max(w, ctx.prose(l).unicodeScalars.count)
          case .lossError: Swift.max(w, 7)
          }
        })
    let columnWidth = Swift.max(1, (inner.width - labelWidth) / 4)
    func columnX(_ k: Int) -> Int { inner.x + labelWidth + k * columnWidth }
    func right(_ text: String, _ k: Int, _ y: Int, _ style: Style) {
      let t = ctx.prose(text)
      let cell = Rect(x: columnX(k), y: y, width: columnWidth, height: 1).clipped(to: inner)
      let count = t.unicodeScalars.count
      if count >= columnWidth {
        // Too wide: keep the end, where the marks are, after an ellipsis.
        let keep = String(
          String.UnicodeScalarView(t.unicodeScalars.suffix(Swift.max(0, columnWidth - 2))))
        buf.write((ctx.unicode ? " …" : " ~") + keep, x: cell.x, y: y, style: style, clip: cell)
      } else {
        buf.write(t, x: cell.x + columnWidth - count, y: y, style: style, clip: cell)
      }
    }

    // Header: the first section's name, then the precisions (the problem's own marked).
    buf.write(ctx.prose(first.rawName), x: inner.x, y: inner.y, style: ctx.muted, clip: inner)
    for (k, column) in comparison.columns.enumerated() {
      let own = column.precision == comparison.problem.precision ? (ctx.unicode ? "•" : "*") : ""
      var style = ctx.label
      if case .success(let e) = column.result,
        e.overflow.outcome == .nan || e.overflow.outcome == .zeros
      {
        style = ctx.error
      } else if case .failure = column.result {
        style = ctx.muted
      }
      right(own + column.precision.rawValue, k, inner.y, style)
    }

    // Failed columns print their message down the data rows.
    let messages: [[String]] = comparison.columns.map { column in
      if case .failure(let e) = column.result {
        return ProseLine("cannot hold the input: " + e.message).wrapped(
          width: columnWidth - 1, context: ctx
        ).map(\.text)
      }
      return []
    }
    // The reference losses: precomputed by the explorer when the loss section is first, otherwise per frame.
    var exactCache: [Int: Double] = [:]
    for (k, x) in (comparison.exactLosses ?? []).enumerated() { exactCache[k] = x }
    var messageRow = 0
    for (rowIndex, row) in rowList.enumerated() {
      let y = inner.y + 1 + rowIndex
      guard y < inner.maxY else { break }
      if case .heading(let text) = row {
        let rule = String(repeating: String(ctx.horizontal), count: Swift.max(0, inner.width))
        buf.write(rule, x: inner.x, y: y, style: ctx.frame, clip: inner)
        buf.write(" " + ctx.prose(text) + " ", x: inner.x + 1, y: y, style: ctx.label, clip: inner)
        continue
      }
      // Label with selection and target marks.
      switch row {
      case .value(let label, let index, _, _):
        let isTarget = index == comparison.problem.target && comparison.problem.softTarget == nil
        let mark =
          (index == state.selection ? ctx.selectionMark : " ") + (isTarget ? ctx.targetMark : " ")
        buf.write(
          mark + " " + ctx.prose(label), x: inner.x, y: y, style: isTarget ? ctx.target : .plain,
          clip: Rect(x: inner.x, y: y, width: labelWidth - 1, height: 1))
      case .loss(let label, _), .limit(let label, _):
        buf.write(
          "   " + ctx.prose(label), x: inner.x, y: y, style: .plain,
          clip: Rect(x: inner.x, y: y, width: labelWidth - 1, height: 1))
      case .lossError:
        buf.write(ctx.prose("    error"), x: inner.x, y: y, style: ctx.muted, clip: inner)
      case .heading: break
      }
      var isLimit = false
      if case .limit = row { isLimit = true }
      for (k, column) in comparison.columns.enumerated() {
        switch column.result {
        case .failure:
          if !isLimit, messageRow < messages[k].count {
            buf.write(
              messages[k][messageRow], x: columnX(k) + 1, y: y, style: ctx.muted, clip: inner)
          } else if isLimit, case .limit(_, let get) = row {
            right(DecimalFormat.significant(get(column.precision.facts)), k, y, ctx.muted)
          }
        case .success(let e):
          let (text, style) = cell(
            row, e, column: k, cache: &exactCache, state: state, context: ctx)
          right(text, k, y, style)
        }
      }
      if !isLimit { messageRow += 1 }
    }
    return rowList.count
  }

  /// The marks legend, written into the table's bottom border.
  static func legend(in r: Rect, into buf: inout Buffer, context ctx: RenderContext) {
    guard r.height >= 3 else { return }
    let own = ctx.unicode ? "•" : "*"
    let text = ctx.prose(
      " inf↑ overflow · 0↓ underflow · NaN✗ not a number · ~ subnormal · \(own) yours ")
    buf.write(
      text, x: r.x + 2, y: r.maxY - 1, style: ctx.muted,
      clip: Rect(x: r.x + 1, y: r.maxY - 1, width: r.width - 2, height: 1))
  }

  /// The text and style of one value cell.
  static func cell(
    _ row: Row, _ e: PrecisionColumn, column: Int, cache: inout [Int: Double], state: AppState,
    context ctx: RenderContext
  ) -> (String, Style) {
    let fmt = NumberStyle(precision: e.problem.precision, full: state.fullDigits)
    switch row {
    case .heading: return ("", .plain)
    case .limit(_, let get):
      return (DecimalFormat.significant(get(e.problem.precision.facts)), ctx.muted)
    case .value(_, let index, let kind, let get):
      let v = get(e)
      let masked = index.map { e.scaled($0) == -.infinity } ?? false
      return marked(
        v, fmt: fmt, zeroIsUnderflow: (kind == .underflowable && !masked) || kind == .sum, e, ctx)
    case .loss(let label, let get):
      if label.hasPrefix("exact") {
        let x = exact(e, column: column, cache: &cache)
        return (fmt(x), ctx.label)
      }
      return marked(get(e), fmt: fmt, zeroIsUnderflow: false, e, ctx)
    case .lossError(let get):
      let v = get(e)
      let x = exact(e, column: column, cache: &cache)
      let u = ulps(v, exact: x, precision: e.problem.precision)
      if v.isNaN { return ("NaN✗", ctx.error) }
      if v.isInfinite && !x.isInfinite { return ("inf✗", ctx.error) }
      if u.isNaN || u.isInfinite { return ("—", ctx.muted) }
      let text = u == 0 ? "0 ulp" : DecimalFormat.significant(u, digits: 2) + " ulp"
      return (text, u <= 1 ? ctx.good : (u <= 8 ? ctx.warning : ctx.error))
    }
  }

  /// A number with its mark: `inf↑`, `0↓` (underflow), `NaN✗`, `~` (subnormal), and the matching style.
  static func marked(
    _ v: Double, fmt: NumberStyle, zeroIsUnderflow: Bool, _ e: PrecisionColumn, _ ctx: RenderContext
  ) -> (String, Style) {
    if v.isNaN { return ("NaN✗", ctx.error) }
    if v == .infinity { return ("inf↑", ctx.error) }
    if v == -.infinity { return ("-inf", ctx.muted) }
    if v == 0 && zeroIsUnderflow { return ("0↓", ctx.error) }
    if v != 0 && abs(v) < e.problem.precision.facts.leastNormal {
      return (fmt(v) + "~", ctx.warning)
    }
    return (fmt(v), .plain)
  }

  // MARK: Reference loss

  static func exact(_ e: PrecisionColumn, column: Int, cache: inout [Int: Double]) -> Double {
    if let x = cache[column] { return x }
    let x = exactLoss(e.problem)
    cache[column] = x
    return x
  }

  /// The loss of this evaluation's (already rounded) inputs in `Float80` where available: the reference the three
  /// computed losses are measured against.
  static func exactLoss(_ p: Problem) -> Double {
    #if arch(x86_64) || arch(i386)
      return reference(p, Float80.self)
    #else
      return reference(p, Double.self)
    #endif
  }

  static func reference<W: SoftmaxScalar>(_ p: Problem, _: W.Type) -> Double {
    let tau = W(p.temperature)
    let z = p.logits.map { W($0) / tau }
    let y: [W] = CrossEntropy.targetDistribution(p.targetSpec, classes: z.count)
    return Double(CrossEntropy.stableLoss(z, target: y, lse: Softmax.logSumExp(z)))
  }

  /// `|v − exact| / ulp(exact)` in `precision`; 0 when equal (also for equal infinities), inf when one is not finite.
  static func ulps(_ v: Double, exact: Double, precision: Precision) -> Double {
    if v == exact { return 0 }
    guard v.isFinite, exact.isFinite else { return v.isNaN || exact.isNaN ? .nan : .infinity }
    var u: Double
    switch precision {
    case .float64: u = exact.ulp
    case .float32: u = Double(Float(exact).ulp)
    case .bfloat16: u = Double(BFloat16(exact).ulp)
    case .float16: u = Double(Float16(exact).ulp)
    }
    if !u.isFinite {
      // The exact value is beyond the format's range: measure in the ulp of its largest finite value.
      let m = precision.facts.maxFinite
      u = m - precision.round(m.nextDown)
      if u == 0 { u = m.ulp }
    }
    return abs(v - exact) / u
  }

  // MARK: Diagnosis

  static func diagnosisLines(_ comparison: PrecisionComparison, _ ctx: RenderContext) -> [ProseLine] {
    zip(comparison.columns, comparison.rounding).map { column, rounding in
      let name = DerivationView.pad(column.precision.rawValue + ":", 10)
      var note = ""
      if rounding.changed > 0, let i = rounding.first, case .success(let e) = column.result {
        // Say when the column computes on different inputs (bfloat16 rounds 1001 and 1002 to 1000).
        note =
          " (\(rounding.changed) input\(rounding.changed == 1 ? "" : "s") rounded, e.g. x_\(i): "
          + "\(DecimalFormat.compact(comparison.problem.logits[i])) → \(DecimalFormat.compact(e.problem.logits[i])))"
      }
      switch column.result {
      case .failure(let e):
        return ProseLine(name + "cannot hold the input: " + e.message, ctx.muted, indent: 10)
      case .success(let e):
        let style =
          e.overflow.outcome == .fine
          ? Style.plain : (e.overflow.outcome == .inaccurate ? ctx.warning : ctx.error)
        let mark =
          e.overflow.outcome == .fine ? "✓ " : (e.overflow.outcome == .inaccurate ? "~ " : "✗ ")
        return ProseLine(name + mark + e.overflow.diagnosis + note, style, indent: 12)
      }
    }
  }
}

extension StabilitySection {
  /// A one-word name for the table's title and header.
  var rawName: String {
    switch self {
    case .naive: "naive"
    case .stable: "stable"
    case .online: "online"
    case .loss: "loss"
    case .limits: "limits"
    }
  }
}
