import CNcursesw
import Dispatch
import SoftmaxTUI

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Options decided before the terminal starts.
struct TerminalOptions {
  /// `--no-color`; `NO_COLOR` in the environment is honoured on top of this.
  var noColor: Bool
  /// `--ascii`: draw only ASCII even when the locale is UTF-8.
  var asciiOnly: Bool
  /// Ask the terminal for mouse presses and the wheel.
  var mouse: Bool = true

  init(noColor: Bool = false, asciiOnly: Bool = false, mouse: Bool = true) {
    self.noColor = noColor
    self.asciiOnly = asciiOnly
    self.mouse = mouse
  }
}

/// Why the terminal could not start.
struct TerminalError: Error, CustomStringConvertible {
  var message: String
  var description: String { message }

  /// The line the caller prints (after "softmax-lab: ") when stdin or stdout is not a terminal.
  static let notATerminal = TerminalError(
    message: "the explorer needs a terminal (stdin and stdout must be a TTY); try `softmax-lab eval`")
}

/// Owns the terminal between `init` and `stop()`; all calls on the main thread.
///
/// The ncurses ``TerminalBackend``: shows the cells the run loop sends (only those that changed, see ``FrameSender``),
/// and turns ncurses input into `Event`s. Signals are recorded by dispatch sources (see `TerminalSignals`) and acted on here, never in a handler.
final class NcursesTerminal: TerminalBackend {
  let options: TerminalOptions
  private(set) var colorMode: ColorMode = .none
  /// True when the locale's codeset is UTF-8 and ASCII was not forced.
  private(set) var unicode: Bool = false

  private var active = false
  private var signalSources: [any DispatchSourceSignal] = []
  private var savedTTY = termios()
  private var haveSavedTTY = false
  /// Set when the screen was handed back and taken again: the next frame is sent whole.
  private var lost = false
  private var pairs: [PairKey: Int32] = [:]
  /// Key codes ncurses assigned to shifted arrows found in terminfo's extended capabilities (kUP, kDN, …).
  private var extendedKeys: [Int32: Key] = [:]
  /// Whether the terminal's cursor is shown (it is, where the edit line's cursor is).
  private var cursorShown = false

  /// Codes of our own for the sequences ncurses does not know (beyond every `KEY_` code, which ends at 0777).
  private static let pasteBeginCode: Int32 = 0x1F00
  private static let pasteEndCode: Int32 = 0x1F01
  private static let altBackspaceCode: Int32 = 0x1F02
  /// The most a paste holds (a vector line holds 1,024 characters; the rest is read and dropped).
  private static let pasteLimit = 1 << 16

  private struct PairKey: Hashable {
    var fg: Int16
    var bg: Int16
  }

  /// Starts curses. Throws `TerminalError.notATerminal` when stdin or stdout is not a TTY, or another
  /// `TerminalError` when the terminal type is unknown.
  init(options: TerminalOptions) throws {
    self.options = options
    guard isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1 else { throw TerminalError.notATerminal }

    _ = sml_setlocale_all()
    unicode = sml_codeset_is_utf8() != 0 && !options.asciiOnly

    if tcgetattr(STDIN_FILENO, &savedTTY) == 0 { haveSavedTTY = true }
    // Before newterm: ncurses only installs its own SIGINT/SIGTERM/SIGTSTP handlers over default dispositions.
    signalSources = TerminalSignals.install()

    guard sml_newterm() != nil else {
      TerminalSignals.uninstall(signalSources)
      signalSources = []
      for sig in TerminalSignals.terminationSignals + [SIGTSTP] { signal(sig, SIG_DFL) }
      let term = getenv("TERM").map { String(cString: $0) } ?? ""
      throw TerminalError(
        message: "cannot start the terminal (TERM=\(term.isEmpty ? "unset" : term) is unknown); try `softmax-lab eval`")
    }
    active = true

    let win = sml_stdscr()
    raw()  // Ctrl-C and Ctrl-Z arrive as keys; Ctrl-Z is handled in `suspend()`.
    noecho()
    nonl()
    keypad(win, true)
    intrflush(win, false)
    _ = set_escdelay(25)
    _ = curs_set(0)

    colorMode = .none
    if Self.colorWanted(noColorFlag: options.noColor), has_colors() {
      start_color()  // sets COLORS
      use_default_colors()
      colorMode = sml_colors() >= 256 ? .extended : sml_colors() >= 8 ? .basic : .none
    }

    if options.mouse {
      let mask = sml_button1_pressed() | sml_button4_pressed() | sml_button5_pressed()
      _ = mousemask(mask, nil)
      _ = mouseinterval(0)
    }
    defineKeys()
    Self.bracketedPaste(true)
  }

