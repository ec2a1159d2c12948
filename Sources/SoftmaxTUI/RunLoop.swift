import SoftmaxCore

/// A terminal as the explorer's run loop sees it: a size, a way to show cells, a source of events and a clock.
///
/// The ncurses backend implements it for a real terminal; ``HeadlessTerminal`` implements it in memory, so that tests
/// drive the real loop (``runLoop(on:tickMilliseconds:handle:render:)``) without a terminal. All calls come from the
/// loop's thread.
public protocol TerminalBackend: AnyObject {
  /// The size in cells now.
  var width: Int { get }
  var height: Int { get }
  /// The colours the terminal shows, and whether it may be sent characters outside ASCII.
  var colorMode: ColorMode { get }
  var unicode: Bool { get }
  /// A monotonic clock, in milliseconds (for ticks).
  var milliseconds: Int { get }
  /// A termination signal (SIGTERM, SIGHUP, SIGINT) received and not yet acted on, if any.
  var pendingSignal: Int32? { get }
  /// Waits up to `timeoutMilliseconds` (≥ 0) for an event; nil when the time passes or a signal is pending.
  func nextEvent(timeoutMilliseconds: Int) -> Event?
  /// True, once, when what the terminal shows may no longer be the last frame drawn (after a suspend and resume): the
  /// next frame is then sent whole.
  func screenWasLost() -> Bool
  /// Blanks the whole screen (before a frame is sent whole).
  func clear()
  /// Shows `cell` at column `x`, row `y` (inside the current size).
  func put(_ cell: Cell, x: Int, y: Int)
  /// Shows the terminal's cursor at column `x`, row `y` (the edit line's cursor), or hides it when either is negative.
  func showCursor(x: Int, y: Int)
  /// Makes what was put visible.
  func refresh()
  /// Gives the terminal back as it was found. Idempotent.
  func stop()
}

/// Sends frames to a backend, only the cells that changed since the frame before (every cell after a change of size
/// or a lost screen). Holds its own copy of the last frame, written over in place, so a frame allocates nothing.
public struct FrameSender {
  private var previous: Buffer?

  public init() {}

  /// Sends `buffer` and refreshes; returns the number of cells sent.
  @discardableResult
  public mutating func send(_ buffer: Buffer, to terminal: some TerminalBackend) -> Int {
    let w = Swift.min(buffer.width, terminal.width)
    let h = Swift.min(buffer.height, terminal.height)
    let lost = terminal.screenWasLost()
    let whole = lost || previous.map { $0.width != buffer.width || $0.height != buffer.height } ?? true
    if whole { terminal.clear() }
    var sent = 0
    buffer.cells.withUnsafeBufferPointer { cells in
      for y in 0..<h {
        for x in 0..<w {
          let i = y * buffer.width + x
          if !whole, previous?.cells[i] == cells[i] { continue }
          terminal.put(cells[i], x: x, y: y)
          sent += 1
        }
      }
    }
    // A copy of its own: sharing the caller's storage would make the caller's next frame copy it.
    if previous == nil { previous = Buffer(width: buffer.width, height: buffer.height) }
    previous?.copy(from: buffer)
    terminal.showCursor(x: buffer.cursorX, y: buffer.cursorY)
    terminal.refresh()
    return sent
  }
}

/// How long to wait for input when the app wants no ticks: short, so termination signals are seen promptly.
private let signalPollMilliseconds = 100

