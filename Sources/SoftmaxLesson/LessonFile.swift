import SoftmaxCore
import SoftmaxTUI
import Yams

/// One problem in a lesson file: the line (1-based), the key of a state block when it is about one, and the message.
public struct LessonIssue: Error, Equatable, Sendable {
  /// Where the problem is, which state key it is about, and what it is.
  public var line: Int
  public var key: String?
  public var message: String

  public init(line: Int, key: String? = nil, _ message: String) {
    self.line = line
    self.key = key
    self.message = message
  }

  /// `FILE:LINE: key 'K': MESSAGE`, the form `lesson --check` prints.
  public func described(file: String) -> String {
    "\(file):\(line): \(key.map { "key '\($0)': " } ?? "")\(message)"
  }
}

/// The problems of a lesson file, in line order.
public struct LessonIssues: Error, Sendable {
  public var issues: [LessonIssue]
  public init(_ issues: [LessonIssue]) { self.issues = issues }
}

/// A lesson parsed from its file, with the claims and questions of each step (parallel to `lesson.steps`).
public struct LessonFile: Sendable {
  public var lesson: Lesson
  /// Each step's claims, with the line of each.
  public var claims: [[(line: Int, claim: Claim)]]
  /// Each step's question, with its line.
  public var asks: [(line: Int, quantity: Quantity)?]
}

/// Lesson files: Markdown in which each `## ` heading starts a step.
///
/// A step's prose is shown in the lesson box (emphasis, inline code and `$…$` math written plainly). A fenced block
/// marked `state` sets what the step shows, in YAML, with the keys of ``stateKeys``; a key left out keeps the previous
/// step's value. `> press: KEY` names the key the step waits for, `> expect: CLAIM` a claim about the state after it
/// (see ``Claim``), `> ask: QUANTITY` a quiz question (see ``Quantity``). A `# ` heading is the lesson's title.
public enum LessonParser {
  /// The largest lesson file read.
  public static let maximumBytes = 1 << 20
  /// The longest prose of one step, in UTF-8 bytes (the lesson box holds one line of text).
  public static let maximumProse = 1000

  /// The keys of a `state` block.
  public static let stateKeys = [
    "logits", "target", "precision", "screen", "temperature", "label_smoothing", "soft_target", "upstream",
    "learning_rate", "select", "cursor", "section", "digits",
  ]

