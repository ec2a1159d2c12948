import SoftmaxCore
import SoftmaxText

/// A lesson: steps that each set up a state and say what to look at, like vimtutor. Lesson files (Markdown with YAML
/// state blocks) are parsed into this value by the `SoftmaxLesson` module; the built-in tour is one of them.
public struct Lesson: Equatable, Sendable {
  /// The word in the lesson box's title ("Tour" for the built-in tour, "Lesson" for the others).
  public var label: String
  /// The lesson's title (its `# ` heading).
  public var title: String
  /// The steps, in order.
  public var steps: [Step]

  /// A lesson of `steps`.
  public init(label: String = "Lesson", title: String, steps: [Step]) {
    self.label = label
    self.title = title
    self.steps = steps
  }

  /// One step: what it sets up, what it says, the key it waits for.
  public struct Step: Equatable, Sendable {
    /// The step's `## ` heading.
    public var title: String
    /// The prose, written plainly (Markdown emphasis, code and `$…$` math already removed).
    public var text: String
    /// The state the step shows.
    public var setup: Setup
    /// The key the step asks for (it waits for it: `N` first reminds), and how the lesson names it.
    public var press: Key?
    /// How the lesson names that key (`s`, `Enter`).
    public var pressName: String?
    /// The claims the step makes about the state after its key, as written (checked by `lesson --check`).
    public var expects: [String]
    /// The quantity the step asks for (a quiz question): hidden until the student's answer is judged.
    public var ask: Quantity?
    /// The line of the step's heading in its file.
    public var line: Int

    /// A step with what it shows and asks.
    public init(
      title: String, text: String, setup: Setup, press: Key? = nil, pressName: String? = nil, expects: [String] = [],
      ask: Quantity? = nil, line: Int = 0
    ) {
      self.title = title
      self.text = text
      self.setup = setup
      self.press = press
      self.pressName = pressName
      self.expects = expects
      self.ask = ask
      self.line = line
    }
  }

  /// What a step shows: the problem as entered, the screen, the selected row, the Jacobian cell and the Stability
  /// section (nil: the target, the target, the first section).
  public struct Setup: Equatable, Sendable {
    /// The problem as entered, and the screen.
    public var problem: Problem
    public var screen: Screen
    public var selection: Int?
    public var cursorI: Int?
    public var cursorN: Int?
    public var section: StabilitySection?
    public var fullDigits: Bool

    /// A setup of `problem` on `screen`.
    public init(
      problem: Problem, screen: Screen = .explore, selection: Int? = nil, cursorI: Int? = nil, cursorN: Int? = nil,
      section: StabilitySection? = nil, fullDigits: Bool = false
    ) {
      self.problem = problem
      self.screen = screen
      self.selection = selection
      self.cursorI = cursorI
      self.cursorN = cursorN
      self.section = section
      self.fullDigits = fullDigits
    }

    /// The state this setup describes (a fresh history), or the one-line reason it is invalid.
    public func state() throws(InputError) -> AppState {
      let problem = try self.problem.validated()
      var state = AppState(problem: problem)
      state.lens = problem == self.problem ? nil : self.problem
      state.screen = screen
      let c = problem.classes
      for (name, value) in [("select", selection), ("cursor i", cursorI), ("cursor n", cursorN)] {
        if let v = value, !(0..<c).contains(v) {
          throw InputError("\(name) \(v) is out of range for \(c) classes (expected 0...\(c - 1))")
        }
      }
      if let r = selection { state.selection = r }
      if let i = cursorI { state.cursorI = i }
      if let n = cursorN { state.cursorN = n }
      if let section { state.stabilitySection = section }
      state.fullDigits = fullDigits
      return state
    }
  }
}