/// Runs an app on `terminal` until `handle` returns false (status 0) or a termination signal arrives (status
/// 128 + signal). Stops the terminal before returning.
///
/// - `tickMilliseconds`: the tick interval the app wants now, or nil for none (asked on every turn of the loop).
///   Ticks keep their rhythm while keys arrive: a `.tick` is due every interval, whatever else happened.
/// - `handle`: applies one event; false quits.
/// - `render`: draws the whole screen into the (reused, cleared) buffer: width, height, the terminal's colour mode,
///   and whether Unicode may be used.
///
/// Draws the first frame at once, then renders once per batch of events: all input already waiting is drained (with
/// a zero timeout) before drawing.
public func runLoop(
  on terminal: some TerminalBackend,
  tickMilliseconds: () -> Int?,
  handle: (Event) -> Bool,
  render: (inout Buffer, Int, Int, ColorMode, Bool) -> Void
) -> Int32 {
  var buffer = Buffer(width: 0, height: 0)
  var sender = FrameSender()

  func frame() {
    let w = terminal.width
    let h = terminal.height
    buffer.clear(width: w, height: h)
    render(&buffer, w, h, terminal.colorMode, terminal.unicode)
    sender.send(buffer, to: terminal)
  }

  func finish(_ status: Int32) -> Int32 {
    terminal.stop()
    return status
  }

  frame()
  var nextTick: Int?
  while true {
    if let sig = terminal.pendingSignal { return finish(128 + sig) }

    let interval = tickMilliseconds().map { Swift.max(1, $0) }
    let now = terminal.milliseconds
    if let interval {
      if nextTick == nil { nextTick = now + interval }
    } else {
      nextTick = nil
    }
    let wait = nextTick.map { Swift.max(0, $0 - now) } ?? signalPollMilliseconds

    var changed = false
    if let first = terminal.nextEvent(timeoutMilliseconds: wait) {
      if !handle(first) { return finish(0) }
      // Coalesce: apply everything already waiting before drawing once.
      while terminal.pendingSignal == nil, let next = terminal.nextEvent(timeoutMilliseconds: 0) {
        if !handle(next) { return finish(0) }
      }
      changed = true
    }
    if let sig = terminal.pendingSignal { return finish(128 + sig) }

    if let due = nextTick, let interval = tickMilliseconds().map({ Swift.max(1, $0) }) {
      let t = terminal.milliseconds
      if t >= due {
        nextTick = t + interval
        if !handle(.tick) { return finish(0) }
        changed = true
      }
    }
    if changed { frame() }
  }
}

extension Explorer {
  /// Runs the explorer on `terminal` (see ``runLoop(on:tickMilliseconds:handle:render:)``) and returns the exit
  /// status. `export` carries out an export request (`w`) and `save` a session save (`W`), each returning the line to
  /// show: the only I/O, left to the caller (without `save`, `W` says that saving is not available).
  public mutating func run(
    on terminal: some TerminalBackend, theme: Theme = .dark, export: (Evaluation) -> StatusMessage,
    save: (Session) -> StatusMessage = Explorer.savingUnavailable
  ) -> Int32 {
    // The first size is not news: a message the state starts with (a resumed session's) stays on screen.
    let greeting = state.message
    handle(.resize(width: terminal.width, height: terminal.height))
    show(greeting)
    return runLoop(
      on: terminal,
      tickMilliseconds: { tickMilliseconds },
      handle: { event in
        let keepGoing = handle(event)
        if state.exportRequested { finishExport(export(evaluation)) }
        if state.saveRequested { finishSave(save(state.session)) }
        return keepGoing
      },
      render: { buffer, width, height, colorMode, unicode in
        render(
          into: &buffer, width: width, height: height,
          context: RenderContext(colorMode: colorMode, unicode: unicode, theme: theme))
      })
  }
}

/// A terminal in memory, for driving the real run loop without one: it plays a script of events, waits and signals
/// on a virtual clock, and keeps the screen the loop's frames put together (cell by cell, as a terminal would), so a
/// test reads what a user would see.
public final class HeadlessTerminal: TerminalBackend {
  /// One entry of the script.
  public enum Step: Sendable {
    /// An event, delivered at once.
    case event(Event)
    /// Nothing happens for this many milliseconds of the virtual clock.
    case wait(Int)
    /// A termination signal arrives.
    case signal(Int32)
    /// The terminal becomes `width × height` (a resize event follows).
    case resize(width: Int, height: Int)
    /// The screen is lost (as after a suspend and resume; a resize event follows).
    case loseScreen
  }