  /// The lesson in `bytes`, or every problem found (each with its line), in file order.
  public static func parse(_ bytes: [UInt8], label: String = "Lesson") -> Result<LessonFile, LessonIssues> {
    if bytes.count > maximumBytes {
      return .failure(
        LessonIssues([
          LessonIssue(
            line: 1, "the file is \(bytes.count) bytes, more than the \(maximumBytes >> 20) MiB a lesson may be")
        ]))
    }
    if let nul = bytes.firstIndex(of: 0) {
      return .failure(LessonIssues([LessonIssue(line: lineOf(nul, in: bytes), "a NUL byte: this is not a text file")]))
    }
    guard let text = String(validating: bytes, as: UTF8.self) else {
      return .failure(
        LessonIssues([LessonIssue(line: firstInvalidLine(bytes), "not UTF-8 text: this is not a lesson file")]))
    }
    var parser = Parser(lines: text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init))
    parser.label = label
    return parser.run()
  }

  /// The line of byte `offset`.
  static func lineOf(_ offset: Int, in bytes: [UInt8]) -> Int { 1 + bytes[..<offset].count { $0 == 0x0A } }

  /// The line of the first byte that is not valid UTF-8.
  static func firstInvalidLine(_ bytes: [UInt8]) -> Int {
    var start = 0
    for (k, b) in bytes.enumerated() where b == 0x0A || k == bytes.count - 1 {
      let end = b == 0x0A ? k : k + 1
      if String(validating: bytes[start..<end], as: UTF8.self) == nil { return lineOf(start, in: bytes) }
      start = k + 1
    }
    return lineOf(start, in: bytes)
  }

  /// The key a step's `> press:` names: one character, or Enter, Tab, Space, Esc, Backspace, Up, Down, Left, Right.
  static func key(named name: String) -> Key? {
    if name.count == 1, let c = name.first { return .character(c) }
    switch name.lowercased() {
    case "enter", "return": return .enter
    case "tab": return .tab
    case "space": return .character(" ")
    case "esc", "escape": return .escape
    case "backspace": return .backspace
    case "up": return .up
    case "down": return .down
    case "left": return .left
    case "right": return .right
    default: return nil
    }
  }

  /// Keys that belong to the lesson itself (or leave it), which a step may not ask for.
  static let reservedKeys: [Character: String] = [
    "N": "the lesson's next", "B": "the lesson's back", "q": "quit",
  ]

  /// Prose as the lesson box shows it: `**bold**`, `*emphasis*`, `` `code` `` and `$math$` written plainly.
  public static func plain(_ text: String) -> String {
    var out = ""
    var chars = Array(text)
    chars.removeAll { $0 == "\r" }
    var k = 0
    while k < chars.count {
      let c = chars[k]
      if c == "`" || c == "$" {
        // A closed pair loses its marks; an unpaired one stays.
        if let close = chars[(k + 1)...].firstIndex(of: c) {
          out += String(chars[(k + 1)..<close])
          k = close + 1
          continue
        }
      }
      if c == "*" {
        k += 1
        continue
      }
      out.append(c)
      k += 1
    }
    return out
  }

  struct Parser {
    let lines: [String]
    var label = "Lesson"
    var issues: [LessonIssue] = []
    var title: String?
    var steps: [Lesson.Step] = []
    var claims: [[(line: Int, claim: Claim)]] = []
    var asks: [(line: Int, quantity: Quantity)?] = []
    /// The state carried from step to step.
    var setup = Lesson.Setup(problem: Problem(logits: [1, 2, 3]))

    init(lines: [String]) { self.lines = lines }

    mutating func issue(_ line: Int, _ message: String) { issues.append(LessonIssue(line: line, message)) }

    mutating func issue(_ line: Int, key: String?, _ message: String) {
      issues.append(LessonIssue(line: line, key: key, message))
    }

    mutating func run() -> Result<LessonFile, LessonIssues> {
      var k = 0
      // Each step: heading line, prose lines, its state block (lines, start), directives.
      var current: (title: String, line: Int)?
      var prose: [String] = []
      var state: (lines: [String], line: Int)?
      var press: (key: Key, name: String, line: Int)?
      var expects: [(Int, Claim)] = []
      var ask: (Int, Quantity)?

      func flush(_ p: inout Parser) {
        guard let (stepTitle, line) = current else { return }
        p.finishStep(
          title: stepTitle, line: line, prose: prose, state: state, press: press, expects: expects, ask: ask)
      }

      while k < lines.count {
        let raw = lines[k]
        let line = raw.hasSuffix("\r") ? String(raw.dropLast()) : raw
        let number = k + 1
        k += 1
        if line.hasPrefix("```") {
          let info = line.dropFirst(3).trimmed(" \t")
          var body: [String] = []
          var closed = false
          while k < lines.count {
            let l = lines[k].hasSuffix("\r") ? String(lines[k].dropLast()) : lines[k]
            k += 1
            if l.hasPrefix("```") {
              closed = true
              break
            }
            body.append(l)
          }
          if !closed { issue(number, "a fenced block that is never closed (no ``` after it)") }
          if info == "state" {
            if current == nil {
              issue(number, "a state block before the first step (start a step with '## Title')")
            } else if state != nil {
              issue(number, "a second state block in one step (one per step)")
            } else if closed {
              state = (body, number)
            }
          } else {
            prose += body
          }
          continue
        }
        if line.hasPrefix("## ") {
          flush(&self)
          current = (line.dropFirst(3).trimmed(" \t"), number)
          if current?.title.isEmpty == true { issue(number, "a step heading without a title") }
          (prose, state, press, expects, ask) = ([], nil, nil, [], nil)
          continue
        }
        if line.hasPrefix("# ") {
          if title == nil { title = line.dropFirst(2).trimmed(" \t") }
          continue
        }
        if line.hasPrefix(">"), let (word, rest) = directive(line) {
          guard current != nil else {
            issue(number, "'> \(word):' before the first step (start a step with '## Title')")
            continue
          }
          switch word {
          case "press":
            if press != nil { issue(number, "a second '> press:' in one step (one per step)") }
            guard let key = LessonParser.key(named: rest) else {
              issue(
                number,
                "'\(rest)' is not a key (one character, or Enter, Tab, Space, Esc, Backspace, Up, Down, Left, Right)")
              continue
            }
            if case .character(let c) = key, let what = LessonParser.reservedKeys[c] {
              issue(number, "'\(c)' is \(what): a step cannot ask for it")
              continue
            }
            press = (key, rest, number)
          case "expect":
            do throws(InputError) {
              expects.append((number, try Claim(parsing: rest)))
            } catch {
              issue(number, "claim: \(error.message)")
            }
          case "ask":
            if ask != nil { issue(number, "a second '> ask:' in one step (one per step)") }
            do throws(InputError) {
              ask = (number, try Quantity(parsing: Substring(rest)))
            } catch {
              issue(number, "ask: \(error.message)")
            }
          default:
            issue(number, "unknown directive '> \(word):' (expected press, expect or ask)")
          }
          continue
        }
        if current != nil {
          prose.append(line.hasPrefix(">") ? String(line.dropFirst()) : line)
        }
      }
      flush(&self)
      if steps.isEmpty && issues.isEmpty { issue(1, "no steps: a lesson needs at least one '## ' heading") }
      if !issues.isEmpty { return .failure(LessonIssues(issues.sorted { $0.line < $1.line })) }
      return .success(
        LessonFile(
          lesson: Lesson(label: label, title: title ?? "Lesson", steps: steps), claims: claims, asks: asks))
    }

    /// `> word: rest` → (word, rest) when word is a lower-case name (other quotations are prose).
    func directive(_ line: String) -> (String, String)? {
      let body = line.dropFirst().trimmed(" \t")
      guard let colon = body.firstIndex(of: ":") else { return nil }
      let word = body[..<colon]
      guard !word.isEmpty, word.allSatisfy({ $0.isLetter && $0.isLowercase }) else { return nil }
      return (String(word), body[body.index(after: colon)...].trimmed(" \t"))
    }

    mutating func finishStep(
      title: String, line: Int, prose: [String], state: (lines: [String], line: Int)?,
      press: (key: Key, name: String, line: Int)?, expects: [(Int, Claim)], ask: (Int, Quantity)?
    ) {
      if let state { apply(state.lines, at: state.line) }
      let paragraphs = prose.map { $0.trimmed(" \t") }
      let text = LessonParser.plain(paragraphs.filter { !$0.isEmpty }.joined(separator: " "))
      if text.utf8.count > LessonParser.maximumProse {
        issue(
          line,
          "the step's prose is \(text.utf8.count) bytes; the lesson box holds \(LessonParser.maximumProse) "
            + "(split it into two steps)")
      }
      // The state must validate, and the key must mean something in it.
      do throws(InputError) {
        let s = try setup.state()
        if let press, KeyMap.action(for: .key(press.key), in: s) == nil {
          issue(press.line, "'\(press.name)' does nothing on the \(s.screen.name) screen")
        }
      } catch {
        let key = LessonParser.key(ofMessage: error.message)
        issue(state?.line ?? line, key: key, error.message)
      }
      steps.append(
        Lesson.Step(
          title: title, text: text, setup: setup, press: press?.key, pressName: press?.name,
          expects: expects.map(\.1.description), ask: ask?.1, line: line))
      claims.append(expects.map { (line: $0.0, claim: $0.1) })
      asks.append(ask.map { (line: $0.0, quantity: $0.1) })
    }

    /// Applies a state block's YAML to the carried setup.
    mutating func apply(_ yaml: [String], at fence: Int) {
      let text = yaml.joined(separator: "\n")
      let node: Node?
      do {
        node = try Yams.compose(yaml: text)
      } catch let error as YamlError {
        issue(fence + LessonParser.line(of: error), "not valid YAML: \(LessonParser.problem(of: error))")
        return
      } catch {
        issue(fence + 1, "not valid YAML: \(error)")
        return
      }
      guard let node else { return }  // an empty block changes nothing
      guard case .mapping(let mapping) = node else {
        issue(fence + 1, "a state block is a YAML mapping (key: value lines)")
        return
      }
      for (keyNode, value) in mapping {
        let line = fence + (keyNode.mark?.line ?? 1)
        guard let key = keyNode.string, LessonParser.stateKeys.contains(key) else {
          issue(
            line, key: keyNode.string,
            "unknown key (expected \(LessonParser.stateKeys.joined(separator: ", ")))")
          continue
        }
        do throws(InputError) {
          try set(key, value)
        } catch {
          issue(line, key: key, error.message)
        }
      }
    }

    func number(_ node: Node, _ what: String) throws(InputError) -> Double {
      guard case .scalar(let s) = node else { throw InputError("expected a number, not a list or mapping") }
      return try NumberListParser.parseValue(Substring(s.string), what: what, index: nil)
    }

    func numbers(_ node: Node, _ what: String) throws(InputError) -> [Double] {
      guard case .sequence(let seq) = node else { throw InputError("expected a list, as in [1, 2, 3]") }
      var out: [Double] = []
      for (i, item) in seq.enumerated() {
        guard case .scalar(let s) = item else { throw InputError("\(what) \(i) is not a number") }
        out.append(try NumberListParser.parseValue(Substring(s.string), what: what, index: i))
      }
      return out
    }

    func index(_ node: Node) throws(InputError) -> Int {
      guard case .scalar(let s) = node, let i = Int(s.string) else {
        throw InputError("expected a class number (0, 1, 2, …)")
      }
      return i
    }

    func word(_ node: Node) throws(InputError) -> String {
      guard case .scalar(let s) = node else { throw InputError("expected a name, not a list or mapping") }
      return s.string
    }

    mutating func set(_ key: String, _ value: Node) throws(InputError) {
      switch key {
      case "logits":
        let xs = try numbers(value, "logit")
        if xs.isEmpty { throw InputError("no logits (expected at least one class, e.g. [1, 2, 3])") }
        if xs.count > 4096 { throw InputError("\(xs.count) logits; a lesson step holds at most 4096") }
        setup.problem.logits = xs
        if setup.problem.softTarget?.count != xs.count { setup.problem.softTarget = nil }
      case "target": setup.problem.target = try index(value)
      case "precision":
        let name = try word(value)
        guard let p = Precision(name: name) else {
          throw InputError("'\(name)' is not a precision (float64, float32, bfloat16, float16)")
        }
        setup.problem.precision = p
      case "screen":
        let name = try word(value)
        guard let s = Screen(name: name) else {
          throw InputError(
            "'\(name)' is not a screen (\(Screen.allCases.map(\.name).joined(separator: ", ")))")
        }
        setup.screen = s
      case "temperature": setup.problem.temperature = try number(value, "temperature")
      case "label_smoothing": setup.problem.labelSmoothing = try number(value, "label smoothing")
      case "upstream": setup.problem.upstream = try number(value, "upstream gradient")
      case "learning_rate": setup.problem.learningRate = try number(value, "learning rate")
      case "soft_target":
        if case .scalar(let s) = value, ["none", "null", "~", ""].contains(s.string) {
          setup.problem.softTarget = nil
        } else {
          setup.problem.softTarget = try numbers(value, "soft target value")
        }
      case "select": setup.selection = try index(value)
      case "cursor":
        guard case .sequence(let seq) = value, seq.count == 2 else {
          throw InputError("expected two indices [i, n]")
        }
        setup.cursorI = try index(seq[0])
        setup.cursorN = try index(seq[1])
      case "section":
        let name = try word(value)
        let names = ["naive", "stable", "online", "loss", "limits"]
        guard let k = names.firstIndex(of: name), let section = StabilitySection(rawValue: k) else {
          throw InputError("'\(name)' is not a section (\(names.joined(separator: ", ")))")
        }
        setup.section = section
      case "digits":
        let name = try word(value)
        guard name == "full" || name == "4" else { throw InputError("'\(name)' is not full or 4") }
        setup.fullDigits = name == "full"
      default: break
      }
    }
  }

  /// The key a validation message is about (the problem's messages start with what they name).
  static func key(ofMessage m: String) -> String? {
    let starts: [(String, String)] = [
      ("logit", "logits"), ("every logit", "logits"), ("no logits", "logits"), ("target", "target"),
      ("temperature", "temperature"), ("label smoothing", "label_smoothing"), ("soft target", "soft_target"),
      ("give either a soft target", "soft_target"), ("upstream", "upstream"), ("learning rate", "learning_rate"),
      ("select", "select"), ("cursor", "cursor"),
    ]
    return starts.filter { m.hasPrefix($0.0) }.max { $0.0.count < $1.0.count }?.1
  }

  /// The line (within the block) of a YAML error.
  static func line(of error: YamlError) -> Int {
    switch error {
    case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): return mark.line
    default: return 1
    }
  }

  /// A YAML error's problem in one line.
  static func problem(of error: YamlError) -> String {
    switch error {
    case .scanner(let context, let problem, _, _), .parser(let context, let problem, _, _),
      .composer(let context, let problem, _, _):
      return [context.map { "\($0.text)" }, problem].compactMap { $0 }.joined(separator: ": ")
    default:
      return "\(error)".split(separator: "\n").first.map(String.init) ?? "unreadable"
    }
  }
}