/// Running a lesson in the explorer: `N` next, `B` back (capitals, so that no lesson's own key, such as the Descent
/// screen's `n`, is taken).
public enum Tour {
  /// Sets up step `index` of the state's lesson in `state` (clamped; past the end the lesson finishes) and returns what
  /// that changed.
  @discardableResult
  public static func go(to index: Int, in state: inout AppState) -> ProblemChange {
    guard let lesson = state.lesson else { return .none }
    guard index < lesson.steps.count else {
      state.tourStep = nil
      state.lesson = nil
      state.question = nil
      let asked = lesson.steps.filter { $0.ask != nil }.count
      if asked > 0 {
        let right = state.quizResults.values.filter { $0 }.count
        state.message = StatusMessage(
          "\(lesson.label.lowercased()) finished — score \(right)/\(asked) right at the first try; q quits")
      } else {
        state.message = StatusMessage("\(lesson.label.lowercased()) finished — keep exploring, or q to quit")
      }
      return .none
    }
    let k = Swift.max(0, index)
    guard var next = try? lesson.steps[k].setup.state() else { return .none }
    (next.width, next.height) = (state.width, state.height)
    next.lesson = lesson
    next.tourStep = k
    next.quizResults = state.quizResults
    if let q = lesson.steps[k].ask {
      next.question = QuizQuestion(quantity: q)
      // A question already answered is shown answered.
      if state.quizResults[k] != nil { next.question?.answered = true }
    }
    state = next
    return .problem
  }

  /// Whether the step shown waits for its key (`N` then reminds instead of moving on).
  static func waiting(_ state: AppState) -> Bool {
    guard let k = state.tourStep, let lesson = state.lesson, lesson.steps.indices.contains(k) else { return false }
    return lesson.steps[k].press != nil && !state.lessonKeyPressed
  }
}

/// The lesson box drawn over the lower part of the screen during a lesson.
enum TourOverlay {
  /// `atTop`: over the upper part instead (the Derivation screen keeps its check, step 5, at the bottom).
  static func render(
    _ state: AppState, evaluation: Evaluation?, step: Int, into buf: inout Buffer, body: Rect,
    context ctx: RenderContext, atTop: Bool = false
  ) {
    guard let lesson = state.lesson, lesson.steps.indices.contains(step) else { return }
    let s = lesson.steps[step]
    let width = body.width
    let text = ctx.text(TextLine(s.text))
    var count = 0
    wrap(text, width: width - 4) { _ in count += 1 }
    var worked: [TextLine] = []
    if let q = state.question {
      if q.answered, let ev = evaluation {
        worked = WorkedAnswer.lines(q.quantity, ev, selection: state.selection).map { ctx.text(TextLine($0)) }
      } else if !q.answered {
        worked = [ctx.text("Type your answer for \(q.quantity.description), then Enter (N skips).")]
      }
      count += worked.count
    }
    var press: TextLine?
    if let name = s.pressName {
      press = ctx.text(state.lessonKeyPressed ? "✓ pressed \(name)" : "▸ press \(name) (the lesson waits for it)")
      count += 1
    }
    let height = Swift.min(body.height, count + 3)
    let r = Rect(x: body.x, y: atTop ? body.y : body.maxY - height, width: width, height: height)
    buf.fill(r, with: .blank)
    buf.box(
      r, title: "\(lesson.label) \(step + 1)/\(lesson.steps.count): \(s.title)", context: ctx, titleStyle: ctx.target)
    var out = PanelText(Rect(x: r.x + 2, y: r.y + 1, width: r.width - 3, height: r.height - 2))
    wrap(text, width: width - 4) { out.line($0, .plain, into: &buf) }
    if let press { out.line(press, state.lessonKeyPressed ? .plain : ctx.target, into: &buf) }
    for line in worked { out.line(line, ctx.target, into: &buf) }
    let nav = ctx.text(" N next · B back · q quit ")
    buf.write(nav, x: r.maxX - nav.scalarCount - 2, y: r.maxY - 1, style: ctx.muted, clip: r)
  }
}
