import RealModule

/// One precision's account of a problem, for comparing precisions: naive, max-subtracted and online softmax value by
/// value, their sums and maxima, the three losses and the overflow report.
///
/// Up to ``Evaluation/wideLimit`` classes a column is a full ``Evaluation``. Above that it is *lean*: one pass keeps
/// only the scalars (sums, maxima, losses, the overflow report) and every ``checkpointStride``-th state of the online
/// recurrence, and a per-class value is recomputed when it is asked for, by the same operations in the same order as
/// ``Evaluation`` — so the numbers are identical, without the dozen `C`-long arrays a full evaluation keeps
/// (131,072 classes: about 1 MB for the rounded logits instead of ~14 MB per precision). A lean column also keeps its
/// three exponentials per class (2–3 MB at that size), so that ``update(to:)`` after an edit of a few logits
/// recomputes only the exponentials the edit affects.
public struct PrecisionColumn: Sendable {
  /// The problem validated in this column's precision (logits rounded into it).
  public private(set) var problem: Problem
  /// How naive softmax fares in this precision.
  public private(set) var overflow: OverflowReport
  /// Naive `σ = Σ e^{z_j}`, summed left to right in the precision.
  public private(set) var naiveSum: Double
  /// `M = max z` of the max-subtracted softmax.
  public private(set) var stableMax: Double
  /// `Σ e^{z_j − M}`.
  public private(set) var stableSum: Double
  /// The stable loss (log-sum-exp form).
  public private(set) var loss: Double
  /// `−Σ y_i log s_i` with the naive softmax.
  public private(set) var lossNaive: Double
  /// `−Σ y_i log s_i` with the max-subtracted softmax.
  public private(set) var lossFromStableSoftmax: Double

  private(set) var storage: Storage
  /// A lean column's engine memory: the exponentials and saved states of its passes, kept for its next update and
  /// its running values (`nil` for a full evaluation).
  private(set) var memory: EngineMemory?
  /// Whether this column was updated from the previous one's terms rather than computed afresh (tests).
  private(set) var isUpdate = false

  enum Storage: Sendable {
    case full(Evaluation)
    case lean(Lean)
  }

  /// The scalars a lean column keeps (its trusted path is in `Double`, as ``Evaluation``'s is above its limit).
  struct Lean: Sendable {
    /// Naive `σ` (a value of the precision).
    var naiveSum: Double
    /// `M` and the compensated `Σ e^{z_j − M}` in `Double`.
    var max: Double
    var sumHigh: Double
    var sumLow: Double
    /// Final `m_C`, `d_C` of the online recurrence.
    var onlineMax: Double
    var onlineSum: Double
  }

  /// Elements between two saved states of the online recurrence: a running value costs at most this many steps.
  public static var checkpointStride: Int { Engine.stride }

  /// A column read off a full evaluation (the problem's own precision, or small problems).
  public init(_ evaluation: Evaluation) {
    problem = evaluation.problem
    overflow = evaluation.overflow
    naiveSum = evaluation.naive.sum
    stableMax = evaluation.stable.max
    stableSum = evaluation.stable.sum
    loss = evaluation.loss
    lossNaive = evaluation.lossNaive
    lossFromStableSoftmax = evaluation.lossFromStableSoftmax
    storage = .full(evaluation)
    memory = nil
  }

  /// Whether this column is a full ``Evaluation`` (not lean).
  public var isFull: Bool {
    if case .full = storage { return true }
    return false
  }

  /// Whether the per-class values are recomputed on demand.
  public var isLean: Bool {
    if case .lean = storage { return true }
    return false
  }

  /// The full evaluation behind this column (nil for a lean column), handed over: the column is used up, so that the
  /// evaluation is held once and ``Evaluation/update(to:)`` can work in its arrays.
  public consuming func takeEvaluation() -> Evaluation? {
    guard case .full(let evaluation) = storage else { return nil }
    return evaluation
  }

  /// The column of a problem validated in its precision: a full evaluation up to ``Evaluation/wideLimit`` classes,
  /// lean above.
  public init(_ problem: Problem) {
    if problem.classes <= Evaluation.wideLimit {
      self.init(Evaluation(problem))
    } else {
      self.init(lean: problem)
    }
  }

