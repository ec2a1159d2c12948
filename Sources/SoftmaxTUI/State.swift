import SoftmaxCore
import SoftmaxText

/// The four screens of the explorer.
public enum Screen: Int, CaseIterable, Sendable {
  case explore = 1
  case derivation, stability, descent

  public var title: String {
    switch self {
    case .explore: "Explore"
    case .derivation: "Derivation"
    case .stability: "Stability"
    case .descent: "Descent"
    }
  }

  public var next: Screen { Screen(rawValue: rawValue % Screen.allCases.count + 1) ?? .explore }
}

/// Which value the edit line is changing.
public enum EditField: Hashable, Sendable {
  case logit(Int)
  case learningRate
  case temperature
  case labelSmoothing
  case upstream
  /// The whole logit vector (`=`).
  case vector
  /// The number of classes of a new random vector (`#`).
  case classCount

  /// How the field is named in prompts and messages.
  public var label: String {
    switch self {
    case .logit(let i): "x_\(i)"
    case .learningRate: "η (learning rate)"
    case .temperature: "τ (temperature)"
    case .labelSmoothing: "ε (label smoothing)"
    case .upstream: "g (upstream ∂l/∂c)"
    case .vector: "logits"
    case .classCount: "classes of a random vector"
    }
  }
}

/// The text being typed into a field, with its cursor (held inline: typing allocates nothing). The editing keys are
/// in LineEditor.swift.
public struct EditLine: Hashable, Sendable {
  public var field: EditField
  public var text: TextLine
  /// The cursor, as a byte offset into `text` (always on a character boundary).
  public var cursor: Int
  /// Whether the whole text is selected, as a pre-filled value is: the first character typed replaces it.
  public var selected: Bool

  /// A line holding `text`, with the cursor at its end; `selected` marks it as a pre-fill that typing replaces.
  public init(field: EditField, text: TextLine, selected: Bool = false) {
    self.field = field
    self.text = text
    cursor = text.utf8Count
    self.selected = selected && !text.isEmpty
  }
}

/// A line for the status bar; errors are shown in a warning style.
public struct StatusMessage: Hashable, Sendable {
  /// The message, held inline (a key that only reports something costs no allocation).
  public var text: TextLine
  public var isError: Bool
  public init(_ text: TextLine, isError: Bool = false) {
    self.text = text
    self.isError = isError
  }
}

/// What an action did to the problem: the message the explorer hands to its evaluations (which then recompute exactly
/// what it affects) and from which the undo entry is made. An action says what it changed; nothing compares problems
/// to find out again.
public enum ProblemChange: Hashable, Sendable {
  /// The problem is as it was.
  case none
  /// Logit `index` alone changed (in place: the class count, precision, target and knobs are as they were).
  case logit(Int)
  /// The target and knobs alone changed (the logits, precision and soft target are as they were).
  case settings
  /// The logits changed, any number of them, and nothing else did (a gradient step).
  case logits
  /// Anything else: the class count, the precision, the soft target, or several kinds of change at once.
  case problem

  /// The change made by this one followed by `next`.
  public func then(_ next: ProblemChange) -> ProblemChange {
    switch (self, next) {
    case (.none, _): next
    case (_, .none): self
    case (.logit(let i), .logit(let j)) where i == j: self
    case (.settings, .settings): self
    case (.logit, .logit), (.logit, .logits), (.logits, .logit), (.logits, .logits): .logits
    default: .problem
    }
  }
}

/// One step of the undo or redo history: what to put back into the problem, and the row to select again.
///
/// An edit of one logit, or of the target and knobs only, records just that (so an edit allocates nothing and a long
/// history of edits at 131,072 classes costs a few bytes each); any other change records the whole problem.
public struct UndoEntry: Equatable, Sendable {
  enum Change: Equatable, Sendable {
    /// Logit `index` had this value.
    case logit(index: Int, value: Double)
    /// The target and knobs had these values (the logits, precision and soft target were as they are).
    case settings(Settings)
    /// The problem was this one.
    case problem(Problem)
  }

  /// The fields of a problem besides its logits, precision and soft target.
  struct Settings: Equatable, Sendable {
    var target: Int
    var temperature: Double
    var labelSmoothing: Double
    var upstream: Double
    var learningRate: Double

    init(_ p: Problem) {
      (target, temperature, labelSmoothing, upstream, learningRate) = (
        p.target, p.temperature, p.labelSmoothing, p.upstream, p.learningRate
      )
    }

    func apply(to p: inout Problem) {
      (p.target, p.temperature, p.labelSmoothing, p.upstream, p.learningRate) = (
        target, temperature, labelSmoothing, upstream, learningRate
      )
    }
  }

  var change: Change
  /// The selected row to return to.
  public var selection: Int

  init(change: Change, selection: Int) {
    self.change = change
    self.selection = selection
  }

  /// The entry that undoes `change`, made from the problem before it (`before`, in entered values).
  init(undoing change: ProblemChange, before: Problem, selection: Int) {
    self.selection = selection
    switch change {
    case .logit(let i): self.change = .logit(index: i, value: before.logits[i])
    case .settings: self.change = .settings(Settings(before))
    case .none, .logits, .problem: self.change = .problem(before)
    }
  }

  /// What applying this entry changes in the problem.
  var problemChange: ProblemChange {
    switch change {
    case .logit(let i, _): .logit(i)
    case .settings: .settings
    case .problem: .problem
    }
  }

  /// The problem this entry gives back when applied to `current`.
  public func restoring(_ current: Problem) -> Problem {
    var p = current
    var entry = self
    entry.apply(to: &p)
    return p
  }

