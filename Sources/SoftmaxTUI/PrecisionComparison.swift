import SoftmaxCore

/// One problem evaluated in float16, bfloat16, float32 and float64 side by side (the Stability lab's columns).
public struct PrecisionComparison: Sendable {
  /// The problem as given (in its own precision).
  public private(set) var problem: Problem
  /// In the order float16, bfloat16, float32, float64: the column, or why the precision cannot hold the input.
  public private(set) var columns: [(precision: Precision, result: Result<PrecisionColumn, InputError>)]

  public static let order: [Precision] = [.float16, .bfloat16, .float32, .float64]

  /// Per column: how many logits rounding into that precision changed, and the first one changed (if any).
  public private(set) var rounding: [(changed: Int, first: Int?)]

  /// The column of the problem's own precision.
  public var own: PrecisionColumn? {
    guard let column = columns.first(where: { $0.precision == problem.precision }) else { return nil }
    return try? column.result.get()
  }

  /// Per column, the loss of its rounded inputs in `Float80` (the reference of the loss section), once computed.
  public private(set) var exactLosses: [Double?]?

  /// The columns of `problem`; `own`, the explorer's evaluation of the same problem, serves as its own precision's
  /// column. The other columns are computed side by side from ``Evaluation/parallelThreshold`` classes.
  public init(_ problem: Problem, own: Evaluation? = nil) {
    let reuse = own.flatMap { $0.problem == problem ? $0 : nil }
    let large = problem.classes >= Evaluation.parallelThreshold
    let results = Parallel.map(PrecisionComparison.order.count, concurrently: large) {
      k -> Result<PrecisionColumn, InputError> in
      let precision = PrecisionComparison.order[k]
      if let reuse, precision == problem.precision { return .success(PrecisionColumn(reuse)) }
      return PrecisionColumn.validating(problem, in: precision)
    }
    self.init(problem, results)
  }

  /// Makes these the columns of `problem`, each column updated from the one it replaces (see
  /// ``PrecisionColumn/update(to:)``: when only some logits changed, only their exponentials are recomputed, in the
  /// old column's storage). `change` is what differs from ``problem``: after an edit of one logit only that logit is
  /// validated again in each precision. The columns are updated side by side from ``Evaluation/parallelThreshold``
  /// classes.
  public mutating func update(to problem: Problem, change: ProblemChange = .problem) {
    // Move the old columns out, so that each is held once and its storage can be reused.
    var old: [(precision: Precision, result: Result<PrecisionColumn, InputError>)] = []
    swap(&old, &columns)
    exactLosses = nil
    let slots = ColumnSlots(
      PrecisionComparison.order.map { precision in
        guard let k = old.firstIndex(where: { $0.precision == precision }) else { return nil }
        return old[k].result.take()
      })
    old = []
    let edits: [Int]? = if case .logit(let i) = change { [i] } else { nil }
    // The rounding counts carry over to the columns that had a result, adjusted at the edited logits.
    let previous = edits.map { edits in
      (given: self.problem.logits, counts: rounding, held: (0..<slots.count).map(slots.holds), edits: edits)
    }
    let large = problem.classes >= Evaluation.parallelThreshold
    let results = Parallel.map(PrecisionComparison.order.count, concurrently: large) {
      k -> Result<PrecisionColumn, InputError> in
      var column = slots.take(k)
      // Revalidated only at the edits when they allow it; otherwise validated whole, still updating the old column.
      if let edits, let old = column?.problem,
        let validated = PrecisionComparison.revalidated(old, from: problem, at: edits),
        var updated = column.take()
      {
        updated.update(to: validated)
        return .success(updated)
      }
      return PrecisionColumn.validating(problem, in: PrecisionComparison.order[k], updating: &column)
    }
    self = PrecisionComparison(problem, results, previous: previous)
  }