  /// `problem` validated in `precision` and its column, or why that precision cannot hold it.
  public static func validating(_ problem: Problem, in precision: Precision) -> Result<PrecisionColumn, InputError> {
    var p = problem
    p.precision = precision
    do throws(InputError) {
      return .success(PrecisionColumn(try p.validated(roundedFrom: problem.precision)))
    } catch {
      return .failure(error)
    }
  }

  /// `problem` validated in `precision` and `old`, taken out of its variable, updated to it (see ``update(to:)``; a
  /// new column when `old` is `nil`), or why that precision cannot hold it.
  public static func validating(
    _ problem: Problem, in precision: Precision, updating old: inout PrecisionColumn?
  ) -> Result<PrecisionColumn, InputError> {
    var p = problem
    p.precision = precision
    do throws(InputError) {
      let validated = try p.validated(roundedFrom: problem.precision)
      guard var column = old.take() else { return .success(PrecisionColumn(validated)) }
      column.update(to: validated)
      return .success(column)
    } catch {
      old = nil
      return .failure(error)
    }
  }

  /// A lean column whatever the size (tests compare it with the full evaluation). Its trusted path is in `Double`,
  /// as ``Evaluation``'s is except for float64 up to ``Evaluation/wideLimit`` classes (`Float80` there).
  init(lean problem: Problem) {
    var memory = EngineMemory()
    self.init(lean: problem, memory: &memory, lists: OverflowReport.Scan(), isUpdate: false)
  }

  /// The lean column of `problem`, run over `memory` (whose changes say what is still valid in it), which is moved
  /// into the column.
  private init(lean problem: Problem, memory: inout EngineMemory, lists: OverflowReport.Scan, isUpdate: Bool) {
    /// Through a pointer, so that the memory is moved, not copied.
    struct Run: PrecisionBody {
      let problem: Problem
      let memory: UnsafeMutablePointer<EngineMemory>
      let lists: OverflowReport.Scan
      func callAsFunction<T: PrecisionScalar>(_: T.Type) -> Engine.Result {
        var trace = NoRecord()
        var trusted = NoRecord()
        return Engine.run(
          problem, memory: &memory.pointee, lists: lists, trace: &trace, trusted: &trusted, concurrently: false,
          T.self, Double.self)
      }
    }
    let r = withUnsafeMutablePointer(to: &memory) {
      problem.precision.open(Run(problem: problem, memory: $0, lists: lists))
    }
    self.problem = problem
    overflow = r.overflow
    naiveSum = r.naiveSum
    stableMax = r.max
    stableSum = r.sum
    loss = r.loss
    lossNaive = r.lossNaive
    lossFromStableSoftmax = r.lossFromStableSoftmax
    storage = .lean(
      Lean(
        naiveSum: r.naiveSum, max: r.wideMax, sumHigh: r.sumHigh, sumLow: r.sumLow, onlineMax: r.onlineMax,
        onlineSum: r.onlineSum))
    self.memory = take(&memory)
    self.isUpdate = isUpdate
  }

  /// Makes this the column of `problem` (validated in its precision), reusing what it computed for its previous
  /// problem when the two differ only in some logits (same precision, class count, temperature and target, above
  /// ``Evaluation/wideLimit`` classes, and this column lean). Then only the changed logits' exponentials are
  /// recomputed, plus those of the online recurrence whose running maximum changed, plus every trusted `e^{z_i − M}`
  /// when `M` changed; the sums, the overflow scan and the recurrence are rerun over the kept terms with the same
  /// operations in the same order, so every number is bit for bit a fresh column's. The per-class storage is reused
  /// in place when nothing else holds this column. Anything else builds it afresh.
  public mutating func update(to problem: Problem) { update(to: problem, anySize: false) }

  /// ``update(to:)``; `anySize` lets a lean column of any size be updated (tests).
  mutating func update(to problem: Problem, anySize: Bool) {
    guard anySize || problem.classes > Evaluation.wideLimit, isLean,
      self.problem.precision == problem.precision, self.problem.classes == problem.classes,
      self.problem.temperature.bitPattern == problem.temperature.bitPattern,
      self.problem.targetSpec == problem.targetSpec, var memory = memory.take()
    else {
      memory = nil  // let the old storage go first
      self = PrecisionColumn(problem)
      return
    }
    memory.willChange(logits: self.problem.logits, to: problem.logits)
    rerun(problem, memory: &memory)
  }

