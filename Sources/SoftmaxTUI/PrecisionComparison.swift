import SoftmaxCore

/// One problem evaluated in float16, bfloat16, float32 and float64 side by side (the Stability lab's columns).
public struct PrecisionComparison: Sendable {
  /// The problem as given (in its own precision).
  public let problem: Problem
  /// In the order float16, bfloat16, float32, float64: the column, or why the precision cannot hold the input.
  public let columns: [(precision: Precision, result: Result<PrecisionColumn, InputError>)]

  public static let order: [Precision] = [.float16, .bfloat16, .float32, .float64]

  /// Per column: how many logits rounding into that precision changed, and the first one changed (if any).
  public let rounding: [(changed: Int, first: Int?)]

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

  private init(_ problem: Problem, _ results: [Result<PrecisionColumn, InputError>]) {
    self.problem = problem
    columns = zip(PrecisionComparison.order, results).map { ($0, $1) }
    rounding = results.map { result in
      guard case .success(let column) = result else { return (0, nil) }
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
