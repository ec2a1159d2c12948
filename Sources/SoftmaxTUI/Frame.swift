import SoftmaxCore
import SoftmaxText

/// The whole screen: top bar, the current view, status line, and overlays (help, too-small message).
public enum Frame {
  /// The smallest terminal the full layout needs.
  public static let minimumWidth = 64
  public static let minimumHeight = 20

  /// The area between the top bar and the status line.
  static func body(width: Int, height: Int) -> Rect { Rect(x: 0, y: 1, width: width, height: height - 2) }

  /// Renders `state` (with its evaluation) into `buf`, resizing it to `width × height`.
  public static func render(
    _ state: AppState, _ ev: Evaluation, comparison: PrecisionComparison? = nil, into buf: inout Buffer, width: Int,
    height: Int, context ctx: RenderContext
  ) {
    render(state, evaluation: ev, comparison: comparison, into: &buf, width: width, height: height, context: ctx)
  }

  /// Renders `state` into `buf`. The Stability lab needs only `comparison`; the other screens need the evaluation
  /// (computed here if it is missing).
  static func render(
    _ state: AppState, evaluation: Evaluation?, comparison: PrecisionComparison?, into buf: inout Buffer, width: Int,
    height: Int, context ctx: RenderContext
  ) {
    buf.clear(width: width, height: height)
    // In ASCII `~` already means subnormal and ≈: a number that does not fit shows `#`, as spreadsheets do.
    buf.ellipsis = ctx.unicode ? "…" : "#"
    buf.unicodeMinus = ctx.unicode
    guard width > 0, height > 0 else { return }
    if width < minimumWidth || height < minimumHeight {
      renderTooSmall(&buf, width: width, height: height, context: ctx)
      return
    }
    var ev = evaluation
    var comparison = comparison
    if state.screen == .stability, comparison?.problem != state.problem {
      comparison = PrecisionComparison(state.problem, own: ev)
    }
    // The bars need the problem and the naive-softmax verdict: from the evaluation, or the lab's own column.
    let own = state.screen == .stability ? comparison?.own : nil
    if ev == nil && own == nil { ev = Evaluation(state.problem) }
    let problem = ev?.problem ?? own?.problem ?? state.problem
    guard let overflow = ev?.overflow ?? own?.overflow else { return }
    renderTopBar(state, problem, &buf, width: width, context: ctx)
    let body = body(width: width, height: height)
    switch (state.screen, ev, comparison) {
    case _ where state.openQuestion != nil:
      // The question's quantity is hidden: the body shows only what it is computed from.
      if let q = state.openQuestion { QuizView.render(state, q, into: &buf, body: body, context: ctx) }
    case (.stability, _, let comparison?):
      StabilityView.render(state, comparison: comparison, into: &buf, body: body, context: ctx)
    case (.explore, let ev?, _): ExploreView.render(state, ev, into: &buf, body: body, context: ctx)
    case (.derivation, let ev?, _): DerivationView.render(state, ev, into: &buf, body: body, context: ctx)
    case (.descent, let ev?, _): DescentView.render(state, ev, into: &buf, body: body, context: ctx)
    default: break
    }
    if let step = state.tourStep {
      TourOverlay.render(
        state, evaluation: ev, step: step, into: &buf, body: body, context: ctx, atTop: state.screen == .derivation)
    }
    renderStatus(state, problem, overflow, &buf, width: width, y: height - 1, context: ctx)
    if state.showHelp { renderHelp(state, &buf, body: body, context: ctx) }
  }

  static func renderTooSmall(_ buf: inout Buffer, width: Int, height: Int, context ctx: RenderContext) {
    let top = Swift.max(0, (height - 3) / 2)
    for k in 0..<3 where top + k < height {
      let line: TextLine =
        switch k {
        case 0: "enlarge to \(minimumWidth)×\(minimumHeight)"
        case 1: "(now \(width)×\(height))"
        default: "q quits"
        }
      let t = ctx.text(line)
      let x = Swift.max(0, (width - t.scalarCount) / 2)
      buf.write(t, x: x, y: top + k, style: k == 0 ? ctx.error : ctx.muted)
    }
  }

  static func renderTopBar(
    _ state: AppState, _ p: Problem, _ buf: inout Buffer, width: Int, context ctx: RenderContext
  ) {
    buf.fill(Rect(x: 0, y: 0, width: width, height: 1), with: Cell(" ", style: ctx.statusBar))
    let compact = width < 100
    var x = buf.write(
      compact ? " Softmax Lab" : " Softmax Lab ", x: 0, y: 0, style: Style(attributes: [.reverse, .bold]))
    for screen in Screen.allCases {
      let label: TextLine = compact ? "\(screen.rawValue) \(screen.title)" : " \(screen.rawValue) \(screen.title) "
      let st = screen == state.screen ? Style(attributes: [.bold]) : ctx.statusBar
      x = buf.write(label, x: x + 1, y: 0, style: st)
    }
    var right: TextLine = " C=\(p.classes)  T="
    if p.softTarget == nil { right.append(p.target) } else { right.append("soft") }
    right.append("  ? help ")
    buf.write(ctx.text(right), x: Swift.max(x + 1, width - right.scalarCount), y: 0, style: ctx.statusBar)
  }