  /// Runs the column again for `problem` over `memory` (taken out of it), in its own storage.
  private mutating func rerun(_ problem: Problem, memory: inout EngineMemory) {
    storage = .lean(Lean(naiveSum: 0, max: 0, sumHigh: 0, sumLow: 0, onlineMax: 0, onlineSum: 0))
    let lists = OverflowReport.Scan(lists: &overflow)
    self = PrecisionColumn(lean: problem, memory: &memory, lists: lists, isUpdate: true)
  }

  /// Sets logit `i` of a lean column to `x` (validated in its precision, see ``Problem/validatedLogit(_:at:)``) and
  /// updates it as ``update(to:)`` does, in its own storage: nothing is allocated when nothing else holds the
  /// column. Returns false, having changed nothing, for a full column.
  public mutating func update(logit i: Int, to x: Double) -> Bool {
    guard isLean, var memory = memory.take() else { return false }
    memory.willChange(logit: i, from: problem.logits[i], to: x)
    var p = problem
    problem.logits = []  // so that the edit below writes in place
    p.logits[i] = x
    rerun(p, memory: &memory)
    return true
  }

  /// Gives a lean column the target and knobs of `settings` (validated in this column's precision, with the same
  /// logits) and updates it in place. With the same temperature only the losses change, and both passes resume at
  /// their last saved state; a new temperature changes every `z`, and every term is computed again in the kept
  /// storage. Returns false, having changed nothing, for a full column or a different size.
  public mutating func update(settingsOf settings: Problem) -> Bool {
    guard isLean, settings.classes == problem.classes, var memory = memory.take() else { return false }
    if settings.temperature.bitPattern == problem.temperature.bitPattern {
      memory.willChangeNothing()
    } else {
      memory.willChangeEverything()
    }
    var next = settings
    next.logits = problem.logits  // the column's own, unchanged
    rerun(next, memory: &memory)
    return true
  }

