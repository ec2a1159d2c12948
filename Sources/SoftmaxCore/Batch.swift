import RealModule

/// How a batch's per-row losses are combined: PyTorch's `reduction`.
public enum Reduction: String, Sendable, CaseIterable {
  /// No combination: the loss is the N per-row losses (and `upstream` gives each row's `∂l/∂c_b`).
  case none
  /// `Σ_b l_b / D`, with `D = Σ_{b not ignored} w_{T_b}` (the count of rows not ignored when there are no weights).
  case mean
  /// `Σ_b l_b`.
  case sum
}

/// A batch of N rows of C logits with a class index per row, and the options of PyTorch's
/// `torch.nn.functional.cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)`.
///
/// Row `b`'s loss, with weights `w` (all 1 when none are given) and smoothing `ε`:
/// `l_b = (1 − ε) w_{T_b} (−log s_{b,T_b}) + (ε/C) Σ_c w_c (−log s_{b,c})`, which is the cross-entropy
/// `Σ_c ŷ_c (LSE(x_b) − x_{b,c})` with the (unnormalised) target `ŷ_c = (1 − ε) w_{T_b} δ_{c T_b} + (ε/C) w_c`;
/// a row whose target is the ignore index has loss 0 and gradient 0. Its gradient is
/// `∂l_b/∂x_{b,n} = s_{b,n} Σ_c ŷ_c − ŷ_n`, scaled by `1/D` for `mean` and by `g_b` for `none` with upstream
/// gradients (the gradient of `Σ_b g_b l_b`).
public struct BatchProblem: Sendable, Equatable {
  /// The logits, row by row (`rows × classes` values).
  public var logits: [Double]
  public var rows: Int
  public var classes: Int
  /// One class index per row (or the ignore index).
  public var targets: [Int]
  /// One weight per class (nil: every weight 1).
  public var weights: [Double]?
  /// `∂l/∂c_b` per row (only with ``Reduction/none``; nil: every one 1).
  public var upstream: [Double]?
  public var reduction: Reduction
  /// A target equal to this marks a row that is left out (PyTorch's default is −100).
  public var ignoreIndex: Int
  public var labelSmoothing: Double
  public var precision: Precision

  public init(
    logits: [Double], rows: Int, classes: Int, targets: [Int], weights: [Double]? = nil, upstream: [Double]? = nil,
    reduction: Reduction = .mean, ignoreIndex: Int = -100, labelSmoothing: Double = 0,
    precision: Precision = .float64
  ) {
    (self.logits, self.rows, self.classes, self.targets) = (logits, rows, classes, targets)
    (self.weights, self.upstream, self.reduction) = (weights, upstream, reduction)
    (self.ignoreIndex, self.labelSmoothing, self.precision) = (ignoreIndex, labelSmoothing, precision)
  }

  /// Whether row `b` is left out.
  public func isIgnored(_ b: Int) -> Bool { targets[b] == ignoreIndex }

  /// The rows left out.
  public var ignored: [Int] { targets.indices.filter(isIgnored) }

