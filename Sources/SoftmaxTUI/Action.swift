import SoftmaxCore

/// Everything the explorer can be asked to do; keys, mouse and timers are translated into these.
public enum Action: Hashable, Sendable {
  case quit
  case toggleHelp
  case closeHelp
  /// Shows the next (+1) or previous (−1) page of the help overlay.
  case helpPage(Int)
  case moveSelection(Int)
  case selectRow(Int)
  case beginEdit(EditField)
  case editInsert(Character)
  /// A key of the line editor (cursor moves and deletions).
  case editKey(EditKey)
  /// Pasted text for the edit line.
  case editPaste(String)
  case editConfirm
  case editCancel
  case nudge(Double)
  case nudgeRow(Int, Double)
  case scaleNudgeStep(Double)
  case setTarget
  case addClass
  case removeClass
  case step
  case cyclePrecision
  case undo
  case redo
  case showScreen(Screen)
  case nextScreen
  case moveCursor(di: Int, dn: Int)
  case setCursor(i: Int, n: Int)
  case toggleDigits
  case resize(width: Int, height: Int)
  case tick
  case scroll(Int)
  case nextPreset
  case previousPreset
  case cycleStabilitySection
  case descentStep
  case descentToggleRun
  case descentReset
  case descentRate(Double)
  case export
  /// Save the session to a JSON file (`W`); the shell writes it.
  case save
  case tourNext
  case tourBack
  /// Typing the answer to a lesson's question.
  case answerInsert(Character)
  case answerBackspace
  case answerConfirm
}

/// The key table: which key does what, in which mode. The help overlay is generated from `KeyMap.help`.
public enum KeyMap {
  /// One line of the help overlay.
  public struct Entry: Sendable {
    public var keys: String
    public var action: String
  }

  /// Every key, as the help overlay and the README's key table list them (the README's table is
  /// ``markdownTable``, and a test keeps the two equal). Alternative keys are separated by two spaces.
  public static let help: [Entry] = [
    Entry(keys: "q  Ctrl-C", action: "quit"),
    Entry(keys: "?", action: "this help (PgDn/PgUp page; any other key closes)"),
    Entry(keys: "↑ ↓  k j", action: "select a logit row (PgUp/PgDn, Home/End jump)"),
    Entry(keys: "Enter  e", action: "edit the selected logit"),
    Entry(keys: "=", action: "type the whole vector (1, 2, 3; -inf masks)"),
    Entry(keys: "#", action: "a seeded random vector of a number of classes"),
    Entry(keys: "+ -", action: "nudge the selected logit by the step size"),
    Entry(keys: "[ ]", action: "halve / double the step size"),
    Entry(keys: "t", action: "make the selected row the target"),
    Entry(keys: "a  x", action: "add a class after the selection / remove it"),
    Entry(keys: "s", action: "take one gradient step x ← x − η∇"),
    Entry(keys: "p", action: "precision float64 → float32 → bfloat16 → float16"),
    Entry(keys: "l  T  E  g", action: "edit η / τ / ε / upstream gradient g"),
    Entry(keys: "u  Ctrl-R", action: "undo / redo"),
    Entry(keys: "Tab  1-4", action: "screen: Explore, Derivation, Stability, Descent"),
    Entry(keys: "H J K L  Shift-arrows", action: "move the Jacobian cell cursor (n: ←/→, i: ↑/↓)"),
    Entry(keys: "f", action: "toggle 4 significant / full round-trip digits"),
    Entry(keys: "P  O", action: "Stability: next / previous preset"),
    Entry(keys: "v", action: "Stability: cycle the sections (naive … limits)"),
    Entry(keys: "← →  ↑ ↓", action: "Derivation: change the class n / the output i"),
    Entry(keys: "space  r  n  < >", action: "Descent: run/pause, reset, step, slower/faster"),
    Entry(keys: "w", action: "export this worked example to Markdown"),
    Entry(keys: "W", action: "save the session to JSON (--load reads it)"),
    Entry(keys: "N  B", action: "lesson or tour: next / back step"),
    Entry(keys: "Enter  Esc", action: "edit line: confirm / cancel"),
    Entry(keys: "typing", action: "edit line: replaces a selected value, or inserts"),
    Entry(keys: "← →  Ctrl-B Ctrl-F", action: "edit line: cursor left / right"),
    Entry(keys: "Home End  Ctrl-A Ctrl-E", action: "edit line: cursor to the start / end"),
    Entry(keys: "Backspace  Del  Ctrl-D", action: "edit line: delete before / under the cursor"),
    Entry(keys: "Ctrl-U  Ctrl-K", action: "edit line: delete to the start / to the end"),
    Entry(keys: "Ctrl-W  Alt-Backspace", action: "edit line: delete the word before the cursor"),
    Entry(keys: "mouse", action: "click a row or cell; the wheel nudges a logit"),
  ]

  /// The key table as the README shows it: a Markdown table of ``help``, each alternative key in backticks.
  public static var markdownTable: String {
    var lines = ["| key | action |", "|---|---|"]
    for e in help {
      let keys = e.keys.split(separator: "  ").map { "`\($0)`" }.joined(separator: ", ")
      lines.append("| \(keys) | \(e.action.replacing("|", with: "\\|")) |")
    }
    return lines.joined(separator: "\n")
  }

