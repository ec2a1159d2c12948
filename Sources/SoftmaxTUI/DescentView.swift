import SoftmaxCore

/// The Descent screen: gradient descent on the logits, from the current problem, with the loss plotted per step,
/// `s_T` climbing towards 1, the logits drifting, `Σx` held constant by a gradient that sums to zero, and the last
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

    let increased = run.increasedFlags
    let rose = increased.filter { $0 }.count
    var plotTitle = "Loss c per step, η = \(fmt(ev.problem.learningRate))"
    plotTitle += rose > 0 ? " · ✗ marks a rise" : " · x ← x − η∇"
    buf.box(plotRect, title: plotTitle, context: ctx)
    plot(
      run.records.map(\.loss), steps: run.records.map(\.step), marks: increased, range: nil,
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
    var records: [DescentRecord]
    var start: Problem
    var startSum: Double
    var isFresh: Bool

    init(_ state: AppState, _ ev: Evaluation) {
      let d = state.descent
      if d.history.isEmpty || d.start != state.problem {
        let first = DescentRecord(ev, step: 0)
        records = [first]
        start = state.problem
        startSum = first.logitSum
        isFresh = true
      } else {
        records = d.history
        start = d.start
        startSum = d.start.logits.reduce(0) { $1.isFinite ? $0 + $1 : $0 }
        isFresh = false
      }
    }

    /// `true` at each record whose loss is larger than the one before it.
    var increasedFlags: [Bool] {
      records.indices.map { k in k > 0 && records[k].loss > records[k - 1].loss }
    }
  }

  // MARK: Plot

  /// Plots `values` against their index in braille (2×4 dots per cell) or `*` in ASCII, with y labels (max, min) and
  /// the first and last step on the x axis. Cells holding a marked point are drawn in the error style (`✗`/`!` in
  /// ASCII). `range` fixes the y range (e.g. 0…1); otherwise it is the data's.
  static func plot(
    _ values: [Double], steps: [Int], marks: [Bool], range: ClosedRange<Double>?, in r: Rect,
    into buf: inout Buffer,
    context ctx: RenderContext, digits: Int = 4
  ) {
    guard r.width >= 8, r.height >= 3 else { return }
    let finite = values.filter(\.isFinite)
    guard !finite.isEmpty else {
      buf.write(ctx.prose("no finite values to plot"), x: r.x, y: r.y, style: ctx.error, clip: r)
      return
    }
    var lo = range?.lowerBound ?? (finite.min() ?? 0)
    var hi = range?.upperBound ?? (finite.max() ?? 1)
    if hi == lo {
      let pad = Swift.max(abs(hi) * 0.05, 1e-12)
      hi += pad
      lo -= pad
    }
    let hiLabel = DecimalFormat.significant(hi, digits: digits)
    let loLabel = DecimalFormat.significant(lo, digits: digits)
    let labelWidth = Swift.min(r.width / 3, Swift.max(hiLabel.count, loLabel.count))
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
    buf.write(hiLabel, x: axisX - hiLabel.count, y: r.y, style: ctx.muted, clip: labelClip)
    buf.write(loLabel, x: axisX - loLabel.count, y: r.y + ph - 1, style: ctx.muted, clip: labelClip)
    if let s0 = steps.first, let s1 = steps.last {
      let first = "step \(s0)"
      buf.write(first, x: plotX, y: r.y + ph + 1, style: ctx.muted, clip: r)
      let last = String(s1)
      if s1 != s0, plotX + first.count + 1 + last.count <= r.maxX {
        buf.write(last, x: r.maxX - last.count, y: r.y + ph + 1, style: ctx.muted, clip: r)
      }
    }

    let n = values.count
    let dotsX = ctx.unicode ? 2 * pw : pw
    let dotsY = ctx.unicode ? 4 * ph : ph
    func column(_ k: Int) -> Int {
      n <= 1 ? 0 : Int((Double(k) * Double(dotsX - 1) / Double(n - 1)).rounded())
    }
    func row(_ v: Double) -> Int {
      let t = (hi - Swift.min(hi, Swift.max(lo, v))) / (hi - lo)
      return Int((t * Double(dotsY - 1)).rounded())
    }
    var dots = [UInt8](repeating: 0, count: pw * ph)
    var hot = [Bool](repeating: false, count: pw * ph)
    func set(_ dx: Int, _ dy: Int, hotPoint: Bool = false) {
      guard dx >= 0, dy >= 0, dx < dotsX, dy < dotsY else { return }
      let cx = ctx.unicode ? dx / 2 : dx
      let cy = ctx.unicode ? dy / 4 : dy
      let bit: UInt8
      if ctx.unicode {
        let bits: [[UInt8]] = [[0x01, 0x02, 0x04, 0x40], [0x08, 0x10, 0x20, 0x80]]
        bit = bits[dx % 2][dy % 4]
      } else {
        bit = 1
      }
      dots[cy * pw + cx] |= bit
      if hotPoint { hot[cy * pw + cx] = true }
    }
    var previous: (x: Int, y: Int)?
    for k in 0..<n where values[k].isFinite {
      let p = (x: column(k), y: row(values[k]))
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
      set(p.x, p.y, hotPoint: k < marks.count && marks[k])
      previous = p
    }
    let plain = ctx.probabilityBar
    for cy in 0..<ph {
      for cx in 0..<pw where dots[cy * pw + cx] != 0 {
        let isHot = hot[cy * pw + cx]
        let glyph: Unicode.Scalar
        if ctx.unicode {
          glyph = Unicode.Scalar(0x2800 + UInt32(dots[cy * pw + cx])) ?? "*"
        } else {
          glyph = isHot ? "!" : "*"
        }
        buf.put(glyph, x: plotX + cx, y: r.y + cy, style: isHot ? ctx.error : plain, clip: r)
      }
    }
    // In colour a braille cell's style carries the mark; without colour, put ✗ above the cell that rose.
    if ctx.unicode && ctx.colorMode == .none {
      for cy in 0..<ph {
        for cx in 0..<pw where hot[cy * pw + cx] {
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
    let status = run.isFresh ? "ready" : (d.running ? "▶ running" : "paused")
    buf.box(r, title: "Run: step \(run.records.last?.step ?? 0) · \(status)", context: ctx)
    let inner = Rect(x: r.x + 2, y: r.y + 1, width: r.width - 3, height: r.height - 2)
    guard !inner.isEmpty, let first = run.records.first, let last = run.records.last else { return }
    var lines: [ProseLine] = []
    lines.append(ProseLine("c    \(fmt(first.loss)) → \(fmt(last.loss))"))
    lines.append(ProseLine("s_T  \(fmt(first.targetProbability)) → \(fmt(last.targetProbability))"))
    let barLine = lines.count
    lines.append(.blank)
    let sumLine = lines.count
    lines.append(.blank)
    // Σ∇ = g(Σs − Σy)/τ is 0 whenever y sums to 1 (one-hot, smoothed or soft); only rounding moves Σx.
    let drift = last.logitSum - run.startSum
    let ySum = ev.targetDistribution.reduce(0, +)
    let maxAbs = last.logits.reduce(0.0) { $1.isFinite ? Swift.max($0, abs($1)) : $0 }
    let eps = p.precision.facts.ulpOfOne
    let steps = Double(Swift.max(1, last.step - first.step))
    let tolerance =
      steps * Double(p.classes) * eps * Swift.max(1, maxAbs)
      + steps * abs(p.learningRate * p.upstream * (1 - ySum) / p.temperature)
    let driftOK = abs(drift) <= tolerance
    lines[sumLine] = ProseLine(
      "Σx   \(fmt(run.startSum)) → \(fmt(last.logitSum)) " + (driftOK ? "✓" : "✗ drifts"),
      driftOK ? .plain : ctx.error, indent: 5)
    lines.append(
      ProseLine(
        "  drift \(DecimalFormat.significant(drift, digits: 2))" + (driftOK ? " (rounding)" : ""),
        ctx.muted))
    if ySum == 1 {
      lines.append(
        ProseLine(
          p.isOneHot
            ? "Σ_n ∂l/∂x_n = g(Σs − 1)/τ = 0"
            : (inner.width >= 36
              ? "Σ∇ = g(Σs − Σy)/τ = 0: smoothed/soft y still sums to 1"
              : "Σ∇ = g(Σs−Σy)/τ = 0 as Σy = 1"),
          ctx.muted, indent: 2))
    } else {
      lines.append(
        ProseLine(
          "Σy = 1 \(ySum > 1 ? "+" : "−") \(DecimalFormat.significant(abs(1 - ySum), digits: 2)) after rounding: "
            + "Σx moves by η·g·(1 − Σy)/τ per step", ctx.warning, indent: 2))
    }
    let increased = run.increasedFlags.filter { $0 }.count
    if increased > 0 {
      lines.append(
        ProseLine(
          "✗ c rose at \(increased) of \(run.records.count - 1) steps", ctx.error, indent: 2))
    } else if run.records.count > 1 {
      lines.append(ProseLine("✓ c fell at every step", ctx.good))
    }
    if let message = state.message, message.isError {
      lines.append(ProseLine(message.text, ctx.error, indent: 2))
    }
    let wrappedKeys = [
      ProseLine("n step · space run · r reset", ctx.muted),
      ProseLine("< > rate (\(DecimalFormat.compact(d.rate))/s) · l edits η", ctx.muted),
    ]
    .flatMap { $0.wrapped(width: inner.width, context: ctx) }
    var y = inner.y
    let bodyLimit = inner.maxY - wrappedKeys.count
    for (k, line) in lines.enumerated() {
      if k == barLine {
        guard y < bodyLimit else { break }
        let w = Swift.max(0, inner.width - 7)
        let pct = DecimalFormat.significant(last.targetProbability * 100, digits: 3) + "%"
        buf.bar(
          fraction: last.targetProbability, x: inner.x, y: y, width: w, style: ctx.target,
          context: ctx)
        buf.write(" " + pct, x: inner.x + w, y: y, style: ctx.muted, clip: inner)
        y += 1
        continue
      }
      for piece in line.wrapped(width: inner.width, context: ctx) {
        guard y < bodyLimit else { break }
        buf.write(piece.text, x: inner.x, y: y, style: piece.style, clip: inner)
        y += 1
      }
    }
    // A small plot of s_T (0…1) when there is room.
    let free = bodyLimit - y
    if free >= 6 {
      let plotRect = Rect(x: inner.x, y: y + 1, width: inner.width, height: free - 1)
      buf.write(ctx.prose("s_T per step → 1"), x: inner.x, y: y, style: ctx.label, clip: inner)
      plot(
        run.records.map(\.targetProbability), steps: run.records.map(\.step), marks: [],
        range: 0...1, in: plotRect,
        into: &buf, context: ctx, digits: 1)
    }
    for (k, piece) in wrappedKeys.enumerated() where bodyLimit + k >= inner.y {
      buf.write(piece.text, x: inner.x, y: bodyLimit + k, style: piece.style, clip: inner)
    }
  }

  // MARK: Tables

  /// Writes `text` right-aligned in `width` cells from `x`.
  static func right(
    _ text: String, x: Int, width: Int, y: Int, style: Style, into buf: inout Buffer, clip: Rect,
    context ctx: RenderContext
  ) {
    let t = ctx.prose(text)
    buf.write(
      t, x: x + Swift.max(0, width - t.unicodeScalars.count), y: y, style: style, clip: clip)
  }

  /// The last steps, oldest at the top: step, loss (with a mark where it rose), `s_T`, `Σx`, and `Δc` when wide.
  static func renderSteps(
    _ run: Run, _ fmt: NumberStyle, in r: Rect, into buf: inout Buffer, context ctx: RenderContext
  ) {
    buf.box(r, title: "Last steps", context: ctx)
    let inner = Rect(x: r.x + 2, y: r.y + 1, width: r.width - 3, height: r.height - 2)
    guard inner.height >= 2, inner.width >= 10 else { return }
    let nw = Swift.min(fmt.width, 10)
    let sw = Swift.max(4, String(run.records.last?.step ?? 0).count)
    let up = ctx.unicode ? "▲" : "^"
    // (header, width) per column; columns that do not fit are dropped from the right.
    var columns: [(String, Int)] = [
      ("step", sw), ("loss c", nw), ("", 2), ("s_T", nw), ("Σx", nw), ("Δc", nw),
    ]
    var total = 0
    var fitting = 0
    for (k, col) in columns.enumerated() {
      let w = col.1 + (k == 0 ? 0 : 1)
      if total + w > inner.width { break }
      total += w
      fitting += 1
    }
    columns = Array(columns.prefix(fitting))
    var xs: [Int] = []
    var x = inner.x
    for (k, col) in columns.enumerated() {
      if k > 0 { x += 1 }
      xs.append(x)
      x += col.1
    }
    for (k, col) in columns.enumerated() {
      right(
        col.0, x: xs[k], width: col.1, y: inner.y, style: ctx.label, into: &buf, clip: inner,
        context: ctx)
    }
    let flags = run.increasedFlags
    let visible = inner.height - 1
    let firstIndex = Swift.max(0, run.records.count - visible)
    for (row, k) in (firstIndex..<run.records.count).enumerated() {
      let rec = run.records[k]
      let y = inner.y + 1 + row
      let rose = flags[k]
      let cells: [(String, Style)] = [
        (String(rec.step), ctx.muted),
        (fmt(rec.loss), rose ? ctx.error : .plain),
        (rose ? up : "", ctx.error),
        (fmt(rec.targetProbability), .plain),
        (fmt(rec.logitSum), .plain),
        (k > 0 ? fmt(rec.loss - run.records[k - 1].loss) : "", rose ? ctx.error : ctx.muted),
      ]
      for (c, col) in columns.enumerated() {
        right(
          cells[c].0, x: xs[c], width: col.1, y: y, style: cells[c].1, into: &buf, clip: inner,
          context: ctx)
      }
    }
  }

  /// The logits now and their drift since the start, windowed around the selected row (↑/↓).
  static func renderLogits(
    _ state: AppState, _ run: Run, _ fmt: NumberStyle, in r: Rect, into buf: inout Buffer,
    context ctx: RenderContext
  ) {
    guard let last = run.records.last else { return }
    let c = last.logits.count
    let visible = Swift.max(0, r.height - 3)
    let window = ExploreLayout.window(around: state.selection, count: c, visible: visible)
    var title = "Logits: now and drift"
    if window.count < c { title += " (\(window.lowerBound)–\(window.upperBound - 1) of \(c))" }
    buf.box(r, title: title, context: ctx)
    let inner = Rect(x: r.x + 2, y: r.y + 1, width: r.width - 3, height: r.height - 2)
    guard inner.height >= 2, inner.width >= 10 else { return }
    let nw = Swift.min(fmt.width, 10)
    let iw = Swift.max(1, String(c - 1).count)
    var columns: [(String, Int)] = [
      ("i", iw + 2), ("x_i now", nw), ("Δ from start", Swift.max(nw, 13)), ("start", nw),
    ]
    var total = 0
    var fitting = 0
    for (k, col) in columns.enumerated() {
      let w = col.1 + (k == 0 ? 0 : 1)
      if total + w > inner.width { break }
      total += w
      fitting += 1
    }
    columns = Array(columns.prefix(fitting))
    var xs: [Int] = []
    var x = inner.x
    for (k, col) in columns.enumerated() {
      if k > 0 { x += 1 }
      xs.append(x)
      x += col.1
    }
    for (k, col) in columns.enumerated() {
      right(
        col.0, x: xs[k], width: col.1, y: inner.y, style: ctx.label, into: &buf, clip: inner,
        context: ctx)
    }
    let start = run.start.logits
    let p = run.start
    for (row, i) in window.enumerated() {
      let y = inner.y + 1 + row
      guard y < inner.maxY else { break }
      let isTarget = p.softTarget == nil && i == p.target
      let mark =
        (i == state.selection ? ctx.selectionMark : " ") + (isTarget ? ctx.targetMark : " ")
      let now = last.logits[i]
      let delta = now.isFinite ? now - start[i] : 0
      let cells: [(String, Style)] = [
        (mark + String(i), isTarget ? ctx.target : ctx.muted),
        (fmt(now), isTarget ? ctx.target : .plain),
        (
          (delta > 0 ? "+" : "") + fmt(delta),
          delta < 0 ? ctx.negativeBar : (delta > 0 ? ctx.positiveBar : ctx.muted)
        ),
        (fmt(start[i]), ctx.muted),
      ]
      for (k, col) in columns.enumerated() {
        right(
          cells[k].0, x: xs[k], width: col.1, y: y, style: cells[k].1, into: &buf, clip: inner,
          context: ctx)
      }
    }
  }
}