  /// The stable terms' storage (tests check that an update writes in place).
  var stableTermsAddress: UnsafeRawPointer? {
    guard case .double(let m)? = memory?.wide else { return nil }
    return m.exps.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) }
  }

  // MARK: - Per-class values

  /// `z_i = x_i/τ`.
  public func scaled(_ i: Int) -> Double {
    if case .full(let e) = storage { return e.scaled[i] }
    return value(.scaled, i)
  }

  /// Naive `e^{z_i}`.
  public func naiveExp(_ i: Int) -> Double {
    if case .full(let e) = storage { return e.naive.exps[i] }
    return value(.naiveExp, i)
  }

  /// Naive `s_i = e^{z_i}/σ`.
  public func naiveProbability(_ i: Int) -> Double {
    if case .full(let e) = storage { return e.naive.probabilities[i] }
    return value(.naiveProbability, i)
  }

  /// `z_i − M`.
  public func shifted(_ i: Int) -> Double {
    if case .full(let e) = storage { return e.stable.shifted[i] }
    return value(.shifted, i)
  }

  /// `e^{z_i − M}` (for the exact difference).
  public func stableExp(_ i: Int) -> Double {
    if case .full(let e) = storage { return e.stable.exps[i] }
    return value(.stableExp, i)
  }

  /// Max-subtracted `s_i`.
  public func stableProbability(_ i: Int) -> Double {
    if case .full(let e) = storage { return e.stable.probabilities[i] }
    return value(.stableProbability, i)
  }

  /// Online `s_i = e^{z_i − m_C}/d_C`.
  public func onlineProbability(_ i: Int) -> Double {
    if case .full(let e) = storage { return e.onlineProbability(i) }
    return value(.onlineProbability, i)
  }

  /// Online `m_i` (the running maximum after element `i`).
  public func runningMax(_ i: Int) -> Double { running(i).max }

  /// Online `d_i` (the running sum after element `i`).
  public func runningSum(_ i: Int) -> Double { running(i).sum }

  /// `(m_i, d_i)` of the online recurrence: replayed from the nearest saved state in a lean column.
  public func running(_ i: Int) -> (max: Double, sum: Double) {
    switch storage {
    case .full(let e): return (e.onlineRecurrence.runningMax[i], e.onlineRecurrence.runningSum[i])
    case .lean:
      struct Replay: PrecisionBody {
        let column: PrecisionColumn
        let i: Int
        func callAsFunction<T: PrecisionScalar>(_: T.Type) -> (max: Double, sum: Double) {
          column.replay(i, T.self)
        }
      }
      return problem.precision.open(Replay(column: self, i: i))
    }
  }

  private func replay<T: SoftmaxScalar>(_ i: Int, _: T.Type) -> (max: Double, sum: Double) {
    let k = i / Self.checkpointStride
    guard let saved = memory?.trace.checkpoints[k] else { return (.nan, .nan) }
    var m = T(rounding: saved.max)
    var d = T(rounding: saved.sum)
    let tau = T(rounding: problem.temperature)
    for j in (k * Self.checkpointStride)...i {
      let x = T(rounding: problem.logits[j])
      Softmax.onlineStep(tau == 1 ? x : x / tau, &m, &d)
    }
    return (m.double, d.double)
  }

  private enum Value {
    case scaled, naiveExp, naiveProbability, shifted, stableExp, stableProbability, onlineProbability
  }

  private func value(_ kind: Value, _ i: Int) -> Double {
    guard case .lean(let l) = storage else { return .nan }
    struct PerClass: PrecisionBody {
      let column: PrecisionColumn
      let kind: Value
      let i: Int
      let lean: Lean
      func callAsFunction<T: PrecisionScalar>(_: T.Type) -> Double { column.value(kind, i, lean, T.self) }
    }
    return problem.precision.open(PerClass(column: self, kind: kind, i: i, lean: l))
  }

  /// One per-class value of a lean column, by the operations ``Evaluation`` uses for its arrays.
  private func value<T: SoftmaxScalar>(_ kind: Value, _ i: Int, _ l: Lean, _: T.Type) -> Double {
    let tau = T(rounding: problem.temperature)
    let x = T(rounding: problem.logits[i])
    let z = tau == 1 ? x : x / tau
    let zW = problem.logits[i] / problem.temperature
    switch kind {
    case .scaled: return z.double
    case .naiveExp: return T.exp(z).double
    case .naiveProbability: return (T.exp(z) / T(rounding: l.naiveSum)).double
    case .shifted: return T(rounding: Softmax.shiftedExp(zW, l.max).shifted).double
    case .stableExp: return T(rounding: Softmax.shiftedExp(zW, l.max).exp).double
    case .stableProbability:
      var sum = CompensatedSum<Double>()
      sum.high = l.sumHigh
      sum.low = l.sumLow
      return T(rounding: sum.divide(Softmax.shiftedExp(zW, l.max).exp)).double
    case .onlineProbability:
      return (T.exp(z - T(rounding: l.onlineMax)) / T(rounding: l.onlineSum)).double
    }
  }
}

/// The arithmetic of the lean pass: the precision's own type, or float16 carried in `Float`.
///
/// Operations are written `round(a op b)`. With ``NativeArithmetic`` `round` is the identity and `op` is the type's
/// own; with ``HalfInFloat`` `op` runs in `Float` and `round` rounds to the nearest float16 — which is exactly how
/// `Float16` arithmetic is carried out where the CPU has no half-precision instructions (widen, operate in `Float`,
/// round; `Float`'s 24 bits are enough for that double rounding to be harmless for `+ − × ÷`), but without two library
/// calls per operation. The tests check every value against the full ``Evaluation`` computed with `Float16` itself.
protocol LeanArithmetic {
  associatedtype Value: LeanStorable & Sendable
  /// The precision's value nearest to `x`.
  static func round(_ x: Double) -> Value
  /// Rounds the result of an operation into the precision.
  static func round(_ x: Value) -> Value
  /// `e^x` as the precision computes it.
  static func exp(_ x: Value) -> Value
  static func double(_ x: Value) -> Double
}

enum NativeArithmetic<T: SoftmaxScalar & LeanStorable>: LeanArithmetic {
  @inline(__always) static func round(_ x: Double) -> T { T(rounding: x) }
  @inline(__always) static func round(_ x: T) -> T { x }
  @inline(__always) static func exp(_ x: T) -> T { T.exp(x) }
  @inline(__always) static func double(_ x: T) -> Double { x.double }
}

enum HalfInFloat: LeanArithmetic {
  @inline(__always) static func round(_ x: Double) -> Float {
    let f = Float(x)
    // Inputs are float16 values already (validated logits, τ); anything else takes the library conversion.
    return Double(f) == x ? round(f) : Float(Float16(x))
  }

