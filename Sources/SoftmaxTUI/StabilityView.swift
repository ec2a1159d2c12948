import SoftmaxCore
import SoftmaxText

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
    let lessonLimit = body.height >= 16 ? 2 : (body.height >= 8 ? 1 : 0)
    var lessonCount = 0
    lesson.forEachWrapped(width: Swift.max(1, body.width - 2), context: ctx) { piece in
      guard lessonCount < lessonLimit else { return }
      buf.write(piece, x: body.x + 1, y: body.y + lessonCount, style: lesson.style, clip: body)
      lessonCount += 1
    }
    let avail = body.height - lessonCount

    // Vertical budget: the first section whole if it can be, then the diagnosis (wrapped if it can be), then more
    // sections while they fit.
    let first = state.stabilitySection
    let innerWidth = Swift.max(0, body.width - 3)
    var diagnosisFull = 0
    var diagnosisCount = 0
    diagnosis(comparison, ctx, fullDigits: state.fullDigits) { line in
      diagnosisFull += line.wrappedCount(width: innerWidth, context: ctx)
      diagnosisCount += 1
    }
    let firstWhole = 3 + rowCount(first, classes: c, perGroup: c)
    var tableHeight: Int
    var diagnosisHeight: Int
    if avail < 9 {
      tableHeight = avail
      diagnosisHeight = 0
    } else if firstWhole + diagnosisFull + 2 <= avail {
      diagnosisHeight = diagnosisFull + 2
      tableHeight = avail - diagnosisHeight
    } else if firstWhole + diagnosisCount + 2 <= avail {
      tableHeight = firstWhole
      diagnosisHeight = avail - tableHeight
    } else {
      // The table scrolls anyway: the diagnosis gets its wrapped height when that leaves the table at least half the
      // body (a sentence cut off with "…" teaches less than a few rows fewer in the window), one line each otherwise.
      diagnosisHeight =
        diagnosisFull + 2 <= avail / 2 ? diagnosisFull + 2 : Swift.min(diagnosisCount + 2, avail / 3)
      tableHeight = avail - diagnosisHeight
    }
    var tableRect = Rect(x: body.x, y: body.y + lessonCount, width: body.width, height: tableHeight)
    let used = TablePlan(state, comparison, first: first, in: tableRect).rowCount
    if diagnosisHeight > 0 && used + 3 < tableHeight {
      // Rows the table cannot use go to the diagnosis below it.
      diagnosisHeight += tableHeight - (used + 3)
      tableHeight = used + 3
      tableRect.height = tableHeight
    }
    renderTable(state, comparison, first: first, in: tableRect, into: &buf, context: ctx)
    if diagnosisHeight > 2 {
      let r = Rect(x: body.x, y: tableRect.maxY, width: body.width, height: diagnosisHeight)
      buf.box(r, title: "What naive softmax does in each precision", context: ctx)
      let inner = Rect(x: r.x + 2, y: r.y + 1, width: r.width - 3, height: r.height - 2)
      var wrapped = 0
      diagnosis(comparison, ctx, fullDigits: state.fullDigits) {
        wrapped += $0.wrappedCount(width: inner.width, context: ctx)
      }
      var out = PanelText(inner)
      if wrapped <= inner.height {
        diagnosis(comparison, ctx, fullDigits: state.fullDigits) { line in
          line.forEachWrapped(width: inner.width, context: ctx) { out.line($0, line.style, into: &buf) }
        }
      } else {
        // One line per precision, cut with … when the wrapped text does not fit.
        diagnosis(comparison, ctx, fullDigits: state.fullDigits) { line in
          let t = ctx.prose(line.text)
          if t.scalarCount > inner.width {
            // Whole words, then a spaced ellipsis: `= 12 …` cannot be read as a longer number.
            let mark: TextLine = ctx.unicode ? " …" : " ..."
            out.line("\(t.prefix(wordsFitting: inner.width - mark.scalarCount))\(mark)", line.style, into: &buf)
          } else {
            out.line(t, line.style, into: &buf)
          }
        }
      }
    }
  }

  /// The preset's lesson while the problem is still that preset's, otherwise how to load one.
  static func lessonLine(_ state: AppState) -> ProseLine {
    if let k = state.presetIndex, Preset.all.indices.contains(k), Preset.validated[k] == state.problem {
      let preset = Preset.all[k]
      return ProseLine(
        "Preset \(k + 1)/\(Preset.all.count) \"\(preset.name)\": \(preset.lesson)",
        Style(attributes: .bold), indent: 2)
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

  /// A per-class or whole-vector value of a column.
  enum Quantity {
    case naiveExp, naiveSum, naiveProbability
    case stableMax, shifted, stableExp, stableSum, stableProbability
    case runningMax, runningSum, onlineProbability

    func value(_ e: PrecisionColumn, _ i: Int?) -> Double {
      switch self {
      case .naiveExp: e.naiveExp(i ?? 0)
      case .naiveSum: e.naiveSum
      case .naiveProbability: e.naiveProbability(i ?? 0)
      case .stableMax: e.stableMax
      case .shifted: e.shifted(i ?? 0)
      case .stableExp: e.stableExp(i ?? 0)
      case .stableSum: e.stableSum
      case .stableProbability: e.stableProbability(i ?? 0)
      case .runningMax: e.runningMax(i ?? 0)
      case .runningSum: e.runningSum(i ?? 0)
      case .onlineProbability: e.onlineProbability(i ?? 0)
      }
    }
  }

  /// The losses of the loss section.
  enum Loss {
    /// The `Float80` reference.
    case exact
    case naive, stable, logSumExp

    func value(_ e: PrecisionColumn) -> Double {
      switch self {
      case .exact: exactLoss(e.problem)
      case .naive: e.lossNaive
      case .stable: e.lossFromStableSoftmax
      case .logSumExp: e.loss
      }
    }
  }

  /// The thresholds of the limits section.
  enum Limit {
    case overflow, subnormal, zero, maxFinite, ulp

    func value(_ f: PrecisionFacts) -> Double {
      switch self {
      case .overflow: f.expOverflow
      case .subnormal: f.expSubnormal
      case .zero: f.expZero
      case .maxFinite: f.maxFinite
      case .ulp: f.ulpOfOne
      }
    }
  }

  /// One row of the table.
  enum Row {
    /// A section heading spanning the table.
    case heading(StabilitySection)
    /// One value per precision for class `index` (nil: a scalar of the whole vector).
    case value(label: TextLine, index: Int?, kind: ValueKind, quantity: Quantity)
    /// A loss and, on the row under it, its error in ulps against the Float80 reference.
    case loss(label: TextLine, Loss)
    case lossError(Loss)
    /// A threshold of the format, which needs no evaluation.
    case limit(label: TextLine, Limit)
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

  /// The rows of one section, with per-class groups limited to `window`, handed to `emit` in order.
  static func rows(
    _ section: StabilitySection, window: Range<Int>, tau: Bool, soft: Bool, _ emit: (Row) -> Void
  ) {
    let v: TextLine = tau ? "z" : "x"
    func group(_ kind: ValueKind, _ quantity: Quantity, _ label: (Int) -> TextLine) {
      for i in window { emit(.value(label: label(i), index: i, kind: kind, quantity: quantity)) }
    }
    func scalar(_ label: TextLine, _ kind: ValueKind, _ quantity: Quantity) {
      emit(.value(label: label, index: nil, kind: kind, quantity: quantity))
    }
    switch section {
    case .naive:
      group(.underflowable, .naiveExp) { "e^{\(v)_\($0)}" }
      scalar("σ = Σ e^{\(v)_j}", .sum, .naiveSum)
      group(.underflowable, .naiveProbability) { "s_\($0)" }
    case .stable:
      scalar("M = max \(v)", .plain, .stableMax)
      group(.plain, .shifted) { "\(v)_\($0) − M" }
      group(.underflowable, .stableExp) { "e^{\(v)_\($0)−M}" }
      scalar("Σ e^{\(v)_j−M}", .sum, .stableSum)
      group(.underflowable, .stableProbability) { "s_\($0)" }
    case .online:
      group(.plain, .runningMax) { "m_\($0)" }
      group(.plain, .runningSum) { "d_\($0)" }
      group(.underflowable, .onlineProbability) { "s_\($0)" }
    case .loss:
      let target: TextLine = soft ? "−Σ y log " : "−log "
      let t: TextLine = soft ? "" : "_T"
      emit(.loss(label: "exact (Float80)", .exact))
      emit(.loss(label: "\(target)naive s\(t)", .naive))
      emit(.lossError(.naive))
      emit(.loss(label: "\(target)stable s\(t)", .stable))
      emit(.lossError(.stable))
      emit(.loss(label: "log-sum-exp form", .logSumExp))
      emit(.lossError(.logSumExp))
    case .limits:
      emit(.limit(label: "e^x = inf above", .overflow))
      emit(.limit(label: "e^x subnormal below", .subnormal))
      emit(.limit(label: "e^x = 0 at/below", .zero))
      emit(.limit(label: "max finite", .maxFinite))
      emit(.limit(label: "ε (ulp of 1)", .ulp))
    }
  }

  /// What the table shows in a rectangle: the first section with its row window, then every other section that fits
  /// whole, in `v` order.
  struct TablePlan {
    let first: StabilitySection
    /// The classes shown in the first section's per-class groups.
    let window: Range<Int>
    /// The sections shown after the first (bit `rawValue` set).
    let others: UInt8
    let classes: Int
    let tau: Bool
    let soft: Bool
    /// Rows, headings included.
    let rowCount: Int

    init(_ state: AppState, _ comparison: PrecisionComparison, first: StabilitySection, in r: Rect) {
      let c = comparison.problem.classes
      let dataRows = Swift.max(0, r.height - 3)
      let (groups, scalars) = shape(first)
      let perGroup = groups == 0 ? c : Swift.max(1, Swift.min(c, (dataRows - scalars) / groups))
      self.first = first
      classes = c
      window = ExploreLayout.window(around: state.selection, count: c, visible: perGroup)
      tau = comparison.problem.temperature != 1
      soft = !comparison.problem.isOneHot
      var count = scalars + groups * window.count
      var others: UInt8 = 0
      var section = first.next
      while section != first {
        let need = 1 + StabilityView.rowCount(section, classes: c, perGroup: c)
        if count + need <= dataRows {
          count += need
          others |= 1 << section.rawValue
        }
        section = section.next
      }
      self.others = others
      rowCount = count
    }

    /// Whether `section` is shown after the first.
    func shows(_ section: StabilitySection) -> Bool { others & (1 << section.rawValue) != 0 }

    /// Every row in order.
    func forEachRow(_ emit: (Row) -> Void) {
      rows(first, window: window, tau: tau, soft: soft, emit)
      var section = first.next
      while section != first {
        if shows(section) {
          emit(.heading(section))
          rows(section, window: 0..<classes, tau: tau, soft: soft, emit)
        }
        section = section.next
      }
    }
  }

  // MARK: Table

  static func renderTable(
    _ state: AppState, _ comparison: PrecisionComparison, first: StabilitySection, in r: Rect,
    into buf: inout Buffer, context ctx: RenderContext
  ) {
    let plan = TablePlan(state, comparison, first: first, in: r)
    buf.box(r, title: tableTitle(plan, classes: comparison.problem.classes, first: first), context: ctx)
    let inner = Rect(x: r.x + 1, y: r.y + 1, width: r.width - 2, height: r.height - 2)
    guard inner.width > 4, inner.height > 0 else { return }
    legend(in: r, into: &buf, context: ctx)

    // Columns: marks (2) + label, then four equal value columns.
    var widest = 9
    plan.forEachRow { row in
      switch row {
      case .heading: break
      case .value(let l, _, _, _), .loss(let l, _), .limit(let l, _):
        widest = Swift.max(widest, ctx.prose(l).scalarCount)
      case .lossError: widest = Swift.max(widest, 7)
      }
    }
    // Marks and a space (3), the label, one space before the first column; the columns' remainder goes to the labels,
    // so the last column ends at the border.
    let columnWidth = Swift.max(1, (inner.width - Swift.min(inner.width / 3, 3 + widest + 1)) / 4)
    let labelWidth = Swift.max(0, inner.width - 4 * columnWidth)
    func columnX(_ k: Int) -> Int { inner.x + labelWidth + k * columnWidth }
    func right(_ text: TextLine, _ k: Int, _ y: Int, _ style: Style) {
      let t = ctx.prose(text)
      let cell = Rect(x: columnX(k), y: y, width: columnWidth, height: 1).clipped(to: inner)
      let count = t.scalarCount
      if count >= columnWidth {
        // Too wide (numbers are formatted to fit, so this is a word): the buffer elides what the cell cuts.
        buf.write(t, x: cell.x + 1, y: y, style: style, clip: cell)
      } else {
        buf.write(t, x: cell.x + columnWidth - count, y: y, style: style, clip: cell)
      }
    }

    // Header: the first section's name, then the precisions (the problem's own marked).
    buf.write(ctx.prose("\(first.rawName)"), x: inner.x, y: inner.y, style: ctx.muted, clip: inner)
    for (k, column) in comparison.columns.enumerated() {
      let own: TextLine = column.precision == comparison.problem.precision ? (ctx.unicode ? "•" : "*") : ""
      var style = ctx.label
      if case .success(let e) = column.result,
        e.overflow.outcome == .nan || e.overflow.outcome == .zeros
      {
        style = ctx.error
      } else if case .failure = column.result {
        style = ctx.muted
      }
      right("\(own)\(column.precision.rawValue)", k, inner.y, style)
    }

    // Failed columns print their message down the data rows: line `m` of the wrapped message.
    func message(_ k: Int, line m: Int) -> TextLine? {
      guard case .failure(let e) = comparison.columns[k].result else { return nil }
      var found: TextLine?
      var seen = 0
      ProseLine("cannot hold the input: \(e.message)").forEachWrapped(width: columnWidth - 1, context: ctx) {
        if seen == m { found = $0 }
        seen += 1
      }
      return found
    }
    var exact = ReferenceLosses(comparison)
    var rowIndex = 0
    var messageRow = 0
    plan.forEachRow { row in
      defer { rowIndex += 1 }
      let y = inner.y + 1 + rowIndex
      guard y < inner.maxY else { return }
      let labelClip = Rect(x: inner.x, y: y, width: labelWidth - 1, height: 1)
      switch row {
      case .heading(let section):
        for x in inner.x..<inner.maxX { buf.put(ctx.horizontal, x: x, y: y, style: ctx.frame, clip: inner) }
        buf.write(" \(ctx.prose("\(section.title)")) ", x: inner.x + 1, y: y, style: ctx.label, clip: inner)
        return
      case .value(let label, let index, _, _):
        // Label with selection and target marks.
        let isTarget = index == comparison.problem.target && comparison.problem.softTarget == nil
        let mark: TextLine =
          "\(index == state.selection ? ctx.selectionMark : " ")\(isTarget ? ctx.targetMark : " ") "
        buf.write(
          "\(mark)\(ctx.prose(label))", x: inner.x, y: y, style: isTarget ? ctx.target : .plain, clip: labelClip)
      case .loss(let label, _), .limit(let label, _):
        buf.write("   \(ctx.prose(label))", x: inner.x, y: y, style: .plain, clip: labelClip)
      case .lossError:
        buf.write(ctx.prose("    error"), x: inner.x, y: y, style: ctx.muted, clip: inner)
      }
      var isLimit = false
      if case .limit = row { isLimit = true }
      for (k, column) in comparison.columns.enumerated() {
        switch column.result {
        case .failure:
          if !isLimit, let text = message(k, line: messageRow) {
            let cell = Rect(x: columnX(k) + 1, y: y, width: columnWidth - 1, height: 1).clipped(to: inner)
            buf.write(text, x: cell.x, y: y, style: ctx.muted, clip: cell)
          } else if isLimit, case .limit(_, let limit) = row {
            var fmt = NumberStyle(precision: column.precision, full: false)
            fmt.limit = columnWidth - 1
            right(fmt(limit.value(column.precision.facts)), k, y, ctx.muted)
          }
        case .success(let e):
          let (text, style) = cell(
            row, e, column: k, width: columnWidth - 1, exact: &exact, state: state, context: ctx)
          right(text, k, y, style)
        }
      }
      if !isLimit { messageRow += 1 }
    }
  }

  /// The table's title: the sections it shows, first the one `v` chose, and the rows in view when they are not all.
  static func tableTitle(_ plan: TablePlan, classes c: Int, first: StabilitySection) -> TextLine {
    var title: TextLine = "Stability lab: \(first.title)"
    var joiner: TextLine = " + "
    var section = first.next
    while section != first {
      if plan.shows(section) {
        title += "\(joiner)\(section.rawName)"
        joiner = ", "
      }
      section = section.next
    }
    title += " · v next"
    if shape(first).groups > 0 && plan.window.count < c {
      title += " · rows \(plan.window.lowerBound)–\(plan.window.upperBound - 1) of \(c) (↑↓)"
    }
    return title
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
    _ row: Row, _ e: PrecisionColumn, column: Int, width: Int, exact references: inout ReferenceLosses,
    state: AppState, context ctx: RenderContext
  ) -> (TextLine, Style) {
    // A number that does not fit its column loses digits (rounded), never its head or tail.
    var fmt = NumberStyle(precision: e.problem.precision, full: state.fullDigits)
    fmt.limit = Swift.max(1, width)
    func exact() -> Double { references.value(column, e) }
    switch row {
    case .heading: return ("", .plain)
    case .limit(_, let limit):
      var four = fmt
      four.full = false
      return (four(limit.value(e.problem.precision.facts)), ctx.muted)
    case .value(_, let index, let kind, let quantity):
      let v = quantity.value(e, index)
      let masked = index.map { e.scaled($0) == -.infinity } ?? false
      return marked(
        v, fmt: fmt, zeroIsUnderflow: (kind == .underflowable && !masked) || kind == .sum, e, ctx)
    case .loss(_, let loss):
      if loss == .exact { return (fmt(exact()), ctx.label) }
      return marked(loss.value(e), fmt: fmt, zeroIsUnderflow: false, e, ctx)
    case .lossError(let loss):
      let v = loss.value(e)
      let x = exact()
      let u = ulps(v, exact: x, precision: e.problem.precision)
      if v.isNaN { return ("NaN✗", ctx.error) }
      if v.isInfinite && !x.isInfinite { return ("inf✗", ctx.error) }
      if u.isNaN || u.isInfinite { return ("—", ctx.muted) }
      let text: TextLine = u == 0 ? "0 ulp" : "\(u, digits: 2) ulp"
      return (text, u <= 1 ? ctx.good : (u <= 8 ? ctx.warning : ctx.error))
    }
  }

  /// A number with its mark: `inf↑`, `0↓` (underflow), `NaN✗`, `~` (subnormal), and the matching style.
  static func marked(
    _ v: Double, fmt: NumberStyle, zeroIsUnderflow: Bool, _ e: PrecisionColumn, _ ctx: RenderContext
  ) -> (TextLine, Style) {
    if v.isNaN { return ("NaN✗", ctx.error) }
    if v == .infinity { return ("inf↑", ctx.error) }
    if v == -.infinity { return ("-inf", ctx.muted) }
    if v == 0 && zeroIsUnderflow { return ("0↓", ctx.error) }
    if v != 0 && abs(v) < e.problem.precision.facts.leastNormal {
      return ("\(fmt.fit(v, fmt.limit - 1))~", ctx.warning)
    }
    return (fmt(v), .plain)
  }

  // MARK: Reference loss

  /// The reference losses of one frame: the comparison's (the explorer computes them with the columns), or, for a
  /// comparison without them, each column's computed once for the frame.
  struct ReferenceLosses {
    let given: [Double?]?
    var computed = SIMD4<Double>()
    var known: UInt8 = 0

    init(_ comparison: PrecisionComparison) { given = comparison.exactLosses }

    mutating func value(_ column: Int, _ e: PrecisionColumn) -> Double {
      if let given, column < given.count, let x = given[column] { return x }
      guard column < 4 else { return exactLoss(e.problem) }
      if known & (1 << column) == 0 {
        computed[column] = exactLoss(e.problem)
        known |= 1 << column
      }
      return computed[column]
    }
  }

  /// The loss of this evaluation's (already rounded) inputs in `Float80` where available: the reference the three
  /// computed losses are measured against.
  static func exactLoss(_ p: Problem) -> Double { Evaluation.referenceLoss(p) }

  /// `|v − exact| / ulp(exact)` in `precision`; 0 when equal (also for equal infinities), inf when one is not finite.
  static func ulps(_ v: Double, exact: Double, precision: Precision) -> Double {
    if v == exact { return 0 }
    guard v.isFinite, exact.isFinite else { return v.isNaN || exact.isNaN ? .nan : .infinity }
    var u = precision.ulp(of: exact)
    if !u.isFinite {
      // The exact value is beyond the format's range: measure in the ulp of its largest finite value.
      let m = precision.facts.maxFinite
      u = m - precision.round(m.nextDown)
      if u == 0 { u = m.ulp }
    }
    return abs(v - exact) / u
  }

  // MARK: Diagnosis

  /// One line per precision on what naive softmax does there, handed to `emit`.
  static func diagnosis(
    _ comparison: PrecisionComparison, _ ctx: RenderContext, fullDigits: Bool, _ emit: (ProseLine) -> Void
  ) {
    let digits: Int? = fullDigits ? nil : 4
    func fmt(_ x: Double) -> TextLine {
      let exact = TextLine(compact: x)
      guard let digits, exact.scalarCount > 6 else { return exact }
      return "\(x, digits: digits)"
    }
    for (column, rounding) in zip(comparison.columns, comparison.rounding) {
      let name = DerivationView.pad("\(column.precision.rawValue):", 10)
      var note = TextLine()
      if rounding.changed > 0, let i = rounding.first, case .success(let e) = column.result {
        // Say when the column computes on different inputs (bfloat16 rounds 1001 and 1002 to 1000).
        note =
          " (\(rounding.changed) input\(rounding.changed == 1 ? "" : "s") rounded, e.g. x_\(i): "
          + "\(fmt(comparison.problem.logits[i])) → \(fmt(e.problem.logits[i])))"
      }
      switch column.result {
      case .failure(let e):
        emit(ProseLine("\(name)cannot hold the input: \(e.message)", ctx.muted, indent: 10))
      case .success(let e):
        let style =
          e.overflow.outcome == .fine
          ? Style.plain : (e.overflow.outcome == .inaccurate ? ctx.warning : ctx.error)
        let mark: TextLine =
          e.overflow.outcome == .fine ? "✓ " : (e.overflow.outcome == .inaccurate ? "~ " : "✗ ")
        emit(ProseLine("\(name)\(mark)\(e.overflow.diagnosis(significantDigits: digits))\(note)", style, indent: 12))
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
