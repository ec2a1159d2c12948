import SoftmaxCore

/// The explorer as a running program sees it: the state plus a cache of the evaluation it renders.
///
/// `handle` maps an event through the key map and `update`; `render` draws the current state. The evaluation is
/// recomputed only when the problem changes, never for cursor moves or redraws.
public struct Explorer: Sendable {
  public private(set) var state: AppState
  public private(set) var evaluation: Evaluation
  /// The same problem evaluated in every precision, for the Stability lab (computed when that screen is shown).
  public private(set) var comparison: PrecisionComparison?

  public init(problem: Problem) {
    state = AppState(problem: problem)
    evaluation = Evaluation(problem)
  }

  public init(state: AppState) {
    self.state = state
    evaluation = Evaluation(state.problem)
    refreshComparison()
  }

  /// Handles one event; returns false when the explorer should quit.
  @discardableResult
  public mutating func handle(_ event: Event) -> Bool {
    guard let action = KeyMap.action(for: event, in: state) else { return !state.quitRequested }
    perform(action)
    return !state.quitRequested
  }

  /// Applies one action and refreshes the cached evaluation if the problem changed.
  public mutating func perform(_ action: Action) {
    let before = state.problem
    if state.message != nil, action != .tick { state.message = nil }
    state.apply(action, current: evaluation)
    if state.problem != before { evaluation = Evaluation(state.problem) }
    refreshComparison()
  }

  /// Computes the per-precision evaluations when the Stability screen needs them and they are stale.
  mutating func refreshComparison() {
    guard state.screen == .stability else { return }
    if comparison?.problem != state.problem { comparison = PrecisionComparison(state.problem) }
  }

  /// Replaces the state wholesale (the tour sets up each lesson this way).
  public mutating func setState(_ newState: AppState) {
    let changed = newState.problem != state.problem
    state = newState
    if changed { evaluation = Evaluation(state.problem) }
    refreshComparison()
  }

  /// Renders the current state at `width × height`.
  public func render(into buf: inout Buffer, width: Int, height: Int, context: RenderContext) {
    Frame.render(
      state, evaluation, comparison: comparison, into: &buf, width: width, height: height, context: context)
  }

  /// How often the run loop should send `.tick` (while descent runs), in milliseconds.
  public var tickMilliseconds: Int? {
    state.screen == .descent && state.descent.running ? Int(1000 / state.descent.rate) : nil
  }

  /// Marks an export request as handled, with the message to show.
  public mutating func finishExport(_ message: StatusMessage) {
    state.exportRequested = false
    state.message = message
  }
}

/// One problem evaluated in float16, bfloat16, float32 and float64 side by side (the Stability lab's columns).
public struct PrecisionComparison: Sendable {
  /// The problem as given (in its own precision).
  public let problem: Problem
  /// In the order float16, bfloat16, float32, float64: the evaluation, or why the precision cannot hold the input.
  public let columns: [(precision: Precision, result: Result<Evaluation, InputError>)]

  public static let order: [Precision] = [.float16, .bfloat16, .float32, .float64]

  /// Per column: how many logits rounding into that precision changed, and the first one changed (if any).
  public let rounding: [(changed: Int, first: Int?)]

  public init(_ problem: Problem) {
    self.problem = problem
    var result: [(precision: Precision, result: Result<Evaluation, InputError>)] = []
    for precision in PrecisionComparison.order {
      var p = problem
      p.precision = precision
      do throws(InputError) {
        result.append((precision, .success(Evaluation(try p.validated()))))
      } catch {
        result.append((precision, .failure(error)))
      }
    }
    columns = result
    rounding = result.map { column in
      guard case .success(let ev) = column.result else { return (0, nil) }
      var changed = 0
      var first: Int?
      for (i, x) in problem.logits.enumerated() where ev.problem.logits[i] != x {
        changed += 1
        if first == nil { first = i }
      }
      return (changed, first)
    }
  }
}