  /// Translates an event into an action for the current state, or nil when it means nothing here.
  public static func action(for event: Event, in state: AppState) -> Action? {
    switch event {
    case .resize(let w, let h): return .resize(width: w, height: h)
    case .tick: return .tick
    case .mouse(let m): return Mouse.action(for: m, in: state)
    case .key(let key): return action(for: key, in: state)
    case .paste(let text): return state.edit != nil && !state.showHelp ? .editPaste(text) : nil
    }
  }

  static func action(for key: Key, in state: AppState) -> Action? {
    if key == .control("c") { return .quit }
    if state.showHelp {
      switch key {
      case .pageDown, .down, .right, .character(" "): return .helpPage(1)
      case .pageUp, .up, .left: return .helpPage(-1)
      default: return .closeHelp
      }
    }
    if state.edit != nil {
      switch key {
      case .enter: return .editConfirm
      case .escape: return .editCancel
      case .left, .control("b"): return .editKey(.left)
      case .right, .control("f"): return .editKey(.right)
      case .home, .control("a"): return .editKey(.home)
      case .end, .control("e"): return .editKey(.end)
      case .backspace: return .editKey(.backspace)
      case .delete, .control("d"): return .editKey(.deleteForward)
      case .control("u"): return .editKey(.killToStart)
      case .control("k"): return .editKey(.killToEnd)
      case .control("w"), .altBackspace: return .editKey(.deleteWordBackward)
      case .character(let c): return .editInsert(c)
      default: return nil
      }
    }
    if state.openQuestion != nil {
      switch key {
      case .enter: return .answerConfirm
      case .backspace, .delete: return .answerBackspace
      case .character(let c) where "0123456789.-+eEinfa−".contains(c): return .answerInsert(c)
      default: break
      }
    }
    if state.tourStep != nil {
      switch key {
      // Capitals, so that no lesson's own key (n steps the descent) is taken by the tour.
      case .character("N"): return .tourNext
      case .character("B"): return .tourBack
      default: break
      }
    }
    switch key {
    case .character("q"): return .quit
    case .character("?"): return .toggleHelp
    case .up, .character("k"):
      return state.screen == .derivation ? .moveCursor(di: -1, dn: 0) : .moveSelection(-1)
    case .down, .character("j"):
      return state.screen == .derivation ? .moveCursor(di: 1, dn: 0) : .moveSelection(1)
    case .left: return state.screen == .derivation ? .moveCursor(di: 0, dn: -1) : nil
    case .right: return state.screen == .derivation ? .moveCursor(di: 0, dn: 1) : nil
    case .pageUp: return state.screen == .derivation ? .scroll(-10) : .moveSelection(-10)
    case .pageDown: return state.screen == .derivation ? .scroll(10) : .moveSelection(10)
    case .home: return .selectRow(0)
    case .end: return .selectRow(state.problem.classes - 1)
    case .enter, .character("e"): return .beginEdit(.logit(state.selection))
    case .character("="): return .beginEdit(.vector)
    case .character("#"): return .beginEdit(.classCount)
    case .character("+"): return .nudge(1)
    case .character("-"), .character("_"): return .nudge(-1)
    case .character("["): return .scaleNudgeStep(0.5)
    case .character("]"): return .scaleNudgeStep(2)
    case .character("t"): return .setTarget
    case .character("a"): return .addClass
    case .character("x"): return .removeClass
    case .character("s"): return .step
    case .character("p"): return .cyclePrecision
    case .character("l"): return .beginEdit(.learningRate)
    case .character("T"): return .beginEdit(.temperature)
    case .character("E"): return .beginEdit(.labelSmoothing)
    case .character("g"): return .beginEdit(.upstream)
    case .character("u"): return .undo
    case .control("r"): return .redo
    case .tab: return .nextScreen
    case .character("1"): return .showScreen(.explore)
    case .character("2"): return .showScreen(.derivation)
    case .character("3"): return .showScreen(.stability)
    case .character("4"): return .showScreen(.descent)
    case .character("H"), .shiftLeft: return .moveCursor(di: 0, dn: -1)
    case .character("L"), .shiftRight: return .moveCursor(di: 0, dn: 1)
    case .character("K"), .shiftUp: return .moveCursor(di: -1, dn: 0)
    case .character("J"), .shiftDown: return .moveCursor(di: 1, dn: 0)
    case .character("f"): return .toggleDigits
    case .character("P"): return .nextPreset
    case .character("O"): return .previousPreset
    case .character("v"): return state.screen == .stability ? .cycleStabilitySection : nil
    case .character(" "): return .descentToggleRun
    case .character("r"): return state.screen == .descent ? .descentReset : nil
    case .character("n"): return state.screen == .descent ? .descentStep : nil
    case .character("<"), .character(","): return state.screen == .descent ? .descentRate(0.5) : nil
    case .character(">"), .character("."): return state.screen == .descent ? .descentRate(2) : nil
    case .character("w"): return .export
    case .character("W"): return .save
    default: return nil
    }
  }
}
