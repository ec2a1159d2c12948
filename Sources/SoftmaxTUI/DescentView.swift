import SoftmaxCore
import SoftmaxText

/// The Descent screen: gradient descent on the logits, from the current problem, with the loss plotted per step,
/// `s_T` climbing towards its optimum (1 for a one-hot target, `y_T` for a smoothed or soft one), the logits drifting, `Σx` held constant by a gradient that sums to zero, and the last
/// steps in a table where a step that raised the loss (overshoot) is marked.
enum DescentView {
  static func render(
    _ state: AppState, _ ev: Evaluation, into buf: inout Buffer, body: Rect,
    context ctx: RenderContext
  ) {
    guard !body.isEmpty else { return }
    let run = Run(state, ev)
    let fmt = NumberStyle(precision: ev.problem.precision, full: state.fullDigits)
    let showBottom = body.height >= 14
    let bottomHeight = showBottom ? Swift.min(16, Swift.max(7, body.height * 9 / 20)) : 0
    let top = Rect(x: body.x, y: body.y, width: body.width, height: body.height - bottomHeight)
    let infoWidth =
      body.width >= 100 ? Swift.min(44, body.width / 3) : Swift.min(body.width / 2, 32)
    let plotRect = Rect(x: top.x, y: top.y, width: top.width - infoWidth, height: top.height)
    let infoRect = Rect(x: plotRect.maxX, y: top.y, width: infoWidth, height: top.height)

    var plotTitle: TextLine = "Loss c per step, η = \(fmt(ev.problem.learningRate))"
    plotTitle += run.riseCount > 0 ? " · ✗ marks a rise" : " · x ← x − η∇"
    buf.box(plotRect, title: plotTitle, context: ctx)
    plot(
      count: run.count, value: { run[$0].loss }, step: { run[$0].step }, marked: { run.rose($0) }, range: nil,
      in: plotRect.inset(1), into: &buf, context: ctx)
    renderInfo(state, ev, run, fmt, in: infoRect, into: &buf, context: ctx)
    if showBottom {
      let bottom = Rect(x: body.x, y: top.maxY, width: body.width, height: bottomHeight)
      let leftWidth = bottom.width * 11 / 20
      renderSteps(
        run, fmt, in: Rect(x: bottom.x, y: bottom.y, width: leftWidth, height: bottom.height),
        into: &buf, context: ctx)
      renderLogits(
        state, run, fmt,
        in: Rect(
          x: bottom.x + leftWidth, y: bottom.y, width: bottom.width - leftWidth,
          height: bottom.height),
        into: &buf, context: ctx)
    }
  }

  /// The run as the view shows it: the recorded history, or just the starting point when no step has been taken since
  /// the problem last changed (the next step restarts from the current problem, see `AppState.descentStep`).
  struct Run {
    /// The recorded steps (empty when the run is fresh).
    var history: [DescentRecord]
    /// The starting point alone, when the run is fresh.
    var fresh: DescentRecord?
    var start: Problem
    var startSum: Double
    var isFresh: Bool { fresh != nil }

    init(_ state: AppState, _ ev: Evaluation) {
      let d = state.descent
      if d.history.isEmpty || d.start != state.problem {
        let first = DescentRecord(ev, step: 0)
        history = []
        fresh = first
        start = state.problem
        startSum = first.logitSum
      } else {
        history = d.history
        fresh = nil
        start = d.start
        startSum = d.start.logits.reduce(0) { $1.isFinite ? $0 + $1 : $0 }
      }
    }

    var count: Int { fresh == nil ? history.count : 1 }
    subscript(k: Int) -> DescentRecord { fresh ?? history[k] }
    var first: DescentRecord { self[0] }
    var last: DescentRecord { self[count - 1] }

    /// Whether record `k`'s loss is larger than the one before it.
    func rose(_ k: Int) -> Bool { k > 0 && self[k].loss > self[k - 1].loss }

    /// How many steps raised the loss.
    var riseCount: Int { (0..<count).reduce(0) { $0 + (rose($1) ? 1 : 0) } }
  }

  // MARK: Plot

