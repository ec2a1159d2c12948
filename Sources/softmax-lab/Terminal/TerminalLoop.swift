import SoftmaxTUI

/// How long to wait for input when the app wants no ticks: short, so termination signals are seen promptly.
private let signalPollMilliseconds = 100

/// Runs the explorer on `terminal` until `handle` returns false (status 0) or a termination signal arrives
/// (status 128 + signal). Stops the terminal before returning.
///
/// - `tickMilliseconds`: the tick interval the app wants now, or nil for none (asked on every turn of the loop).
///   Ticks keep their rhythm while keys arrive: a `.tick` is due every interval, whatever else happened.
/// - `handle`: applies one event; false quits.
/// - `render`: draws the whole screen into the (reused, cleared) buffer: width, height, the terminal's colour mode,
///   and whether Unicode may be used.
///
/// Draws the first frame at once, then renders once per batch of events: all input already waiting is drained
/// (with a zero timeout) before drawing.
func runTerminalLoop(
  terminal: NcursesTerminal,
  tickMilliseconds: () -> Int?,
  handle: (Event) -> Bool,
  render: (inout Buffer, Int, Int, ColorMode, Bool) -> Void
) -> Int32 {
  var buffer = Buffer(width: 0, height: 0)

  func frame() {
    let w = terminal.width
    let h = terminal.height
    buffer.clear(width: w, height: h)
    render(&buffer, w, h, terminal.colorMode, terminal.unicode)
    terminal.draw(buffer)
  }

  func finish(_ status: Int32) -> Int32 {
    terminal.stop()
    return status
  }

  frame()
  var nextTick: Int?
  while true {
    if let sig = terminal.pendingSignal { return finish(128 + sig) }

    let interval = tickMilliseconds().map { max(1, $0) }
    let now = monotonicMilliseconds()
    if let interval {
      if nextTick == nil { nextTick = now + interval }
    } else {
      nextTick = nil
    }
    let wait = nextTick.map { max(0, $0 - now) } ?? signalPollMilliseconds

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

    if let due = nextTick, let interval = tickMilliseconds().map({ max(1, $0) }) {
      let t = monotonicMilliseconds()
      if t >= due {
        nextTick = t + interval
        if !handle(.tick) { return finish(0) }
        changed = true
      }
    }
    if changed { frame() }
  }
}