  /// This batch with every value rounded into the precision, or one line naming the first thing that is wrong (the
  /// row, class or file value, and why): a shape that does not match, a target out of range that is not the ignore
  /// index, a value that is not a number or does not fit the precision, upstream gradients without `none`. The error
  /// says which input it is about, so that a caller can name the file it came from.
  public func validated() throws(Invalid) -> BatchProblem {
    var p = self
    guard rows >= 1 else { throw Invalid(.shape, "the batch is empty: give at least one row") }
    guard classes >= 1 else { throw Invalid(.shape, "a row has no logits: give at least one class") }
    guard classes <= NumberListParser.maximumCount else {
      throw Invalid(.shape, "\(classes) classes is more than the \(NumberListParser.maximumCount) allowed")
    }
    guard logits.count == rows * classes else {
      throw Invalid(.shape, "\(logits.count) logits do not make \(rows) rows of \(classes) classes")
    }
    guard targets.count == rows else {
      throw Invalid(.targets, "\(targets.count) targets for \(rows) rows: give one class index per row")
    }
    for (b, t) in targets.enumerated() where t != ignoreIndex && !(0..<classes).contains(t) {
      throw Invalid(
        .targets,
        "row \(b): target \(t) is not a class (0…\(classes - 1)) and not the ignore index \(ignoreIndex)")
    }
    guard labelSmoothing.isFinite, (0...1).contains(labelSmoothing) else {
      throw Invalid(.labelSmoothing, "label smoothing \(labelSmoothing) is not in [0, 1]")
    }
    p.labelSmoothing = precision.round(labelSmoothing)
    if let w = weights {
      guard w.count == classes else {
        throw Invalid(.weights, "\(w.count) class weights for \(classes) classes: give one weight per class")
      }
      p.weights = try w.enumerated().map { (c, v) throws(Invalid) in
        let r = precision.round(v)
        guard v.isFinite, r.isFinite, v >= 0 else {
          throw Invalid(.weights, "the weight of class \(c) is \(v): weights must be finite and not negative")
        }
        return r
      }
    }
    if let g = upstream {
      guard reduction == .none else {
        throw Invalid(.upstream, "upstream gradients need --reduction none (with mean or sum the loss is one number)")
      }
      guard g.count == rows else { throw Invalid(.upstream, "\(g.count) upstream gradients for \(rows) rows") }
      p.upstream = try g.enumerated().map { (b, v) throws(Invalid) in
        let r = precision.round(v)
        guard v.isFinite, r.isFinite else {
          throw Invalid(.upstream, "row \(b): the upstream gradient \(v) is not finite in \(precision.rawValue)")
        }
        return r
      }
    }
    // Each logit as the single-vector path checks it (rounded into the precision; −inf masks a class, but not all
    // of a row's).
    for b in 0..<rows {
      var unmasked = false
      for c in 0..<classes {
        let k = b * classes + c
        do throws(InputError) {
          p.logits[k] = try Problem.checkLogit(logits[k], index: c, precision: precision)
        } catch {
          throw Invalid(.logits, "row \(b): \(error.message)")
        }
        if p.logits[k] != -.infinity { unmasked = true }
      }
      if !unmasked {
        throw Invalid(.logits, "row \(b): every logit is -inf (masked): at least one class must be unmasked")
      }
    }
    return p
  }

  /// Why a batch was refused, and which of its inputs the reason is about.
  public struct Invalid: Error, Sendable {
    public enum Field: Sendable { case shape, logits, targets, weights, upstream, labelSmoothing }
    public var field: Field
    public var message: String
    init(_ field: Field, _ message: String) {
      self.field = field
      self.message = message
    }
  }
}

/// A batch evaluated row by row with the engine's trusted pass (the single-vector path's max-subtracted softmax and
/// compensated sums, in a wider format), the loss and gradient of each row computed there and rounded once into the
/// precision, and the reduction summed in that wider format.
public struct BatchEvaluation: Sendable {
  /// The validated batch.
  public let problem: BatchProblem
  /// `l_b` per row (0 for an ignored row).
  public let rowLoss: [Double]
  /// The reduced loss (`mean` or `sum`); for `none`, NaN (the loss is ``rowLoss``).
  public let loss: Double
  /// `s_{b,c}`, row by row.
  public let softmax: [Double]
  /// The gradient of the reduced loss (of `Σ_b g_b l_b` for `none`), row by row.
  public let gradient: [Double]
  /// The rows left out.
  public let ignored: [Int]
  /// The divisor of `mean`: `Σ_{b not ignored} w_{T_b}` (or their count); 1 for `sum` and `none`.
  public let divisor: Double

  /// Evaluates `problem` (call ``BatchProblem/validated()`` first). Rows are computed side by side on two threads
  /// when the batch is large.
  public init(_ problem: BatchProblem) {
    struct Run: PrecisionBody {
      let problem: BatchProblem
      func callAsFunction<T: PrecisionScalar>(_: T.Type) -> BatchEvaluation {
        problem.classes <= Evaluation.wideLimit
          ? BatchEvaluation(problem, T.self, T.Wide.self) : BatchEvaluation(problem, T.self, Double.self)
      }
    }
    self = problem.precision.open(Run(problem: problem))
  }