  /// Plots `count` values against their index in braille (2×4 dots per cell) or `*` in ASCII, with y labels (max,
  /// min) and the first and last step on the x axis. Cells holding a marked point are drawn in the error style
  /// (`✗`/`!` in ASCII). `range` fixes the y range (e.g. 0…1); otherwise it is the data's.
  static func plot(
    count n: Int, value: (Int) -> Double, step: (Int) -> Int, marked: (Int) -> Bool, range: ClosedRange<Double>?,
    in r: Rect, into buf: inout Buffer, context ctx: RenderContext, digits: Int = 4
  ) {
    guard r.width >= 8, r.height >= 3 else { return }
    var dataLow = Double.infinity
    var dataHigh = -Double.infinity
    for k in 0..<n where value(k).isFinite {
      dataLow = Swift.min(dataLow, value(k))
      dataHigh = Swift.max(dataHigh, value(k))
    }
    guard dataLow <= dataHigh else {
      buf.write(ctx.prose("no finite values to plot"), x: r.x, y: r.y, style: ctx.error, clip: r)
      return
    }
    var lo = range?.lowerBound ?? dataLow
    var hi = range?.upperBound ?? dataHigh
    if hi == lo {
      let pad = Swift.max(abs(hi) * 0.05, 1e-12)
      hi += pad
      lo -= pad
    }
    let hiLabel: TextLine = "\(hi, digits: digits)"
    let loLabel: TextLine = "\(lo, digits: digits)"
    let labelWidth = Swift.min(r.width / 3, Swift.max(hiLabel.scalarCount, loLabel.scalarCount))
    let axisX = r.x + labelWidth
    let plotX = axisX + 1
    let pw = r.maxX - plotX
    let ph = r.height - 2
    guard pw >= 2, ph >= 1 else { return }
    // Axes and labels.
    for y in r.y..<(r.y + ph) { buf.put(ctx.vertical, x: axisX, y: y, style: ctx.frame, clip: r) }
    buf.put(ctx.bottomLeft, x: axisX, y: r.y + ph, style: ctx.frame, clip: r)
    for x in plotX..<r.maxX {
      buf.put(ctx.horizontal, x: x, y: r.y + ph, style: ctx.frame, clip: r)
    }
    let labelClip = Rect(x: r.x, y: r.y, width: labelWidth, height: r.height)
    buf.write(hiLabel, x: axisX - hiLabel.scalarCount, y: r.y, style: ctx.muted, clip: labelClip)
    buf.write(loLabel, x: axisX - loLabel.scalarCount, y: r.y + ph - 1, style: ctx.muted, clip: labelClip)
    if n > 0 {
      let s0 = step(0)
      let s1 = step(n - 1)
      let first: TextLine = "step \(s0)"
      buf.write(first, x: plotX, y: r.y + ph + 1, style: ctx.muted, clip: r)
      let last: TextLine = "\(s1)"
      if s1 != s0, plotX + first.scalarCount + 1 + last.scalarCount <= r.maxX {
        buf.write(last, x: r.maxX - last.scalarCount, y: r.y + ph + 1, style: ctx.muted, clip: r)
      }
    }

    let dotsX = ctx.unicode ? 2 * pw : pw
    let dotsY = ctx.unicode ? 4 * ph : ph
    func column(_ k: Int) -> Int {
      n <= 1 ? 0 : Int((Double(k) * Double(dotsX - 1) / Double(n - 1)).rounded())
    }
    func row(_ v: Double) -> Int {
      let t = (hi - Swift.min(hi, Swift.max(lo, v))) / (hi - lo)
      return Int((t * Double(dotsY - 1)).rounded())
    }
    // The dots go straight into the buffer: a cell holding braille (or `*`/`!`) is a plot cell, whose dots are the
    // scalar's low bits; a marked point gives its cell the error style.
    let plain = ctx.probabilityBar
    func set(_ dx: Int, _ dy: Int, hotPoint: Bool = false) {
      guard dx >= 0, dy >= 0, dx < dotsX, dy < dotsY else { return }
      let x = plotX + (ctx.unicode ? dx / 2 : dx)
      let y = r.y + (ctx.unicode ? dy / 4 : dy)
      guard r.contains(x: x, y: y) else { return }
      var cell = buf[x, y]
      let v = cell.scalar.value
      let isPlot = ctx.unicode ? (0x2800...0x28FF).contains(v) : (cell.scalar == "*" || cell.scalar == "!")
      let hot = hotPoint || (isPlot && cell.style == ctx.error)
      if ctx.unicode {
        // Braille dot numbering: left column 1, 2, 3, 7; right column 4, 5, 6, 8.
        let row = UInt32(dy % 4)
        let bit: UInt32 = dx % 2 == 0 ? (row == 3 ? 0x40 : 1 << row) : (row == 3 ? 0x80 : 8 << row)
        cell.scalar = Unicode.Scalar(0x2800 + ((isPlot ? v - 0x2800 : 0) | bit)) ?? "*"
      } else {
        cell.scalar = hot ? "!" : "*"
      }
      cell.style = hot ? ctx.error : plain
      buf[x, y] = cell
    }
    var previous: (x: Int, y: Int)?
    for k in 0..<n where value(k).isFinite {
      let p = (x: column(k), y: row(value(k)))
      if let q = previous, ctx.unicode {
        // Join to the previous point column by column, filling vertical gaps so steep drops stay connected.
        let span = Swift.max(1, p.x - q.x)
        var lastY = q.y
        for dx in 1...span {
          let y = q.y + Int((Double(p.y - q.y) * Double(dx) / Double(span)).rounded())
          for yy in Swift.min(lastY, y)...Swift.max(lastY, y) { set(q.x + dx, yy) }
          lastY = y
        }
      }
      set(p.x, p.y, hotPoint: marked(k))
      previous = p
    }
    // In colour a braille cell's style carries the mark; without colour, put ✗ above the cell that rose.
    if ctx.unicode && ctx.colorMode == .none {
      for cy in 0..<ph {
        for cx in 0..<pw {
          let cell = buf[plotX + cx, r.y + cy]
          guard (0x2800...0x28FF).contains(cell.scalar.value), cell.style == ctx.error else { continue }
          let y = cy > 0 ? r.y + cy - 1 : r.y + cy + 1
          if y < r.y + ph, buf[plotX + cx, y].scalar == " " {
            buf.put("✗", x: plotX + cx, y: y, style: ctx.error, clip: r)
          }
        }
      }
    }
  }