  /// Makes these the columns of `new`, up to ``Evaluation/wideLimit`` classes, when it differs from ``problem`` in
  /// one logit or in the target and knobs only, and every column stays valid: each column's evaluation is updated in
  /// its own arrays (``Evaluation/update(to:)``), and `own`, the explorer's evaluation, which is this comparison's
  /// column of the problem's own precision, with them; the reference losses, when computed, are recomputed. Nothing
  /// is allocated. Returns false, having changed nothing, otherwise.
  mutating func updateInPlace(_ change: SmallChange, to new: Problem, own: inout Evaluation?) -> Bool {
    let c = problem.classes
    guard c <= Evaluation.wideLimit, new.classes == c, new.precision == problem.precision,
      new.softTarget == problem.softTarget, own?.problem == problem
    else { return false }
    let edited = change.edited
    let settings = UndoEntry.Settings(new)
    // The column's problem with the new settings, validated in its precision, or nil when it cannot hold them.
    func withSettings(_ column: Problem) -> Problem? {
      var p = column
      settings.apply(to: &p)
      do throws(InputError) {
        try p.validateSettings()
      } catch {
        return nil
      }
      return p
    }
    // The edited logit validated in the column's precision, or nil when it cannot hold it.
    func editedLogit(_ column: Problem, _ i: Int) -> Double? { try? column.validatedLogit(new.logits[i], at: i) }
    // Every column must stay valid (a column that fails, or would, is rebuilt with the rest).
    for k in columns.indices {
      guard case .success(let column) = columns[k].result, column.isFull else { return false }
      if let i = edited {
        guard editedLogit(column.problem, i) != nil else { return false }
      } else {
        guard withSettings(column.problem) != nil else { return false }
      }
    }
    guard own != nil else { return false }
    for k in columns.indices {
      // The column is dropped first, so that its evaluation is held once.
      var evaluation: Evaluation
      if columns[k].precision == problem.precision {
        _ = columns[k].result.take()
        guard let taken = own.take() else { preconditionFailure("checked above") }
        evaluation = taken
      } else {
        guard let taken = columns[k].result.take()?.takeEvaluation() else { preconditionFailure("checked above") }
        evaluation = taken
      }
      if let i = edited, let x = editedLogit(evaluation.problem, i) {
        evaluation.update(logit: i, to: x)
        rounding[k] = PrecisionComparison.updatedCount(
          rounding[k], given: new.logits, rounded: evaluation.problem.logits, before: problem.logits,
          at: CollectionOfOne(i), precision: evaluation.problem.precision)
      } else if let p = withSettings(evaluation.problem) {
        _ = evaluation.update(settingsOf: p)
      }
      columns[k].result = .success(PrecisionColumn(evaluation))
      if columns[k].precision == problem.precision { own = evaluation }
    }
    adopt(new, edited: edited)
    if var losses = exactLosses.take() {
      for k in columns.indices {
        guard k < losses.count, case .success(let column) = columns[k].result else { continue }
        losses[k] = StabilityView.exactLoss(column.problem)
      }
      exactLosses = losses
    }
    return true
  }

  /// Makes these the columns of `new`, above ``Evaluation/wideLimit`` classes, when it differs from ``problem`` in one
  /// logit only and every column stays valid: each lean column is updated in its own storage
  /// (``PrecisionColumn/update(logit:to:)``), two on each of two threads, and so are the rounding counts and, when
  /// computed, the reference losses. Nothing is allocated. Returns false, having changed nothing, otherwise.
  mutating func updateLeanInPlace(_ change: SmallChange, to new: Problem) -> Bool {
    let c = problem.classes
    guard c > Evaluation.wideLimit, new.classes == c, new.precision == problem.precision,
      new.softTarget == problem.softTarget, columns.count == 4
    else { return false }
    let edited = change.edited
    let settings = UndoEntry.Settings(new)
    // Every column must be lean and stay valid.
    var values = SIMD4<Double>()
    for k in 0..<4 {
      guard case .success(let column) = columns[k].result, column.isLean else { return false }
      if let i = edited {
        guard let x = try? column.problem.validatedLogit(new.logits[i], at: i) else { return false }
        values[k] = x
      } else {
        var p = column.problem
        settings.apply(to: &p)
        do throws(InputError) {
          try p.validateSettings()
        } catch {
          return false
        }
      }
    }
    // float16 (the slowest) with float64 on one thread, bfloat16 with float32 on the other.
    let withLosses = exactLosses != nil
    func pair(_ a: Int, _ b: Int) -> ColumnPair {
      guard let first = columns[a].result.take(), let second = columns[b].result.take() else {
        preconditionFailure("checked above")
      }
      let change: ColumnPair.Change =
        edited.map { .logit($0, values[a], values[b]) } ?? .settings(settings)
      return ColumnPair(first: first, second: second, change: change, exactLosses: withLosses)
    }
    var one = pair(0, 3)
    var two = pair(1, 2)
    Parallel.both(&one, &two, concurrently: true)
    put(one.first.take(), one.losses.0, at: 0, edited: edited, new: new)
    put(one.second.take(), one.losses.1, at: 3, edited: edited, new: new)
    put(two.first.take(), two.losses.0, at: 1, edited: edited, new: new)
    put(two.second.take(), two.losses.1, at: 2, edited: edited, new: new)
    adopt(new, edited: edited)
    return true
  }