  private init<T: PrecisionScalar, W: WideScalar>(_ p: BatchProblem, _: T.Type, _: W.Type) {
    let (n, c) = (p.rows, p.classes)
    // The divisor of `mean`, exact: a compensated sum of at most N weights in the wide format.
    var divisorSum = CompensatedSum<W>()
    for b in 0..<n where !p.isIgnored(b) { divisorSum.add(p.weights.map { W(rounding: $0[p.targets[b]]) } ?? 1) }
    let divisor: W = p.reduction == .mean ? divisorSum.value : 1
    let spec = BatchRow.Spec(
      weights: p.weights ?? [Double](repeating: 1, count: c), weighted: p.weights != nil,
      smoothing: p.labelSmoothing, divisor: DoubleDouble(divisor))
    // Rows in two halves on two threads when there is enough work, each writing its rows of the outputs in place.
    let parts = n * c >= 1 << 16 && n >= 2 ? 2 : 1
    let out = BatchOutput(rows: n, classes: c)
    _ = Parallel.map(parts, concurrently: parts > 1) { k in
      BatchPart.run(p, rows: (k * n / parts)..<((k + 1) * n / parts), spec: spec, into: out, T.self, W.self)
    }
    var rowLoss = [Double](repeating: 0, count: n)
    var total = CompensatedSum<W>()
    for b in 0..<n {
      let l = out.loss[b]
      rowLoss[b] = T(converting: W(rounding: l.high) + W(rounding: l.low)).double
      total.add(W(rounding: l.high))
      total.add(W(rounding: l.low))
    }
    self.problem = p
    self.rowLoss = rowLoss
    (softmax, gradient) = out.take()
    ignored = (0..<n).filter(p.isIgnored)
    self.divisor = divisor.double
    switch p.reduction {
    case .none: loss = .nan
    case .sum: loss = T(converting: total.value).double
    case .mean: loss = T(converting: total.value / divisor).double
    }
  }
}

/// A wide value carried as two `Double`s (`high + low`, exact for `Float80`), so that it crosses a generic boundary
/// whose format is only known on the other side without a rounding.
struct DoubleDouble: Sendable {
  var high: Double = 0
  var low: Double = 0

  init() {}
  init<W: SoftmaxScalar>(_ v: W) {
    high = v.double
    low = high.isFinite ? (v - W(rounding: high)).double : 0
  }
  func value<W: SoftmaxScalar>(_: W.Type) -> W { W(rounding: high) + W(rounding: low) }
}

/// The outputs of a batch, written by the threads of ``BatchPart`` at disjoint rows (so shared without a lock).
private final class BatchOutput: @unchecked Sendable {
  let classes: Int
  var loss: [DoubleDouble]
  private var softmax: [Double]
  private var gradient: [Double]
  private let lossBase: UnsafeMutablePointer<DoubleDouble>
  private let softmaxBase: UnsafeMutablePointer<Double>
  private let gradientBase: UnsafeMutablePointer<Double>

  init(rows: Int, classes: Int) {
    self.classes = classes
    loss = [DoubleDouble](repeating: DoubleDouble(), count: rows)
    softmax = [Double](repeating: 0, count: rows * classes)
    gradient = [Double](repeating: 0, count: rows * classes)
    // The arrays are unique and never resized while the threads write: their storage stays where it is.
    lossBase = loss.withUnsafeMutableBufferPointer { $0.baseAddress! }
    softmaxBase = softmax.withUnsafeMutableBufferPointer { $0.baseAddress! }
    gradientBase = gradient.withUnsafeMutableBufferPointer { $0.baseAddress! }
  }

  /// Row `b`'s loss and its softmax and gradient rows.
  func write(row b: Int, loss l: DoubleDouble, softmax s: [Double], gradient g: [Double]) {
    lossBase[b] = l
    for j in 0..<classes {
      softmaxBase[b * classes + j] = s[j]
      gradientBase[b * classes + j] = g[j]
    }
  }

  /// The softmax and gradient arrays, moved out.
  func take() -> ([Double], [Double]) {
    var s: [Double] = []
    var g: [Double] = []
    swap(&s, &softmax)
    swap(&g, &gradient)
    return (s, g)
  }
}