  // MARK: Info panel

  static func renderInfo(
    _ state: AppState, _ ev: Evaluation, _ run: Run, _ fmt: NumberStyle, in r: Rect,
    into buf: inout Buffer,
    context ctx: RenderContext
  ) {
    let d = state.descent
    let p = ev.problem
    let status: TextLine = run.isFresh ? "ready" : (d.running ? "▶ running" : "paused")
    buf.box(r, title: "Run: step \(run.last.step) · \(status)", context: ctx)
    let inner = Rect(x: r.x + 2, y: r.y + 1, width: r.width - 3, height: r.height - 2)
    guard !inner.isEmpty, run.count > 0 else { return }
    let first = run.first
    let last = run.last
    // The key hints sit at the bottom; the lines above stop where they begin.
    let keys = ProseLine("n step · space run · r reset", ctx.muted)
    let rate = ProseLine("< > rate (\(TextLine(compact: d.rate))/s) · l edits η", ctx.muted)
    let bodyLimit =
      inner.maxY - keys.wrappedCount(width: inner.width, context: ctx)
      - rate.wrappedCount(width: inner.width, context: ctx)
    var y = inner.y
    func line(_ line: ProseLine) {
      line.forEachWrapped(width: inner.width, context: ctx) { piece in
        guard y < bodyLimit else { return }
        buf.write(piece, x: inner.x, y: y, style: line.style, clip: inner)
        y += 1
      }
    }
    line(ProseLine("c    \(fmt(first.loss)) → \(fmt(last.loss))"))
    line(ProseLine("s_T  \(fmt(first.targetProbability)) → \(fmt(last.targetProbability))"))
    if y < bodyLimit {
      let w = Swift.max(0, inner.width - 7)
      buf.bar(
        fraction: last.targetProbability, x: inner.x, y: y, width: w, style: ctx.target,
        context: ctx)
      buf.write(" \(last.targetProbability * 100, digits: 3)%", x: inner.x + w, y: y, style: ctx.muted, clip: inner)
      y += 1
    }
    let (drift, expected, driftOK, ySum, masked, unmasked) = logitSumDrift(ev, run)
    line(
      ProseLine(
        "Σx   \(fmt(run.startSum)) → \(fmt(last.logitSum)) \(driftOK ? "✓" : "✗ drifts")",
        driftOK ? .plain : ctx.error, indent: 5))
    let why: TextLine = !driftOK ? "" : (expected == 0 ? " (rounding)" : " (the masked share)")
    line(ProseLine("  drift \(drift, digits: 2)\(why)", ctx.muted))
    if masked > 0 {
      line(
        ProseLine(
          "y puts \(fmt(masked)) on masked classes (s = 0 there): c = ∞, and Σx moves by −η·g·\(fmt(masked))/τ "
            + "per step", ctx.warning, indent: 2))
    } else if ySum == 1 {
      line(
        ProseLine(
          p.isOneHot
            ? "Σ_n ∂l/∂x_n = g(Σs − 1)/τ = 0"
            : (inner.width >= 36
              ? "Σ∇ = g(Σs − Σy)/τ = 0: smoothed/soft y still sums to 1"
              : "Σ∇ = g(Σs−Σy)/τ = 0 as Σy = 1"),
          ctx.muted, indent: 2))
    } else {
      line(
        ProseLine(
          "Σy = 1 \(ySum > 1 ? "+" : "−") \(abs(1 - ySum), digits: 2) after rounding: "
            + "Σx moves by η·g·(1 − Σy)/τ per step", ctx.warning, indent: 2))
    }
    if let verdict = lossVerdict(run, context: ctx) { line(verdict) }
    if let message = state.message, message.isError {
      line(ProseLine("\(message.text)", ctx.error, indent: 2))
    }
    // A small plot of s_T (0…1) when there is room.
    let free = bodyLimit - y
    if free >= 6 {
      let plotRect = Rect(x: inner.x, y: y + 1, width: inner.width, height: free - 1)
      // The optimum of the loss is s = y: one-hot, s_T → 1; smoothed or soft, s_T → y_T.
      let yT = ev.targetDistribution[p.target]
      let target: TextLine =
        masked > 0
        ? "s_T per step → y_T + m/C' = \(fmt(yT + masked / Double(Swift.max(1, unmasked))))"
        : (p.isOneHot ? "s_T per step → 1" : "s_T per step → y_T = \(fmt(yT))")
      buf.write(ctx.prose(target), x: inner.x, y: y, style: ctx.label, clip: inner)
      plot(
        count: run.count, value: { run[$0].targetProbability }, step: { run[$0].step }, marked: { _ in false },
        range: 0...1, in: plotRect, into: &buf, context: ctx, digits: 1)
    }
    var k = 0
    func hint(_ hint: ProseLine) {
      hint.forEachWrapped(width: inner.width, context: ctx) { piece in
        if bodyLimit + k >= inner.y {
          buf.write(piece, x: inner.x, y: bodyLimit + k, style: hint.style, clip: inner)
        }
        k += 1
      }
    }
    hint(keys)
    hint(rate)
  }