/// What `lesson --check` finds: every step's state set up, its key pressed, and its claims judged.
public enum LessonChecker {
  /// The problems of a parsed lesson: claims that are false (with the value found) or name a class that is not there,
  /// and questions about such classes. Empty: the lesson holds.
  public static func check(_ file: LessonFile) -> [LessonIssue] {
    var issues: [LessonIssue] = []
    for (k, step) in file.lesson.steps.enumerated() {
      var state: AppState
      do { state = try step.setup.state() } catch {
        issues.append(LessonIssue(line: step.line, error.message))
        continue
      }
      // The explorer runs the step as a user would see it, lesson and all.
      state.lesson = file.lesson
      state.tourStep = k
      var explorer = Explorer(state: state)
      if let key = step.press { explorer.handle(.key(key)) }
      for (line, claim) in file.claims[k] {
        do throws(InputError) {
          let x = try claim.quantity.value(in: explorer)
          if !claim.holds(for: x) {
            let after = step.pressName.map { " after \($0)" } ?? ""
            issues.append(LessonIssue(line: line, "claim '\(claim)' is false\(after): \(claim.quantity) = \(x)"))
          }
        } catch {
          issues.append(LessonIssue(line: line, "claim '\(claim)': \(error.message)"))
        }
      }
      if let (line, quantity) = file.asks[k] {
        do throws(InputError) { _ = try quantity.value(in: explorer) } catch {
          issues.append(LessonIssue(line: line, "ask: \(error.message)"))
        }
      }
    }
    return issues
  }
}