/// A range of rows evaluated on one thread.
private enum BatchPart {
  static func run<T: PrecisionScalar, W: WideScalar>(
    _ p: BatchProblem, rows: Range<Int>, spec: BatchRow.Spec, into out: BatchOutput, _: T.Type, _: W.Type
  ) {
    let c = p.classes
    var memory = TrustedMemory<W>()
    var record = BatchRow()
    record.spec = spec
    // One row's logits, written over for each row (the pass's problem shares it and lets it go before the next).
    var row = [Double](repeating: 0, count: c)
    for b in rows {
      for j in 0..<c { row[j] = p.logits[b * c + j] }
      record.target = p.isIgnored(b) ? nil : p.targets[b]
      record.upstream = p.upstream?[b] ?? 1
      // The single-vector path's trusted pass over the row, every term computed afresh.
      var pass = TrustedPass<T, W, BatchRow>(
        problem: Problem(logits: row, target: record.target ?? 0, precision: p.precision), changes: [],
        everything: true, memory: take(&memory), record: take(&record))
      pass.run()
      memory = take(&pass.memory)
      record = take(&pass.record)
      _ = consume pass
      out.write(row: b, loss: record.loss, softmax: record.softmax, gradient: record.gradient)
    }
  }
}

/// The trusted pass's record for one row of a batch: the softmax, the row's loss with the weighted, smoothed target
/// (in the pass's wide format) and its scaled gradient, each rounded once into the precision.
struct BatchRow: TrustedRecord {
  /// What every row shares (values of the precision, and the divisor in the wide format).
  struct Spec: Sendable {
    var weights: [Double] = []
    var weighted = false
    var smoothing: Double = 0
    var divisor = DoubleDouble()
  }
  var spec = Spec()
  /// The row's target (nil: ignored) and its `∂l/∂c_b`.
  var target: Int?
  var upstream: Double = 1
  var loss = DoubleDouble()
  var softmax: [Double] = []
  var gradient: [Double] = []

  init() {}

  mutating func prepare(count: Int) {
    if softmax.count != count {
      softmax = [Double](repeating: 0, count: count)
      gradient = [Double](repeating: 0, count: count)
    }
  }

  func term<T: SoftmaxScalar, W: SoftmaxScalar>(_ i: Int, shifted: W, exp: W, _: T.Type) {}

  mutating func finish<T: SoftmaxScalar, W: WideScalar>(
    _ sums: Engine.Sums<W>, memory: inout TrustedMemory<W>, problem: Problem, logits: UnsafeBufferPointer<Double>,
    _: T.Type
  ) {
    let c = logits.count
    if memory.probabilities.count != c { memory.probabilities = [W](repeating: 0, count: c) }
    for i in 0..<c {
      let s = sums.sum.divide(memory.exps[i])
      memory.probabilities[i] = s
      softmax[i] = T(converting: s).double
    }
    guard let t = target else {
      loss = DoubleDouble()
      for i in 0..<c { gradient[i] = 0 }
      return
    }
    // ŷ_j = (1 − ε) w_T δ_jT + (ε/C) w_j, and Y = Σ_j ŷ_j = (1 − ε) w_T + (ε/C) Σ_j w_j. Without weights ŷ is the
    // single-vector path's smoothed target operation for operation (`TargetEntries`), and Y is 1.
    let eps = W(rounding: spec.smoothing)
    let share = eps / W(c)
    let wT = W(rounding: spec.weights[t])
    let top = spec.weighted ? (1 - eps) * wT : 1 - eps
    @inline(__always) func yHat(_ j: Int) -> W {
      spec.weighted ? (j == t ? top : 0) + share * W(rounding: spec.weights[j]) : (j == t ? top + share : share)
    }
    var mass: W = 1
    if spec.weighted {
      var weightSum = CompensatedSum<W>()
      for j in 0..<c { weightSum.add(W(rounding: spec.weights[j])) }
      mass = top + share * weightSum.value
    }
    // `CrossEntropy.stableLoss` with ŷ: Σ_j ŷ_j (M − z_j) + (Σ_j ŷ_j) log(1 + rest), compensated.
    var stable = StableLossSum<W>()
    for j in 0..<c {
      let y = yHat(j)
      if y != 0 { stable.add(y, max: sums.max, z: W(rounding: logits[j])) }
    }
    loss = DoubleDouble(stable.loss(logSum: sums.logSum))
    // ∂l_b/∂x_n = (g_b/D)·Y·(s_n − ŷ_n/Y), the difference taken without cancellation where ŷ_n/Y ≥ 1/2.
    let scale = W(rounding: upstream) / spec.divisor.value(W.self) * mass
    memory.probabilities.withUnsafeBufferPointer { probs in
      for j in 0..<c {
        let q = mass == 0 ? 0 : (spec.weighted ? yHat(j) / mass : yHat(j))
        gradient[j] = T(converting: scale * CrossEntropy.difference(probs, q, at: j)).double
      }
    }
  }
}