  /// How far Σx has moved over the run, what it should have moved (`expected`), and whether the difference is within
  /// rounding; with `Σy`, the target mass on masked classes and the count of the others.
  static func logitSumDrift(_ ev: Evaluation, _ run: Run) -> (
    drift: Double, expected: Double, ok: Bool, ySum: Double, masked: Double, unmasked: Int
  ) {
    let p = ev.problem
    let (first, last) = (run.first, run.last)
    // Σ∇ = g(Σs − Σy)/τ is 0 whenever y sums to 1 (one-hot, smoothed or soft); only rounding moves Σx.
    let drift = last.logitSum - run.startSum
    let ySum = ev.targetDistribution.reduce(0, +)
    // The target mass on masked classes (x = −∞, so s = 0 there): the loss is ∞ and s = y is out of reach. The
    // masked classes' gradient entries −g·y_i/τ move no finite logit, so those of the others sum to g·m/τ, and the
    // run settles where s_i − y_i is the same for every unmasked class: s_i = y_i + m/C'.
    var masked = 0.0
    var unmasked = 0
    for i in 0..<p.classes {
      if p.logits[i] == -.infinity { masked += ev.targetDistribution[i] } else { unmasked += 1 }
    }
    let maxAbs = last.logits.reduce(0.0) { $1.isFinite ? Swift.max($0, abs($1)) : $0 }
    let eps = p.precision.facts.ulpOfOne
    // Steps since the run's start (the first recorded point may have been dropped; Σx is measured from the start).
    let steps = Double(Swift.max(1, last.step - (run.isFresh ? first.step : 0)))
    // The masked classes' share moves Σx by −η·g·m/τ per step; only rounding (and a rounded y's Σy ≠ 1) moves it more.
    let expected = run.isFresh ? 0 : -steps * p.learningRate * p.upstream * masked / p.temperature
    let tolerance =
      steps * Double(p.classes) * eps * Swift.max(1, maxAbs, abs(expected))
      + steps * abs(p.learningRate * p.upstream * (1 - ySum) / p.temperature)
    return (drift, expected, abs(drift - expected) <= tolerance, ySum, masked, unmasked)
  }

