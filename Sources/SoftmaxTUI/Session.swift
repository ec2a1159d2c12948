import SoftmaxCore

/// A saved explorer session: what `W` writes, what a quit leaves in `last.json`, and what `--load` and `--resume`
/// start from.
///
/// It holds the logits, target and knobs exactly as entered (the precision is a lens: a session saved in bfloat16 keeps
/// `1001`, not bfloat16's `1000`), the precision, the screen, the selection and the Jacobian cursor. Decoding checks
/// the format name, the version and every key (an unknown key refuses the file); ``AppState/init(session:)`` then
/// validates every value. The coding is the standard library's only: the JSON text is made by the caller.
public struct Session: Codable, Equatable, Sendable {
  /// The value of the `format` key, which tells a session from any other JSON.
  public static let formatName = "softmax-lab-session"
  /// The version written; a file of a newer version is refused.
  public static let currentVersion = 1

  /// The version of the file's layout.
  public var version: Int = Session.currentVersion
  /// The logits as entered (`-inf` masks a class).
  public var logits: [Double]
  /// The target class T.
  public var target: Int
  /// A soft target as entered, when one is set (it overrides `target` and label smoothing for the loss).
  public var softTarget: [Double]?
  /// The precision the values are seen through (the lens).
  public var precision: Precision
  /// τ, ε, g and η as entered.
  public var temperature: Double
  public var labelSmoothing: Double
  public var upstream: Double
  public var learningRate: Double
  /// The screen shown and the selected row.
  public var screen: Screen
  public var selection: Int
  /// The Jacobian cell under the cursor: output `i`, input `n`.
  public var cursorI: Int
  public var cursorN: Int
  /// Full round-trip digits instead of 4 significant digits.
  public var fullDigits: Bool
  /// The amount `+`/`-` nudge a logit by.
  public var stepSize: Double

  /// A session of `problem` (taken as entered) on the Explore screen, the target selected.
  public init(problem: Problem) {
    logits = problem.logits
    target = problem.target
    softTarget = problem.softTarget
    precision = problem.precision
    temperature = problem.temperature
    labelSmoothing = problem.labelSmoothing
    upstream = problem.upstream
    learningRate = problem.learningRate
    screen = .explore
    selection = problem.target
    cursorI = problem.target
    cursorN = problem.target
    fullDigits = false
    stepSize = 0.5
  }

  /// The problem as entered (not yet validated or rounded).
  public var enteredProblem: Problem {
    Problem(
      logits: logits, target: target, precision: precision, temperature: temperature, labelSmoothing: labelSmoothing,
      softTarget: softTarget, upstream: upstream, learningRate: learningRate)
  }

  /// The JSON keys, in the order they are written.
  enum Key: String, CodingKey, CaseIterable {
    case format, version, logits, target
    case softTarget = "soft_target"
    case precision, temperature
    case labelSmoothing = "label_smoothing"
    case upstream
    case learningRate = "learning_rate"
    case screen, selection, cursor
    case fullDigits = "full_digits"
    case stepSize = "step_size"
  }

  /// Any key, to find the ones a session does not have.
  struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
  }

  /// Encodes the session with the keys of `Key`, a masked logit as `"-inf"`.
  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: Key.self)
    try c.encode(Session.formatName, forKey: .format)
    try c.encode(version, forKey: .version)
    try c.encode(logits.map(SessionNumber.init), forKey: .logits)
    try c.encode(target, forKey: .target)
    try c.encodeIfPresent(softTarget, forKey: .softTarget)
    try c.encode(precision.rawValue, forKey: .precision)
    try c.encode(temperature, forKey: .temperature)
    try c.encode(labelSmoothing, forKey: .labelSmoothing)
    try c.encode(upstream, forKey: .upstream)
    try c.encode(learningRate, forKey: .learningRate)
    try c.encode(screen.name, forKey: .screen)
    try c.encode(selection, forKey: .selection)
    try c.encode([cursorI, cursorN], forKey: .cursor)
    try c.encode(fullDigits, forKey: .fullDigits)
    try c.encode(stepSize, forKey: .stepSize)
  }

  /// Decodes a session, refusing with a ``SessionError`` (one line naming the key) anything that is not one: a missing
  /// or different `format`, a newer `version`, an unknown key, a precision or screen that does not exist. The numbers
  /// are checked by ``AppState/init(session:)``.
  public init(from decoder: any Decoder) throws {
    let any = try decoder.container(keyedBy: AnyKey.self)
    guard any.contains(AnyKey(stringValue: "format")) else {
      throw SessionError("not a softmax-lab session (no \"format\": \"\(Session.formatName)\" key)")
    }
    let c = try decoder.container(keyedBy: Key.self)
    let format = try? c.decode(String.self, forKey: .format)
    guard format == Session.formatName else {
      throw SessionError(
        "not a softmax-lab session (\"format\" is \(format.map { "\"\($0)\"" } ?? "not a string"), "
          + "expected \"\(Session.formatName)\")")
    }
    version = try c.decode(Int.self, forKey: .version)
    guard version >= 1 else { throw SessionError("key 'version': \(version) is not a session version (1…)") }
    guard version <= Session.currentVersion else {
      throw SessionError(
        "key 'version': version \(version) is newer than this softmax-lab reads (\(Session.currentVersion))")
    }
    let known = Set(Key.allCases.map(\.rawValue))
    if let unknown = any.allKeys.map(\.stringValue).sorted().first(where: { !known.contains($0) }) {
      throw SessionError("unknown key '\(unknown)'")
    }
    logits = try c.decode([SessionNumber].self, forKey: .logits).map(\.value)
    target = try c.decode(Int.self, forKey: .target)
    softTarget = try c.decodeIfPresent([Double].self, forKey: .softTarget)
    let precisionName = try c.decode(String.self, forKey: .precision)
    guard let p = Precision(rawValue: precisionName) else {
      throw SessionError(
        "key 'precision': '\(precisionName)' is not a precision (float64, float32, bfloat16, float16)")
    }
    precision = p
    temperature = try c.decode(Double.self, forKey: .temperature)
    labelSmoothing = try c.decode(Double.self, forKey: .labelSmoothing)
    upstream = try c.decode(Double.self, forKey: .upstream)
    learningRate = try c.decode(Double.self, forKey: .learningRate)
    let screenName = try c.decode(String.self, forKey: .screen)
    guard let s = Screen(name: screenName) else {
      throw SessionError(
        "key 'screen': '\(screenName)' is not a screen (\(Screen.allCases.map(\.name).joined(separator: ", ")))")
    }
    screen = s
    selection = try c.decode(Int.self, forKey: .selection)
    let cursor = try c.decode([Int].self, forKey: .cursor)
    guard cursor.count == 2 else {
      throw SessionError("key 'cursor': expected two indices [i, n], found \(cursor.count)")
    }
    (cursorI, cursorN) = (cursor[0], cursor[1])
    fullDigits = try c.decode(Bool.self, forKey: .fullDigits)
    stepSize = try c.decode(Double.self, forKey: .stepSize)
  }
}