  static func renderStatus(
    _ state: AppState, _ p: Problem, _ overflow: OverflowReport, _ buf: inout Buffer, width: Int, y: Int,
    context ctx: RenderContext
  ) {
    buf.fill(Rect(x: 0, y: y, width: width, height: 1), with: Cell(" ", style: ctx.statusBar))
    if let e = state.edit {
      let x = buf.write(ctx.text(" edit \(e.field.label) = "), x: 0, y: y, style: ctx.statusBar)
      // The message of the last key (an error names what is wrong) in place of the hint.
      var tail: TextLine =
        e.selected
        ? "   typing replaces it · ← → edit it · Enter confirms · Esc cancels" : "   Enter confirms · Esc cancels"
      if let m = state.message { tail = "   \(m.text)" }
      let need = e.text.scalarCount + 1
      let room = Swift.max(0, width - x)
      let field = Swift.min(room, need, Swift.max(Swift.min(need, 16), room - tail.scalarCount))
      e.draw(into: &buf, x: x, y: y, width: field, context: ctx)
      buf.write(
        ctx.text(tail), x: x + field, y: y, style: state.message?.isError == true ? ctx.error : ctx.statusBar,
        clip: Rect(x: 0, y: y, width: width, height: 1))
      return
    }
    // Knobs in their short exact form when it is short (`η=0.1`), else in the digit mode (`η=0.1001` for bfloat16's
    // 0.10009765625 in the 4-digit mode): full digits never leak into the 4-digit mode.
    let style = NumberStyle(precision: p.precision, full: state.fullDigits)
    let fmt = { (v: Double) -> TextLine in
      let c = TextLine(compact: v)
      return c.scalarCount <= 6 ? c : style(v)
    }
    var text: TextLine =
      " \(p.precision.rawValue)  τ=\(fmt(p.temperature))  ε=\(fmt(p.labelSmoothing))  η=\(fmt(p.learningRate))"
    if p.upstream != 1 { text += "  g=\(fmt(p.upstream))" }
    text += "  ±\(fmt(state.nudgeStep))  │ naive: "
    var x = buf.write(ctx.text(text), x: 0, y: y, style: ctx.statusBar)
    let naive = overflow.label
    let naiveStyle = overflow.outcome == .fine ? ctx.statusBar : ctx.overflowMarker
    let naiveText: TextLine = naive == "ok" ? "ok" : "⚠ \(naive)"
    x = buf.write(ctx.text(naiveText), x: x, y: y, style: naiveStyle)
    x = buf.write(ctx.text(" │ "), x: x, y: y, style: ctx.statusBar)
    let help = ctx.text(" ? help ")
    let limit = width - help.scalarCount
    if let m = state.message {
      let clip = Rect(x: x, y: y, width: Swift.max(0, limit - x), height: 1)
      buf.write(
        ctx.text(m.text), x: x, y: y, style: m.isError ? Style(attributes: [.bold]) : ctx.statusBar,
        clip: clip)
    }
    buf.write(help, x: Swift.max(x, limit), y: y, style: Style(attributes: [.reverse, .bold]))
  }

  /// The help entries one page shows in a terminal `height` rows high (all of them when they fit).
  static func helpRowsPerPage(height: Int) -> Int {
    let bodyHeight = body(width: 0, height: height).height
    // The box's frame and the mouse line take 3 rows.
    return Swift.max(1, Swift.min(KeyMap.help.count, bodyHeight - 3))
  }

  /// How many pages the help overlay has in a terminal `height` rows high.
  public static func helpPageCount(height: Int) -> Int {
    let rows = helpRowsPerPage(height: height)
    return (KeyMap.help.count + rows - 1) / rows
  }

  static func renderHelp(_ state: AppState, _ buf: inout Buffer, body: Rect, context ctx: RenderContext) {
    let entries = KeyMap.help
    var keysWidth = 8
    var actionWidth = 28
    for e in entries {
      keysWidth = Swift.max(keysWidth, ctx.text(TextLine(e.keys)).scalarCount)
      actionWidth = Swift.max(actionWidth, ctx.text(TextLine(e.action)).scalarCount)
    }
    let rows = helpRowsPerPage(height: buf.height)
    let pages = helpPageCount(height: buf.height)
    let page = Swift.min(Swift.max(0, state.helpPage), pages - 1)
    let shown = entries[(page * rows)..<Swift.min(entries.count, (page + 1) * rows)]
    let keyWidth = keysWidth + 2
    let wantWidth = Swift.min(body.width - 2, keyWidth + actionWidth + 4)
    let wantHeight = Swift.min(body.height, rows + 4)
    let r = Rect(
      x: body.x + (body.width - wantWidth) / 2, y: body.y + (body.height - wantHeight) / 2, width: wantWidth,
      height: wantHeight)
    buf.fill(r, with: .blank)
    let title: TextLine =
      pages > 1
      ? "Keys \(page + 1)/\(pages) — \(page + 1 < pages ? "PgDn more, " : "")\(page > 0 ? "PgUp back, " : "")any other key closes"
      : "Keys — any key closes"
    buf.box(r, title: title, context: ctx)
    let inner = Rect(x: r.x + 2, y: r.y + 1, width: r.width - 3, height: r.height - 2)
    for (k, e) in shown.enumerated() where k < inner.height - 1 {
      buf.write(ctx.text(TextLine(e.keys)), x: inner.x, y: inner.y + k, style: ctx.label, clip: inner)
      buf.write(ctx.text(TextLine(e.action)), x: inner.x + keyWidth, y: inner.y + k, style: .plain, clip: inner)
    }
    buf.write(
      ctx.text("Mouse: click a row or a Jacobian cell; wheel over a logit nudges it."), x: inner.x, y: inner.maxY - 1,
      style: ctx.muted, clip: inner)
  }
}