  /// `Float(Float16(x))` with bit operations: ties to even, `+inf` from 65520 up, subnormals in steps of 2^−24.
  @inline(__always) static func round(_ x: Float) -> Float {
    let a = x.magnitude
    guard a < 65520 else { return a.isNaN ? x : (x < 0 ? -.infinity : .infinity) }
    if a < 0x1p-14 {
      // Float's ulp on [1/2, 1) is 2^−24, float16's subnormal step: the addition rounds `a` to it.
      let r = (a + 0.5) - 0.5
      return Float(bitPattern: r.bitPattern | (x.bitPattern & 0x8000_0000))
    }
    // Round the 23-bit significand to 10 bits, ties to even (a carry into the exponent is the right answer).
    let b = a.bitPattern
    let r = (b &+ 0xFFF &+ ((b >> 13) & 1)) & ~0x1FFF
    return Float(bitPattern: r | (x.bitPattern & 0x8000_0000))
  }

  @inline(__always) static func exp(_ x: Float) -> Float { round(Float.exp(x)) }
  @inline(__always) static func double(_ x: Float) -> Double { Double(x) }
}

extension TraceMemory {
  /// Calls `body` with the naive and online terms' storage.
  mutating func withBuffers<V: LeanStorable, R>(
    _: V.Type, _ body: (UnsafeMutableBufferPointer<V.Stored>, UnsafeMutableBufferPointer<V.Stored>) -> R
  ) -> R {
    V.withStorage(&naive) { naive in
      V.withStorage(&online) { online in
        naive.withUnsafeMutableBufferPointer { naive in
          online.withUnsafeMutableBufferPointer { online in body(naive, online) }
        }
      }
    }
  }
}

/// One array of terms, in `Float` or in `Double` (the other stays empty).
struct TermArray: Sendable {
  var float: [Float] = []
  var double: [Double] = []

  mutating func prepare<V: LeanStorable>(count: Int, _: V.Type) {
    if V.stored(self).count != count {
      self = TermArray()
      V.withStorage(&self) { $0 = [V.Stored](repeating: 0, count: count) }
    }
  }
}

/// A value type of the lean pass and how a ``TermArray`` keeps it (exactly).
protocol LeanStorable: BinaryFloatingPoint {
  associatedtype Stored: BinaryFloatingPoint & Sendable
  /// The array of `terms` this type's values are kept in.
  static func stored(_ terms: TermArray) -> [Stored]
  /// Calls `body` with that array (in place).
  static func withStorage<R>(_ terms: inout TermArray, _ body: (inout [Stored]) -> R) -> R
  static func store(_ x: Self) -> Stored
  static func load(_ x: Stored) -> Self
}

extension Float: LeanStorable {
  static func stored(_ terms: TermArray) -> [Float] { terms.float }
  static func withStorage<R>(_ terms: inout TermArray, _ body: (inout [Float]) -> R) -> R { body(&terms.float) }
  @inline(__always) static func store(_ x: Float) -> Float { x }
  @inline(__always) static func load(_ x: Float) -> Float { x }
}

extension Double: LeanStorable {
  static func stored(_ terms: TermArray) -> [Double] { terms.double }
  static func withStorage<R>(_ terms: inout TermArray, _ body: (inout [Double]) -> R) -> R { body(&terms.double) }
  @inline(__always) static func store(_ x: Double) -> Double { x }
  @inline(__always) static func load(_ x: Double) -> Double { x }
}

extension BFloat16: LeanStorable {
  static func stored(_ terms: TermArray) -> [Float] { terms.float }
  static func withStorage<R>(_ terms: inout TermArray, _ body: (inout [Float]) -> R) -> R { body(&terms.float) }
  @inline(__always) static func store(_ x: BFloat16) -> Float { x.floatValue }
  @inline(__always) static func load(_ x: Float) -> BFloat16 { BFloat16(x) }
}

extension LeanStorable {
  /// Calls `body` with the array of `terms` this type's values are kept in.
  static func withStored<R>(_ terms: TermArray, _ body: (UnsafeBufferPointer<Stored>) -> R) -> R {
    stored(terms).withUnsafeBufferPointer(body)
  }
}