/// A session that cannot be read or used, in one line (without the file's name, which the caller adds).
public struct SessionError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The one-line message.
  public var message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}

/// A logit in a session file: a JSON number, or the string `"-inf"` for a masked class (JSON has no infinities).
struct SessionNumber: Codable {
  var value: Double
  init(_ value: Double) { self.value = value }

  init(from decoder: any Decoder) throws {
    let c = try decoder.singleValueContainer()
    if let v = try? c.decode(Double.self) {
      value = v
      return
    }
    guard let s = try? c.decode(String.self) else {
      throw SessionError("key 'logits': expected numbers (or \"-inf\" for a masked class)")
    }
    switch s {
    case "-inf": value = -.infinity
    case "inf", "+inf": value = .infinity
    case "nan": value = .nan
    default: throw SessionError("key 'logits': '\(s)' is not a number (only \"-inf\" may be a string)")
    }
  }

  func encode(to encoder: any Encoder) throws {
    var c = encoder.singleValueContainer()
    if value.isFinite { try c.encode(value) } else { try c.encode(value < 0 ? "-inf" : value > 0 ? "inf" : "nan") }
  }
}

extension Screen {
  /// The name in session and lesson files: `explore`, `derivation`, `stability`, `descent`.
  public var name: String {
    switch self {
    case .explore: "explore"
    case .derivation: "derivation"
    case .stability: "stability"
    case .descent: "descent"
    }
  }

  /// The screen of that name (see ``name``), or nil.
  public init?(name: String) {
    guard let s = Screen.allCases.first(where: { $0.name == name }) else { return nil }
    self = s
  }
}

extension AppState {
  /// The session to save: the values as entered, the precision, the screen, the selection and the cursor.
  public var session: Session {
    var s = Session(problem: entered)
    s.screen = screen
    s.selection = selection
    (s.cursorI, s.cursorN) = (cursorI, cursorN)
    s.fullDigits = fullDigits
    s.stepSize = nudgeStep
    return s
  }

  /// The state a session describes, every value validated: the problem is the entered values rounded into the
  /// precision (the entered ones kept, as the precision key keeps them). Throws one line naming what is wrong.
  public init(session s: Session) throws(SessionError) {
    let entered = s.enteredProblem
    let problem: Problem
    do { problem = try entered.validated() } catch { throw SessionError(error.message) }
    self.init(problem: problem)
    lens = problem == entered ? nil : entered
    let c = problem.classes
    for (name, index) in [("selection", s.selection), ("cursor i", s.cursorI), ("cursor n", s.cursorN)]
    where !(0..<c).contains(index) {
      throw SessionError("\(name) \(index) is out of range for \(c) classes (expected 0...\(c - 1))")
    }
    guard s.stepSize.isFinite, s.stepSize >= 0x1p-20, s.stepSize <= 0x1p20 else {
      throw SessionError("step size \(s.stepSize) must be in 2^-20…2^20")
    }
    screen = s.screen
    selection = s.selection
    (cursorI, cursorN) = (s.cursorI, s.cursorN)
    fullDigits = s.fullDigits
    nudgeStep = s.stepSize
  }
}