  /// Turns the terminal's bracketed-paste mode on or off (`ESC[?2004h`/`l`): pasted text then arrives between
  /// `ESC[200~` and `ESC[201~`, so that it is one paste, not keys.
  private static func bracketedPaste(_ on: Bool) {
    fflush(nil)
    let sequence: StaticString = on ? "\u{1B}[?2004h" : "\u{1B}[?2004l"
    _ = sequence.withUTF8Buffer { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
  }

  deinit { stop() }

  var width: Int { active ? Int(sml_cols()) : 0 }
  var height: Int { active ? Int(sml_lines()) : 0 }

  /// A termination signal (SIGTERM, SIGHUP, SIGINT) received since start, if any.
  var pendingSignal: Int32? {
    let s = TerminalSignals.termination.load(ordering: .relaxed)
    return s == 0 ? nil : s
  }

  /// Restores the terminal exactly: cursor visible, echo and the original tty modes, alternate screen left.
  /// Idempotent.
  func stop() {
    guard active else { return }
    active = false
    if options.mouse { _ = mousemask(0, nil) }
    Self.bracketedPaste(false)
    _ = curs_set(1)
    endwin()
    if haveSavedTTY { _ = tcsetattr(STDIN_FILENO, TCSADRAIN, &savedTTY) }
    fflush(nil)
    TerminalSignals.uninstall(signalSources)
    signalSources = []
  }

  // MARK: - Colour

  /// False under `--no-color` or a non-empty `NO_COLOR`.
  private static func colorWanted(noColorFlag: Bool) -> Bool {
    if noColorFlag { return false }
    if let v = getenv("NO_COLOR"), v.pointee != 0 { return false }
    return true
  }

  private func colorNumber(_ c: TerminalColor) -> Int16 {
    switch c {
    case .default: return -1
    case .indexed(let i):
      if colorMode == .extended { return Int16(i) }
      return Int16(BasicPalette.nearest[Int(i)])
    }
  }

  private func pair(for style: Style) -> Int32 {
    guard colorMode != .none else { return 0 }
    let key = PairKey(fg: colorNumber(style.foreground), bg: colorNumber(style.background))
    if key.fg == -1 && key.bg == -1 { return 0 }
    if let p = pairs[key] { return p }
    var p = sml_alloc_pair(Int32(key.fg), Int32(key.bg))
    if p < 0 { p = 0 }
    // alloc_pair may recycle the oldest pair once all are in use: forget whichever key held it.
    if let stale = pairs.first(where: { $0.value == p })?.key { pairs[stale] = nil }
    pairs[key] = p
    return p
  }

  private func attributes(for style: Style) -> attr_t {
    var a = sml_a_normal()
    let t = style.attributes
    if t.contains(.bold) { a |= sml_a_bold() }
    if t.contains(.dim) { a |= sml_a_dim() }
    if t.contains(.reverse) { a |= sml_a_reverse() }
    if t.contains(.underline) { a |= sml_a_underline() }
    return a
  }

  // MARK: - Drawing

  func clear() {
    guard active else { return }
    werase(sml_stdscr())
  }

  func showCursor(x: Int, y: Int) {
    guard active else { return }
    // The terminal's cursor where the edit line's is (screen readers and the terminal's own cursor follow it).
    let show = x >= 0 && y >= 0 && x < width && y < height
    if show != cursorShown {
      _ = curs_set(show ? 1 : 0)
      cursorShown = show
    }
    if show { wmove(sml_stdscr(), Int32(y), Int32(x)) }
  }

  func refresh() {
    guard active else { return }
    wrefresh(sml_stdscr())
  }

  func screenWasLost() -> Bool {
    defer { lost = false }
    return lost
  }

  var milliseconds: Int { monotonicMilliseconds() }

  func put(_ cell: Cell, x: Int, y: Int) {
    guard active else { return }
    var v = cell.scalar.value
    if v < 0x20 || v == 0x7F || (v > 0x7F && !unicode) { v = v < 0x20 || v == 0x7F ? 0x20 : 0x3F }
    // At the bottom-right cell mvadd_wch writes and then returns ERR (the cursor cannot advance): ignored.
    _ = sml_put_cell_ext(Int32(y), Int32(x), wchar_t(bitPattern: v), attributes(for: cell.style), pair(for: cell.style))
  }

  // MARK: - Input

  /// Waits up to `timeoutMilliseconds` for input; nil on timeout or when a termination signal is pending. A negative
  /// timeout waits without limit, but still wakes every 100 ms to notice signals. Keys the explorer does not know are
  /// skipped (the wait goes on).
  func nextEvent(timeoutMilliseconds: Int) -> Event? {
    guard active else { return nil }
    let start = Self.nowMilliseconds()
    while pendingSignal == nil {
      if let e = handleStopAndContinue() { return e }
      let remaining =
        timeoutMilliseconds < 0 ? 100 : max(0, timeoutMilliseconds - (Self.nowMilliseconds() - start))
      wtimeout(sml_stdscr(), Int32(clamping: remaining))
      var ch: wint_t = 0
      let r = wget_wch(sml_stdscr(), &ch)
      if r != sml_err() {
        let event = r == sml_key_code_yes() ? functionKey(Int32(bitPattern: ch)) : character(ch)
        if let event { return event }
      }
      // Timed out, interrupted by a signal, or an unknown key: go on while time remains.
      if timeoutMilliseconds >= 0 && (remaining == 0 || Self.nowMilliseconds() - start >= timeoutMilliseconds) {
        return handleStopAndContinue()
      }
    }
    return nil
  }

  private func character(_ ch: wint_t) -> Event? {
    switch ch {
    case 10, 13: return .key(.enter)
    case 27: return .key(.escape)
    case 127, 8: return .key(.backspace)
    case 9: return .key(.tab)
    case 26:
      suspend()
      return .resize(width: width, height: height)
    case 1...26:
      return .key(.control(Character(Unicode.Scalar(UInt8(ch) - 1 + UInt8(ascii: "a")))))
    case 0..<32:
      return nil
    default:
      guard let s = Unicode.Scalar(UInt32(ch)) else { return nil }
      return .key(.character(Character(s)))
    }
  }

  private func functionKey(_ code: Int32) -> Event? {
    switch code {
    case sml_key_resize():
      lost = true
      return .resize(width: width, height: height)
    case sml_key_mouse(): return mouseEvent()
    case sml_key_up(): return .key(.up)
    case sml_key_down(): return .key(.down)
    case sml_key_left(): return .key(.left)
    case sml_key_right(): return .key(.right)
    case sml_key_sr(): return .key(.shiftUp)
    case sml_key_sf(): return .key(.shiftDown)
    case sml_key_sleft(): return .key(.shiftLeft)
    case sml_key_sright(): return .key(.shiftRight)
    case sml_key_enter(): return .key(.enter)
    case sml_key_backspace(): return .key(.backspace)
    case sml_key_dc(): return .key(.delete)
    case sml_key_btab(): return .key(.backTab)
    case sml_key_home(): return .key(.home)
    case sml_key_end(): return .key(.end)
    case sml_key_ppage(): return .key(.pageUp)
    case sml_key_npage(): return .key(.pageDown)
    case Self.altBackspaceCode: return .key(.altBackspace)
    case Self.pasteBeginCode: return readPaste()
    case Self.pasteEndCode: return nil
    default: return extendedKeys[code].map { .key($0) }
    }
  }

  /// After `ESC[200~`: the pasted text up to `ESC[201~` (or until nothing arrives for a second), as one event.
  /// Newlines come as `\n`; other control characters and keys inside the paste are dropped.
  private func readPaste() -> Event? {
    var text = ""
    var count = 0
    wtimeout(sml_stdscr(), 1000)
    while true {
      var ch: wint_t = 0
      let r = wget_wch(sml_stdscr(), &ch)
      if r == sml_err() { break }
      if r == sml_key_code_yes() {
        if Int32(bitPattern: ch) == Self.pasteEndCode { break }
        continue
      }
      count += 1
      guard count <= Self.pasteLimit else { continue }
      switch ch {
      case 10, 13: text.append("\n")
      case 9: text.append("\t")
      case 0..<32, 127: continue
      default: if let s = Unicode.Scalar(UInt32(ch)) { text.unicodeScalars.append(s) }
      }
    }
    return text.isEmpty ? nil : .paste(text)
  }

  private func mouseEvent() -> Event? {
    var x: Int32 = 0
    var y: Int32 = 0
    var state: UInt = 0
    guard sml_getmouse(&x, &y, &state) == sml_ok() else { return nil }
    let bstate = mmask_t(state)
    let kind: MouseEvent.Kind
    if bstate & sml_button4_pressed() != 0 {
      kind = .wheelUp
    } else if sml_button5_pressed() != 0 && bstate & sml_button5_pressed() != 0 {
      kind = .wheelDown
    } else if bstate & (sml_button1_pressed() | sml_button1_clicked()) != 0 {
      kind = .press
    } else {
      return nil
    }
    return .mouse(MouseEvent(kind: kind, x: Int(x), y: Int(y)))
  }

  /// Shifted arrows and Home/End arrive under several names depending on the terminal description; make sure the
  /// common xterm sequences are bound even when terminfo (e.g. `screen`) does not list them.
  private func defineKeys() {
    let fallbacks: [(String, Int32)] = [
      ("\u{1B}[1;2A", sml_key_sr()), ("\u{1B}[1;2B", sml_key_sf()),
      ("\u{1B}[1;2D", sml_key_sleft()), ("\u{1B}[1;2C", sml_key_sright()),
      ("\u{1B}[a", sml_key_sr()), ("\u{1B}[b", sml_key_sf()),
      ("\u{1B}[H", sml_key_home()), ("\u{1B}[F", sml_key_end()),
      ("\u{1B}OH", sml_key_home()), ("\u{1B}OF", sml_key_end()),
      ("\u{1B}[1~", sml_key_home()), ("\u{1B}[4~", sml_key_end()),
      ("\u{1B}[Z", sml_key_btab()),
    ]
    for (seq, code) in fallbacks { sml_define_key_if_unbound(seq, code) }
    let ours: [(String, Int32)] = [
      ("\u{1B}[200~", Self.pasteBeginCode), ("\u{1B}[201~", Self.pasteEndCode),
      ("\u{1B}\u{7F}", Self.altBackspaceCode), ("\u{1B}\u{08}", Self.altBackspaceCode),
    ]
    for (seq, code) in ours { sml_define_key_if_unbound(seq, code) }
    let names: [(String, Key)] = [
      ("kUP", .shiftUp), ("kDN", .shiftDown), ("kUP2", .shiftUp), ("kDN2", .shiftDown),
      ("kLFT2", .shiftLeft), ("kRIT2", .shiftRight),
    ]
    for (name, key) in names {
      let code = sml_key_code_for_capability(name)
      if code > 0 { extendedKeys[code] = key }
    }
  }

  // MARK: - Suspend and resume

  /// Acts on SIGTSTP / SIGCONT recorded by the dispatch sources.
  private func handleStopAndContinue() -> Event? {
    if TerminalSignals.stopRequested.exchange(false, ordering: .relaxed) {
      suspend()
      return .resize(width: width, height: height)
    }
    if TerminalSignals.continued.exchange(false, ordering: .relaxed) {
      // Stopped from outside (SIGSTOP) and continued: the shell may have changed the modes and the screen.
      resume()
      return .resize(width: width, height: height)
    }
    return nil
  }

  /// Ctrl-Z: give the terminal back exactly as it was, stop, and on `fg` take it again and repaint everything.
  private func suspend() {
    guard active else { return }
    if options.mouse { _ = mousemask(0, nil) }
    Self.bracketedPaste(false)
    endwin()
    if haveSavedTTY { _ = tcsetattr(STDIN_FILENO, TCSADRAIN, &savedTTY) }
    fflush(nil)
    // Stop the whole process group, as the tty's own Ctrl-Z would: when started through a wrapper (a script,
    // `swift run`) the job-control shell only notices the job stopped if the wrapper stops too.
    kill(0, SIGSTOP)
    // Continued. Our own SIGCONT needs no second repaint.
    TerminalSignals.continued.store(false, ordering: .relaxed)
    resume()
  }

  private func resume() {
    reset_prog_mode()
    if options.mouse {
      let mask = sml_button1_pressed() | sml_button4_pressed() | sml_button5_pressed()
      _ = mousemask(mask, nil)
    }
    _ = curs_set(0)
    cursorShown = false
    Self.bracketedPaste(true)
    clearok(sml_curscr(), true)
    wrefresh(sml_stdscr())
    lost = true
  }

  private static func nowMilliseconds() -> Int { monotonicMilliseconds() }
}

/// Milliseconds on the monotonic clock (for timeouts and ticks).
func monotonicMilliseconds() -> Int {
  var ts = timespec()
  clock_gettime(CLOCK_MONOTONIC, &ts)
  return Int(ts.tv_sec) * 1000 + Int(ts.tv_nsec) / 1_000_000
}

/// The nearest of the eight basic colours for each entry of the 256-colour palette (xterm's RGB values).
enum BasicPalette {
  static let nearest: [UInt8] = {
    let basic: [(Int, Int, Int)] = [
      (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205), (0, 205, 205),
      (229, 229, 229),
    ]
    func rgb(_ i: Int) -> (Int, Int, Int) {
      switch i {
      case 0..<8: return basic[i]
      case 8: return (127, 127, 127)
      case 9..<16: return (basic[i - 8].0 == 0 ? 0 : 255, basic[i - 8].1 == 0 ? 0 : 255, basic[i - 8].2 == 0 ? 0 : 255)
      case 16..<232:
        let levels = [0, 95, 135, 175, 215, 255]
        let n = i - 16
        return (levels[n / 36], levels[(n / 6) % 6], levels[n % 6])
      default:
        let v = 8 + 10 * (i - 232)
        return (v, v, v)
      }
    }
    return (0..<256).map { i in
      if i < 8 { return UInt8(i) }
      if i >= 9 && i < 16 { return UInt8(i - 8) }
      let (r, g, b) = rgb(i)
      // Greys (including bright black) go to black or white, never to a hue.
      if r == g && g == b { return r < 100 ? 0 : 7 }
      var best = 0
      var bestDistance = Int.max
      for (k, c) in basic.enumerated() {
        let d = (r - c.0) * (r - c.0) + (g - c.1) * (g - c.1) + (b - c.2) * (b - c.2)
        if d < bestDistance {
          bestDistance = d
          best = k
        }
      }
      return UInt8(best)
    }
  }()
}
