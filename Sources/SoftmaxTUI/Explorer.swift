import SoftmaxCore

/// The explorer as a running program sees it: the state plus a cache of the evaluation it renders.
///
/// `handle` maps an event through the key map and `update`; `render` draws the current state. The evaluation is
/// recomputed only when the problem changes, never for cursor moves or redraws. On the Stability lab with more than
/// ``Evaluation/wideLimit`` classes the full evaluation is not needed (the lab shows four lean columns, the problem's
/// own precision among them) and is computed when the explorer leaves the lab, or when something asks for it.
public struct Explorer: Sendable {
  public private(set) var state: AppState
  /// The full evaluation of the current problem, when it is up to date (see the type's documentation).
  private(set) var current: Evaluation?
  /// The same problem evaluated in every precision, for the Stability lab (computed when that screen is shown).
  public private(set) var comparison: PrecisionComparison?

  public init(problem: Problem) {
    state = AppState(problem: problem)
    current = Evaluation(problem)
  }

  public init(state: AppState) {
    self.state = state
    current = Evaluation(state.problem)
    refreshComparison()
  }

  /// The evaluation of the current problem (computed now if the Stability lab did without it).
  public var evaluation: Evaluation { current ?? Evaluation(state.problem) }

  /// Handles one event; returns false when the explorer should quit.
  @discardableResult
  public mutating func handle(_ event: Event) -> Bool {
    guard let action = KeyMap.action(for: event, in: state) else { return !state.quitRequested }
    perform(action)
    return !state.quitRequested
  }

  /// Applies one action and brings the cached evaluations up to date with the change it reports.
  public mutating func perform(_ action: Action) {
    if state.message != nil, action != .tick { state.message = nil }
    // Actions that need the evaluation (a gradient step) compute it themselves when it is not cached.
    let change = state.apply(action, current: current)
    follow(change)
  }

  /// Brings the evaluation and the Stability lab's columns up to date with `change` (see ``ProblemChange``): one
  /// logit or the settings are updated in the evaluations' own storage, anything else rebuilds what the screen shows.
  /// Either way every number is bit for bit a fresh evaluation's. Invariant: `current` and `comparison`, when not nil,
  /// are of ``state``'s problem.
  mutating func follow(_ change: ProblemChange) {
    if change != .none { reevaluate(change) }
    if state.screen != .stability, current == nil {
      // Above `wideLimit` the lab's lean columns go first, so that they and a full evaluation are never held together
      // (at 1,048,576 classes each is over 100 MB); the lab builds them again when it is shown.
      if state.problem.classes > Evaluation.wideLimit { comparison = nil }
      current = Evaluation(state.problem)
    }
    refreshComparison()
  }

  /// Recomputes for a changed problem: the evaluation, and on the Stability screen the other precisions' columns; above
  /// ``Evaluation/wideLimit`` classes the lab gets four lean columns (computed side by side from
  /// ``Evaluation/parallelThreshold`` classes) and no full evaluation.
  mutating func reevaluate(_ change: ProblemChange) {
    let problem = state.problem
    // Off the Stability lab the evaluation is recomputed in its own arrays (an edit allocates nothing).
    if state.screen != .stability, var evaluation = current.take() {
      comparison = nil  // the lab's columns are of the old problem: rebuilt when the lab is shown again
      switch change {
      case .none: break
      case .logit(let i): evaluation.update(logit: i, to: problem.logits[i])
      case .logits: evaluation.update(logits: problem.logits)
      case .settings: _ = evaluation.update(settingsOf: problem)
      case .problem:
        guard evaluation.update(to: problem) else {
          _ = consume evaluation  // let the old arrays go before the new ones are built
          current = Evaluation(problem)
          return
        }
      }
      current = evaluation
      return
    }
    // On the lab the columns follow the change in their own storage when they can: full evaluations up to
    // `wideLimit` classes (the explorer's own among them), lean columns above.
    if state.screen == .stability, var columns = comparison.take() {
      let small = PrecisionComparison.SmallChange(change)
      if let small, problem.classes <= Evaluation.wideLimit,
        columns.updateInPlace(small, to: problem, own: &current)
      {
        comparison = columns
        return
      }
      if problem.classes > Evaluation.wideLimit {
        // Let the old evaluation go before anything is built: at 131,072 classes it is ~14 MB.
        current = nil
        if let small, columns.updateLeanInPlace(small, to: problem) {
          comparison = columns
          return
        }
        // Anything else: rebuilt around the kept terms (one logit's column that no longer validates, the logits).
        columns.update(to: problem, change: change)
        comparison = columns
        return
      }
    }
    // Let the old arrays go before the new ones are built: at 131,072 classes an evaluation is ~14 MB.
    current = nil
    comparison = nil
    if state.screen == .stability {
      if problem.classes > Evaluation.wideLimit {
        comparison = PrecisionComparison(problem)
      } else {
        let (evaluation, columns) = PrecisionComparison.evaluate(problem)
        current = evaluation
        comparison = columns
      }
    } else {
      current = Evaluation(problem)
    }
  }

  /// Computes the per-precision columns when the Stability screen needs them and they are stale, and the reference
  /// losses when the loss section may be shown (first, or after the limits, and always up to
  /// ``Evaluation/wideLimit`` classes, where it can follow any section), so that a frame never computes them.
  mutating func refreshComparison() {
    guard state.screen == .stability else { return }
    if comparison == nil {
      if state.problem.classes > Evaluation.wideLimit {
        // Above `wideLimit` all four columns are lean, the own precision's too: the full evaluation goes first (as
        // `follow` drops the columns before building it), so that the two are never held together.
        current = nil
        comparison = PrecisionComparison(state.problem)
      } else {
        comparison = PrecisionComparison(state.problem, own: current)
      }
    }
    // Above that size the per-class sections fill the table, so the loss section shows only when it is first or
    // follows the limits (which have no per-class rows).
    let lossMayShow =
      state.stabilitySection == .loss || state.stabilitySection == .limits
      || state.problem.classes <= Evaluation.wideLimit
    if lossMayShow, comparison?.exactLosses == nil {
      comparison?.computeExactLosses()
    }
  }

  /// Replaces the state wholesale (the tour sets up each lesson this way).
  public mutating func setState(_ newState: AppState) {
    let change: ProblemChange = newState.problem == state.problem ? .none : .problem
    state = newState
    follow(change)
  }

  /// Renders the current state at `width × height`.
  public func render(into buf: inout Buffer, width: Int, height: Int, context: RenderContext) {
    Frame.render(
      state, evaluation: current, comparison: comparison, into: &buf, width: width, height: height, context: context)
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