  public private(set) var width: Int
  public private(set) var height: Int
  public let colorMode: ColorMode
  public let unicode: Bool
  public private(set) var milliseconds = 0
  public private(set) var pendingSignal: Int32?
  /// What the screen shows, row by row.
  public private(set) var cells: [Cell]
  /// Frames refreshed, and cells sent, since the start.
  public private(set) var frames = 0
  public private(set) var cellsSent = 0
  /// Whether `stop()` was called.
  public private(set) var stopped = false
  /// Events delivered so far.
  public private(set) var delivered = 0
  private var script: [Step]
  private var next = 0
  private var lost = false
  private var ended = false

  /// A terminal of `width × height` that plays `script`; when the script runs out, the loop is let draw once more and
  /// the terminal hangs up (SIGHUP: status 129), so a script needs no quit key and its last frame can be read.
  public init(
    width: Int = 80, height: Int = 24, colorMode: ColorMode = .extended, unicode: Bool = true, script: [Step]
  ) {
    self.width = width
    self.height = height
    self.colorMode = colorMode
    self.unicode = unicode
    self.script = script
    cells = Array(repeating: .blank, count: width * height)
  }

  /// Keys typed one after the other: each character of `text` (Enter for a newline).
  public static func typing(_ text: String) -> [Step] {
    text.map { $0 == "\n" ? .event(.key(.enter)) : .event(.key(.character($0))) }
  }

  public func nextEvent(timeoutMilliseconds: Int) -> Event? {
    var budget = Swift.max(0, timeoutMilliseconds)
    while pendingSignal == nil {
      guard next < script.count else {
        // The script is over: first nothing (so the loop draws what the last events did), then a hang-up (SIGHUP).
        if ended { pendingSignal = 1 }
        ended = true
        return nil
      }
      switch script[next] {
      case .event(let e):
        next += 1
        delivered += 1
        return e
      case .signal(let s):
        next += 1
        pendingSignal = s
      case .resize(let w, let h):
        next += 1
        resize(width: w, height: h)
        delivered += 1
        return .resize(width: w, height: h)
      case .loseScreen:
        next += 1
        lost = true
        cells = Array(repeating: Cell("?"), count: width * height)  // whatever the shell left
        delivered += 1
        return .resize(width: width, height: height)
      case .wait(let ms):
        let passed = Swift.min(ms, budget)
        milliseconds += passed
        budget -= passed
        if passed == ms { next += 1 } else { script[next] = .wait(ms - passed) }
        if budget == 0 { return nil }
      }
    }
    return nil
  }

  public func screenWasLost() -> Bool {
    defer { lost = false }
    return lost
  }

  public func clear() { cells = Array(repeating: .blank, count: width * height) }

  public func put(_ cell: Cell, x: Int, y: Int) {
    precondition(x >= 0 && x < width && y >= 0 && y < height, "a cell put outside the terminal")
    cells[y * width + x] = cell
    cellsSent += 1
  }

  /// Where the terminal's cursor is shown (nil: hidden).
  public private(set) var cursor: (x: Int, y: Int)?

  public func showCursor(x: Int, y: Int) { cursor = x >= 0 && y >= 0 ? (x, y) : nil }

  public func refresh() { frames += 1 }

  public func stop() { stopped = true }

  /// Row `y` of the screen as text (trailing blanks kept).
  public func row(_ y: Int) -> String {
    String(String.UnicodeScalarView(cells[(y * width)..<((y + 1) * width)].map(\.scalar)))
  }

  /// The whole screen as text, one line per row, trailing blanks removed.
  public var text: String {
    (0..<height).map { y in
      var line = row(y)
      while line.last == " " { line.removeLast() }
      return line
    }.joined(separator: "\n")
  }

  private func resize(width w: Int, height h: Int) {
    var resized = Array(repeating: Cell.blank, count: w * h)
    for y in 0..<Swift.min(h, height) {
      for x in 0..<Swift.min(w, width) { resized[y * w + x] = cells[y * width + x] }
    }
    (width, height, cells) = (w, h, resized)
  }
}