  /// For a one-logit entry: swaps its value with `value` (the logit in place), so that this becomes the entry that
  /// undoes the swap.
  mutating func apply(toLogit value: inout Double) {
    guard case .logit(let i, let old) = change else { return }
    change = .logit(index: i, value: value)
    value = old
  }

  /// Puts this entry's values into `problem` (in place), and turns this entry into the one that undoes that.
  mutating func apply(to problem: inout Problem) {
    switch change {
    case .logit(let i, let value):
      change = .logit(index: i, value: problem.logits[i])
      problem.logits[i] = value
    case .settings(let settings):
      change = .settings(Settings(problem))
      settings.apply(to: &problem)
    case .problem(let p):
      change = .problem(problem)
      problem = p
    }
  }
}

/// Gradient descent run on the logits (the Descent screen).
public struct DescentState: Equatable, Sendable {
  /// The problem the run started from (reset returns here).
  public var start: Problem
  /// Logits after each step, starting with the initial ones (bounded; old entries are dropped).
  public var history: [DescentRecord] = []
  /// Whether steps are taken on each tick.
  public var running = false
  /// Steps per second while running.
  public var rate: Double = 8
  /// Total steps taken since the start (history may hold fewer).
  public var steps = 0
  /// The evaluation of the last point, which the next step starts from (each point is evaluated once).
  var last = LastEvaluation()

  public init(start: Problem) { self.start = start }
}

/// A cache inside the state: it never makes two states differ (it is derived from the history it sits next to).
struct LastEvaluation: Equatable, Sendable {
  var evaluation: Evaluation?

  /// The cached evaluation when it is of `problem`, else a new one; the cache is left empty (so that the caller holds
  /// the evaluation once and can update it in place).
  mutating func take(of problem: Problem) -> Evaluation {
    if let evaluation = evaluation.take(), evaluation.problem == problem { return evaluation }
    return Evaluation(problem)
  }

  static func == (_: LastEvaluation, _: LastEvaluation) -> Bool { true }
}

/// One point of a descent run.
public struct DescentRecord: Equatable, Sendable {
  public var step: Int
  public var loss: Double
  public var targetProbability: Double
  /// `Σx` over the finite logits (masked classes stay `-inf` and are left out).
  public var logitSum: Double
  public var logits: [Double]
}

/// The whole explorer state: a plain value that `update` transforms and views render.
public struct AppState: Equatable, Sendable {
  /// The validated problem on screen: ``entered`` rounded into the current precision.
  public var problem: Problem
  /// The values as the user entered them, when the precision key has made them differ from ``problem``'s (nil: the
  /// problem holds them exactly). Precision is a lens: `p` rounds the entered values for computing and display and
  /// never loses them, so cycling back to float64 shows `1000, 1001, 1002` again, not bfloat16's `1000, 1000, 1000`.
  var lens: Problem?
  /// The selected logit row.
  public var selection: Int = 0
  /// The Jacobian cell under the cursor: row `i` (output) and column `n` (input).
  public var cursorI: Int = 0
  public var cursorN: Int = 0
  /// The screen shown.
  public var screen: Screen = .explore
  /// The amount `+`/`-` nudge a logit by.
  public var nudgeStep: Double = 0.5
  /// Show full round-trip digits instead of 4 significant digits.
  public var fullDigits = false
  /// The edit line, while editing.
  public var edit: EditLine?
  /// The help overlay is open.
  public var showHelp = false
  /// The page of the help overlay shown (when it needs more than one).
  public var helpPage = 0
  /// The seed of the next random vector `#` makes (each one takes the next, so they differ and can be reproduced).
  public var nextRandomSeed: UInt64 = 1
  /// The last message.
  public var message: StatusMessage?
  /// Undo and redo stacks.
  public var undoStack: [UndoEntry] = []
  public var redoStack: [UndoEntry] = []
  /// The terminal size last reported (mouse hit-testing uses it).
  public var width: Int = 80
  public var height: Int = 24
  /// Scroll offset of the Derivation screen.
  public var derivationScroll = 0
  /// Index of the Stability lab preset last applied (nil: the user's own vector).
  public var presetIndex: Int?
  /// The section of the Stability lab shown first (`v` cycles it).
  public var stabilitySection: StabilitySection = .naive
  /// Gradient descent run.
  public var descent: DescentState
  /// Guided tour step, when a tour is running.
  public var tourStep: Int?
  /// The lesson being run (the built-in tour or a lesson file), whose step ``tourStep`` shows.
  public var lesson: Lesson?
  /// Whether the key the lesson step asks for has been pressed.
  public var lessonKeyPressed = false
  /// The question of the lesson step shown (`> ask:`), if it has one.
  public var question: QuizQuestion?
  /// Per lesson step with a question: whether it was answered right at the first try (absent: not answered yet).
  public var quizResults: [Int: Bool] = [:]
  /// Set when the app should exit.
  public var quitRequested = false
  /// A file export requested by a key; the shell performs it and reports back.
  public var exportRequested = false
  /// A session save requested by a key (`W`); the shell writes the file and reports back.
  public var saveRequested = false

  /// Maximum undo depth; also bounded by memory for huge vectors (see `undoLimit`).
  public static let maxUndo = 200

  public init(problem: Problem) {
    self.problem = problem
    selection = problem.target
    cursorI = problem.target
    cursorN = problem.target
    descent = DescentState(start: problem)
  }

  /// The values as entered, in the current precision's field: what an edit changes and the history records.
  public var entered: Problem {
    guard var l = lens, l.classes == problem.classes else { return problem }
    l.precision = problem.precision
    return l
  }

  /// Undo entries kept: fewer for huge vectors so history stays within about 16 MB.
  public var undoLimit: Int { Swift.max(4, Swift.min(AppState.maxUndo, (1 << 21) / Swift.max(1, problem.classes))) }
}