  /// Whether the loss fell over the run, in one line (nil before the first step).
  static func lossVerdict(_ run: Run, context ctx: RenderContext) -> ProseLine? {
    let increased = run.riseCount
    if increased > 0 { return ProseLine("✗ c rose at \(increased) of \(run.count - 1) steps", ctx.error, indent: 2) }
    guard run.count > 1 else { return nil }
    // "Fell" only where it did: an infinite loss (or one a step leaves as it was) did not fall.
    var fell = true
    for k in 1..<run.count where !(run[k].loss < run[k - 1].loss) { fell = false }
    var finite = true
    for k in 0..<run.count where !run[k].loss.isFinite { finite = false }
    if fell { return ProseLine("✓ c fell at every step", ctx.good) }
    if finite { return ProseLine("✓ c never rose (some steps leave it as it was)", ctx.good) }
    return ProseLine("c is not finite: it cannot fall", ctx.warning, indent: 2)
  }

  // MARK: Tables

  /// Writes `text` right-aligned in `width` cells from `x`.
  static func right(
    _ text: TextLine, x: Int, width: Int, y: Int, style: Style, into buf: inout Buffer, clip: Rect,
    context ctx: RenderContext
  ) {
    let t = ctx.prose(text)
    buf.write(t, x: x + Swift.max(0, width - t.scalarCount), y: y, style: style, clip: clip)
  }

  /// Table columns of the given widths, one space apart from `x`: how many fit in `available` cells, and where each
  /// starts.
  struct Columns {
    let x: Int
    /// The widths, held inline (no more than eight columns).
    let widths: SIMD8<Int>
    let count: Int

    init(_ widths: SIMD8<Int>, columns all: Int, x: Int, available: Int) {
      self.x = x
      self.widths = widths
      var total = 0
      var fitting = 0
      for k in 0..<Swift.min(all, 8) {
        let w = widths[k] + (k == 0 ? 0 : 1)
        if total + w > available { break }
        total += w
        fitting += 1
      }
      count = fitting
    }

    func width(_ k: Int) -> Int { widths[k] }

    func start(_ k: Int) -> Int { (0..<k).reduce(x) { $0 + widths[$1] + 1 } }
  }