  /// Makes `new` this comparison's problem after an update in place of logit `edited` (or of the settings), keeping
  /// its own copy of the given logits (sharing the explorer's would make the explorer's next edit copy them).
  private mutating func adopt(_ new: Problem, edited: Int?) {
    if let i = edited {
      problem.logits[i] = new.logits[i]
    } else {
      var logits: [Double] = []
      swap(&logits, &problem.logits)
      problem = new
      problem.logits = logits
    }
  }

  /// Puts an updated column back at `k`, with its rounding count and reference loss.
  private mutating func put(_ column: PrecisionColumn?, _ loss: Double?, at k: Int, edited: Int?, new: Problem) {
    guard let column else { preconditionFailure("the pair holds both columns") }
    if let i = edited {
      rounding[k] = PrecisionComparison.updatedCount(
        rounding[k], given: new.logits, rounded: column.problem.logits, before: problem.logits,
        at: CollectionOfOne(i), precision: column.problem.precision)
    }
    columns[k].result = .success(column)
    if exactLosses != nil { exactLosses?[k] = loss }
  }

  /// A change an update in place can follow.
  enum SmallChange {
    /// Logit `i` alone.
    case logit(Int)
    /// The target and knobs alone.
    case settings

    /// The small change `change` is, or nil when it is more.
    init?(_ change: ProblemChange) {
      switch change {
      case .logit(let i): self = .logit(i)
      case .settings: self = .settings
      case .none, .logits, .problem: return nil
      }
    }

    /// The edited logit, if any.
    var edited: Int? {
      if case .logit(let i) = self { return i }
      return nil
    }
  }

  /// A column's rounding count after the given logits changed at `edits` only. A validated logit is
  /// `precision.round` of the given one, so the logits that did not change keep their status; the first rounded
  /// logit is searched for again only when it was edited and no longer rounds.
  static func updatedCount(
    _ count: (changed: Int, first: Int?), given: [Double], rounded: [Double], before: [Double],
    at edits: some Collection<Int>, precision: Precision
  ) -> (changed: Int, first: Int?) {
    var (changed, first) = count
    var lostFirst = false
    for i in edits {
      let was = precision.round(before[i]) != before[i]
      let now = rounded[i] != given[i]
      changed += (now ? 1 : 0) - (was ? 1 : 0)
      if now, i < (first ?? Int.max) { first = i }
      if !now, i == first { lostFirst = true }
    }
    if lostFirst {
      first = nil
      for i in given.indices where rounded[i] != given[i] {
        first = i
        break
      }
    }
    return (changed, first)
  }

  /// `new` validated in `validated`'s precision, when `validated` is the validated form of a problem that differs
  /// from `new` only in the logits at `edits`: `validated` with those logits rounded again, as
  /// ``Problem/validated()`` rounds them. `nil` when an edited logit is not finite in the precision (or its `x/τ` is
  /// not): a masked class or an error, which the full validation handles.
  static func revalidated(_ validated: Problem, from new: Problem, at edits: [Int]) -> Problem? {
    guard validated.classes == new.classes else { return nil }
    var p = validated
    let precision = validated.precision
    for i in edits {
      let x = precision.round(new.logits[i])
      guard x.isFinite, p.temperature == 1 || precision.round(x / p.temperature).isFinite else { return nil }
      p.logits[i] = x
    }
    return p
  }