  /// The last steps, oldest at the top: step, loss (with a mark where it rose), `s_T`, `Σx`, and `Δc` when wide.
  static func renderSteps(
    _ run: Run, _ fmt: NumberStyle, in r: Rect, into buf: inout Buffer, context ctx: RenderContext
  ) {
    buf.box(r, title: "Last steps", context: ctx)
    let inner = Rect(x: r.x + 2, y: r.y + 1, width: r.width - 3, height: r.height - 2)
    guard inner.height >= 2, inner.width >= 10 else { return }
    let nw = Swift.min(fmt.width, 10)
    let sw = Swift.max(4, TextLine("\(run.last.step)").scalarCount)
    let up: TextLine = ctx.unicode ? "▲" : "^"
    // step, loss c, rise mark, s_T, Σx, Δc; columns that do not fit are dropped from the right.
    let columns = Columns(SIMD8(sw, nw, 2, nw, nw, nw, 0, 0), columns: 6, x: inner.x, available: inner.width)
    for k in 0..<columns.count {
      let header: TextLine =
        switch k {
        case 0: "step"
        case 1: "loss c"
        case 2: ""
        case 3: "s_T"
        case 4: "Σx"
        default: "Δc"
        }
      right(
        header, x: columns.start(k), width: columns.width(k), y: inner.y, style: ctx.label, into: &buf, clip: inner,
        context: ctx)
    }
    let visible = inner.height - 1
    let firstIndex = Swift.max(0, run.count - visible)
    for (row, k) in (firstIndex..<run.count).enumerated() {
      let rec = run[k]
      let y = inner.y + 1 + row
      let rose = run.rose(k)
      for c in 0..<columns.count {
        let (text, style): (TextLine, Style) =
          switch c {
          case 0: ("\(rec.step)", ctx.muted)
          case 1: (fmt.fit(rec.loss, nw), rose ? ctx.error : .plain)
          case 2: (rose ? up : "", ctx.error)
          case 3: (fmt.fit(rec.targetProbability, nw), .plain)
          case 4: (fmt.fit(rec.logitSum, nw), .plain)
          default: (k > 0 ? fmt.fit(rec.loss - run[k - 1].loss, nw) : "", rose ? ctx.error : ctx.muted)
          }
        right(
          text, x: columns.start(c), width: columns.width(c), y: y, style: style, into: &buf, clip: inner,
          context: ctx)
      }
    }
  }

  /// The logits now and their drift since the start, windowed around the selected row (↑/↓).
  static func renderLogits(
    _ state: AppState, _ run: Run, _ fmt: NumberStyle, in r: Rect, into buf: inout Buffer,
    context ctx: RenderContext
  ) {
    guard run.count > 0 else { return }
    let last = run.last
    let c = last.logits.count
    let visible = Swift.max(0, r.height - 3)
    let window = ExploreLayout.window(around: state.selection, count: c, visible: visible)
    var title: TextLine = "Logits: now and drift"
    if window.count < c { title += " (\(window.lowerBound)–\(window.upperBound - 1) of \(c))" }
    buf.box(r, title: title, context: ctx)
    let inner = Rect(x: r.x + 2, y: r.y + 1, width: r.width - 3, height: r.height - 2)
    guard inner.height >= 2, inner.width >= 10 else { return }
    let nw = Swift.min(fmt.width, 10)
    let iw = Swift.max(1, TextLine("\(c - 1)").scalarCount)
    // i, x_i now, Δ from start, start.
    let columns = Columns(
      SIMD8(iw + 2, nw, Swift.max(nw, 13), nw, 0, 0, 0, 0), columns: 4, x: inner.x, available: inner.width)
    for k in 0..<columns.count {
      let header: TextLine =
        switch k {
        case 0: "i"
        case 1: "x_i now"
        case 2: "Δ from start"
        default: "start"
        }
      right(
        header, x: columns.start(k), width: columns.width(k), y: inner.y, style: ctx.label, into: &buf, clip: inner,
        context: ctx)
    }
    let start = run.start.logits
    let p = run.start
    for (row, i) in window.enumerated() {
      let y = inner.y + 1 + row
      guard y < inner.maxY else { break }
      let isTarget = p.softTarget == nil && i == p.target
      let now = last.logits[i]
      let delta = now.isFinite ? now - start[i] : 0
      for k in 0..<columns.count {
        let (text, style): (TextLine, Style) =
          switch k {
          case 0:
            (
              "\(i == state.selection ? ctx.selectionMark : " ")\(isTarget ? ctx.targetMark : " ")\(i)",
              isTarget ? ctx.target : ctx.muted
            )
          case 1: (fmt.fit(now, columns.width(1)), isTarget ? ctx.target : .plain)
          case 2:
            (
              "\(delta > 0 ? "+" : "")\(fmt.fit(delta, columns.width(2) - 1))",
              delta < 0 ? ctx.negativeBar : (delta > 0 ? ctx.positiveBar : ctx.muted)
            )
          default: (fmt.fit(start[i], columns.width(3)), ctx.muted)
          }
        right(
          text, x: columns.start(k), width: columns.width(k), y: y, style: style, into: &buf, clip: inner,
          context: ctx)
      }
    }
  }
}