  /// `previous`: the given logits, rounding counts and which columns had a result before an edit of the logits at
  /// `edits` (nothing else changed), to update the counts instead of comparing every logit again.
  private init(
    _ problem: Problem, _ results: [Result<PrecisionColumn, InputError>],
    previous: (given: [Double], counts: [(changed: Int, first: Int?)], held: [Bool], edits: [Int])? = nil
  ) {
    self.problem = problem
    columns = zip(PrecisionComparison.order, results).map { ($0, $1) }
    rounding = results.indices.map { k in
      guard case .success(let column) = results[k] else { return (0, nil) }
      if let previous, previous.held[k] {
        return PrecisionComparison.updatedCount(
          previous.counts[k], given: problem.logits, rounded: column.problem.logits, before: previous.given,
          at: previous.edits, precision: column.problem.precision)
      }
      var changed = 0
      var first: Int?
      let given = problem.logits
      let rounded = column.problem.logits
      for i in given.indices where rounded[i] != given[i] {
        changed += 1
        if first == nil { first = i }
      }
      return (changed, first)
    }
  }

  /// The evaluation of `problem` and the Stability lab's columns (the explorer uses it up to ``Evaluation/wideLimit``
  /// classes, where the jobs are small and run one after the other): the evaluation's two jobs and the other three
  /// precisions' columns; the own precision's column is read off the evaluation.
  public static func evaluate(_ problem: Problem) -> (Evaluation, PrecisionComparison) {
    let others = order.filter { $0 != problem.precision }
    let (evaluation, columns) = Evaluation.withColumns(problem, precisions: others)
    var rest = columns[...]
    let results = order.map { precision in
      precision == problem.precision ? .success(PrecisionColumn(evaluation)) : rest.removeFirst()
    }
    return (evaluation, PrecisionComparison(problem, results))
  }

  /// Computes the reference loss of every column (one `Float80` pass each, side by side for large vectors).
  public mutating func computeExactLosses() {
    let columns = self.columns
    exactLosses = Parallel.map(columns.count, concurrently: problem.classes >= Evaluation.parallelThreshold) {
      k -> Double? in
      guard case .success(let column) = columns[k].result else { return nil }
      return StabilityView.exactLoss(column.problem)
    }
  }
}

extension Result where Success == PrecisionColumn, Failure == InputError {
  /// The column, leaving a failure in its place (so that the caller holds the only reference to its storage).
  fileprivate mutating func take() -> PrecisionColumn? {
    guard case .success(let column) = self else { return nil }
    self = .failure(InputError(""))
    return column
  }
}

/// Two lean columns updated one after the other at the same logit (a job for ``Parallel/both(_:_:concurrently:)``).
private struct ColumnPair: ParallelJob {
  enum Change {
    /// Logit `index` becomes the first value in the first column, the second in the second.
    case logit(Int, Double, Double)
    /// The target and knobs (validated in each column's precision by the column).
    case settings(UndoEntry.Settings)
  }
  var first: PrecisionColumn?
  var second: PrecisionColumn?
  let change: Change
  let exactLosses: Bool
  var losses: (Double?, Double?) = (nil, nil)

  mutating func run() {
    switch change {
    case .logit(let i, let x, let y):
      _ = first?.update(logit: i, to: x)
      _ = second?.update(logit: i, to: y)
    case .settings(let settings):
      ColumnPair.apply(settings, to: &first)
      ColumnPair.apply(settings, to: &second)
    }
    if exactLosses, let first, let second {
      losses = (StabilityView.exactLoss(first.problem), StabilityView.exactLoss(second.problem))
    }
  }
}

extension ColumnPair {
  /// The column with `settings`, validated in its precision (checked before the job started).
  static func apply(_ settings: UndoEntry.Settings, to column: inout PrecisionColumn?) {
    guard var p = column?.problem else { return }
    settings.apply(to: &p)
    do throws(InputError) {
      try p.validateSettings()
      _ = column?.update(settingsOf: p)
    } catch {
      preconditionFailure("checked before the job: \(error.message)")
    }
  }
}

/// Old columns handed to the jobs of an update: job `k` takes slot `k` once, and no two jobs touch the same slot.
private final class ColumnSlots: @unchecked Sendable {
  private let storage: UnsafeMutableBufferPointer<PrecisionColumn?>

  init(_ columns: [PrecisionColumn?]) {
    storage = .allocate(capacity: columns.count)
    _ = storage.initialize(from: columns)
  }

  deinit {
    storage.deinitialize()
    storage.deallocate()
  }

  /// Slot `k`'s column, moved out (the slot is left empty).
  func take(_ k: Int) -> PrecisionColumn? { storage[k].take() }

  var count: Int { storage.count }

  /// Whether slot `k` holds a column (read before the jobs start).
  func holds(_ k: Int) -> Bool { storage[k] != nil }
}
