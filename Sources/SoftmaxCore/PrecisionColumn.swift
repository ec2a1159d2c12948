import RealModule

/// One precision's view of a problem as the Stability lab shows it: naive, max-subtracted and online softmax value by
/// value, their sums and maxima, the three losses and the overflow report.
///
/// Up to ``Evaluation/wideLimit`` classes a column is a full ``Evaluation``. Above that it is *lean*: one pass keeps
/// only the scalars (sums, maxima, losses, the overflow report) and every ``checkpointStride``-th state of the online
/// recurrence, and a per-class value is recomputed when it is asked for, by the same operations in the same order as
/// ``Evaluation`` — so the numbers are identical, without the dozen `C`-long arrays a full evaluation keeps
/// (131,072 classes: about 1 MB for the rounded logits instead of ~14 MB per precision).
public struct PrecisionColumn: Sendable {
  /// The problem validated in this column's precision (logits rounded into it).
  public let problem: Problem
  /// How naive softmax fares in this precision.
  public let overflow: OverflowReport
  /// Naive `σ = Σ e^{z_j}`, summed left to right in the precision.
  public let naiveSum: Double
  /// `M = max z` of the max-subtracted softmax.
  public let stableMax: Double
  /// `Σ e^{z_j − M}`.
  public let stableSum: Double
  /// The stable loss (log-sum-exp form).
  public let loss: Double
  /// `−Σ y_i log s_i` with the naive softmax.
  public let lossNaive: Double
  /// `−Σ y_i log s_i` with the max-subtracted softmax.
  public let lossFromStableSoftmax: Double

  let storage: Storage

  enum Storage: Sendable {
    case full(Evaluation)
    case lean(Lean)
  }

  /// The state the lean column keeps (`W = Double` for the trusted path, as ``Evaluation`` uses above its limit).
  struct Lean: Sendable {
    /// Naive `σ` (a value of the precision).
    var naiveSum: Double
    /// `M` and the compensated `Σ e^{z_j − M}` in `W`.
    var max: Double
    var sumHigh: Double
    var sumLow: Double
    /// Final `m_C`, `d_C` of the online recurrence, and its state before every `checkpointStride`-th element.
    var onlineMax: Double
    var onlineSum: Double
    var checkpoints: [(max: Double, sum: Double)]
  }

  /// Elements between two saved states of the online recurrence: a running value costs at most this many steps.
  public static let checkpointStride = 128  // a power of two (the lean pass tests `i & (stride − 1)`)

  /// A column read off a full evaluation (the explorer's own precision, or small problems).
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
      return .success(PrecisionColumn(try p.validated()))
    } catch {
      return .failure(error)
    }
  }

  /// A lean column whatever the size (tests compare it with the full evaluation). Its trusted path is in `Double`,
  /// as ``Evaluation``'s is except for float64 up to ``Evaluation/wideLimit`` classes (`Float80` there).
  init(lean problem: Problem) {
    switch problem.precision {
    case .float64: self.init(lean: problem, Double.self, NativeArithmetic<Double>.self)
    case .float32: self.init(lean: problem, Float.self, NativeArithmetic<Float>.self)
    case .bfloat16: self.init(lean: problem, BFloat16.self, NativeArithmetic<BFloat16>.self)
    case .float16: self.init(lean: problem, Float16.self, HalfInFloat.self)
    }
  }

  /// Whether the per-class values are recomputed on demand.
  public var isLean: Bool {
    if case .lean = storage { return true }
    return false
  }

  private init<T: SoftmaxScalar, A: LeanArithmetic>(lean problem: Problem, _: T.Type, _: A.Type) {
    typealias W = Double
    self.problem = problem
    let c = problem.classes
    let tau = T(rounding: problem.temperature)
    let tauW = W(rounding: problem.temperature)
    let logits = problem.logits
    @inline(__always) func z(_ i: Int) -> T {
      let x = T(rounding: logits[i])
      return tau == 1 ? x : x / tau
    }

    // Pass 1, in the precision's arithmetic A (T's own, or float16 carried in Float): naive sum and overflow facts,
    // the argmax of z, the online recurrence.
    typealias V = A.Value
    let tauA = A.round(problem.temperature)
    let leastNormal = problem.precision.facts.leastNormal
    var sigma: V = 0
    var scan = OverflowReport.Scan()
    var best = 0
    var bestZ = -V.infinity
    var m = -V.infinity
    var d: V = 0
    let stride = Self.checkpointStride
    var checkpoints: [(max: Double, sum: Double)] = []
    checkpoints.reserveCapacity(c / stride + 1)
    // z_i in W (`x/τ`, and `x/1` is `x`).
    @inline(__always) func zW(_ x: Double) -> W { tauW == 1 ? W(rounding: x) : W(rounding: x) / tauW }
    // The largest z in W for the trusted path (first index on ties, as `Softmax.argmax`).
    var k = 0
    var mW = -W.infinity
    logits.withUnsafeBufferPointer { logits in
      for i in 0..<c {
        let x = A.round(logits[i])
        let zi = tauA == 1 ? x : A.round(x / tauA)
        let e = A.exp(zi)
        sigma = A.round(sigma + e)
        scan.add(index: i, z: A.double(zi), exp: A.double(e), leastNormal: leastNormal)
        if zi > bestZ {
          bestZ = zi
          best = i
        }
        if i & (stride - 1) == 0 { checkpoints.append((A.double(m), A.double(d))) }
        // The online step of `Softmax.online`, operation by operation.
        if zi > m {
          d = A.round((m == -V.infinity ? 0 : A.round(d * A.exp(A.round(m - zi)))) + 1)
          m = zi
        } else if zi != -V.infinity {
          d = A.round(d + A.exp(A.round(zi - m)))
        }
        let ziW = zW(logits[i])
        if ziW > mW {
          mW = ziW
          k = i
        }
      }
    }
    let sigmaT = T(rounding: A.double(sigma))

    // Pass 2, in W: the compensated sums of e^{z_i − M}, with and without the argmax (for log-sum-exp).
    var sum = CompensatedSum<W>()
    var rest = CompensatedSum<W>()
    logits.withUnsafeBufferPointer { logits in
      for i in 0..<c {
        let (dW, err) = twoSum(zW(logits[i]), -mW)
        let e = expCompensated(dW, err)
        sum.add(e)
        if i != k { rest.add(e) }
      }
    }
    let logSum = W.log(onePlus: rest.high) + rest.low / (1 + rest.high)

    // The losses visit the classes with y_i ≠ 0 in index order (only T for a one-hot target).
    let spec = problem.targetSpec
    var oneHot: Int? = nil
    if case .index(let t, let eps) = spec, eps == 0 { oneHot = t }
    let shares: (T, W)? = {
      guard case .index(_, let eps) = spec, eps != 0 else { return nil }
      return (T(rounding: eps) / T(c), W(rounding: eps) / W(c))
    }()
    func yT(_ i: Int) -> T {
      switch spec {
      case .index(let t, let eps):
        guard let (share, _) = shares else { return i == t ? 1 : 0 }
        return i == t ? (1 - T(rounding: eps)) + share : share
      case .distribution(let q): return T(rounding: q[i])
      }
    }
    func yW(_ i: Int) -> W {
      switch spec {
      case .index(let t, let eps):
        guard let (_, share) = shares else { return i == t ? 1 : 0 }
        return i == t ? (1 - W(rounding: eps)) + share : share
      case .distribution(let q): return W(rounding: q[i])
      }
    }
    var gap = CompensatedSum<W>()
    var mass = CompensatedSum<W>()
    var cNaive: T = 0
    var cStable: T = 0
    func visit(_ i: Int) {
      let y = yT(i)
      if y != 0 {
        let zi = z(i)
        cNaive -= y * T.log(T.exp(zi) / sigmaT)
        let (dW, err) = twoSum(zW(logits[i]), -mW)
        let sStable = T(converting: sum.divide(expCompensated(dW, err)))
        cStable -= y * T.log(sStable)
      }
      let w = yW(i)
      if w != 0 {
        let (dW, err) = twoSum(mW, -zW(logits[i]))
        gap.add(w * dW)
        gap.add(w * err)
        mass.add(w)
      }
    }
    if let t = oneHot {
      visit(t)
    } else {
      for i in 0..<c { visit(i) }
    }
    let lossW = gap.high + (gap.low + mass.value * logSum)

    scan.sum = sigmaT.double
    scan.largest = (A.double(bestZ), T.exp(z(best)).double)
    overflow = OverflowReport(
      scan, count: c, z: { z($0).double }, precision: problem.precision,
      exactLogSum: problem.temperature == 1 ? mW + logSum : nil)
    naiveSum = sigmaT.double
    stableMax = T(converting: mW).double
    stableSum = T(converting: sum.value).double
    loss = T(converting: lossW).double
    lossNaive = cNaive.double
    lossFromStableSoftmax = cStable.double
    storage = .lean(
      Lean(
        naiveSum: sigmaT.double, max: mW, sumHigh: sum.high, sumLow: sum.low, onlineMax: A.double(m),
        onlineSum: A.double(d), checkpoints: checkpoints))
  }

  /// One step of the online recurrence exactly as ``Softmax/online(_:)`` takes it.
  @inline(__always)
  static func onlineStep<T: SoftmaxScalar>(_ zj: T, _ m: inout T, _ d: inout T) {
    if zj > m {
      d = (m == -T.infinity ? 0 : d * T.exp(m - zj)) + 1
      m = zj
    } else if zj != -T.infinity {
      d += T.exp(zj - m)
    }
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
    if case .full(let e) = storage { return e.online.probabilities[i] }
    return value(.onlineProbability, i)
  }

  /// Online `m_i` (the running maximum after element `i`).
  public func runningMax(_ i: Int) -> Double { running(i).max }

  /// Online `d_i` (the running sum after element `i`).
  public func runningSum(_ i: Int) -> Double { running(i).sum }

  /// `(m_i, d_i)` of the online recurrence: replayed from the nearest saved state in a lean column.
  public func running(_ i: Int) -> (max: Double, sum: Double) {
    switch storage {
    case .full(let e): return (e.online.runningMax[i], e.online.runningSum[i])
    case .lean(let l):
      switch problem.precision {
      case .float64: return replay(i, l, Double.self)
      case .float32: return replay(i, l, Float.self)
      case .bfloat16: return replay(i, l, BFloat16.self)
      case .float16: return replay(i, l, Float16.self)
      }
    }
  }

  private func replay<T: SoftmaxScalar>(_ i: Int, _ l: Lean, _: T.Type) -> (max: Double, sum: Double) {
    let k = i / Self.checkpointStride
    var m = T(rounding: l.checkpoints[k].max)
    var d = T(rounding: l.checkpoints[k].sum)
    let tau = T(rounding: problem.temperature)
    for j in (k * Self.checkpointStride)...i {
      let x = T(rounding: problem.logits[j])
      Self.onlineStep(tau == 1 ? x : x / tau, &m, &d)
    }
    return (m.double, d.double)
  }

  private enum Value {
    case scaled, naiveExp, naiveProbability, shifted, stableExp, stableProbability, onlineProbability
  }

  private func value(_ kind: Value, _ i: Int) -> Double {
    guard case .lean(let l) = storage else { return .nan }
    switch problem.precision {
    case .float64: return value(kind, i, l, Double.self)
    case .float32: return value(kind, i, l, Float.self)
    case .bfloat16: return value(kind, i, l, BFloat16.self)
    case .float16: return value(kind, i, l, Float16.self)
    }
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
    case .shifted: return T(rounding: twoSum(zW, -l.max).sum).double
    case .stableExp:
      let (d, err) = twoSum(zW, -l.max)
      return T(rounding: expCompensated(d, err)).double
    case .stableProbability:
      let (d, err) = twoSum(zW, -l.max)
      var sum = CompensatedSum<Double>()
      sum.high = l.sumHigh
      sum.low = l.sumLow
      return T(rounding: sum.divide(expCompensated(d, err))).double
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
  associatedtype Value: BinaryFloatingPoint
  /// The precision's value nearest to `x`.
  static func round(_ x: Double) -> Value
  /// Rounds the result of an operation into the precision.
  static func round(_ x: Value) -> Value
  /// `e^x` as the precision computes it.
  static func exp(_ x: Value) -> Value
  static func double(_ x: Value) -> Double
}

enum NativeArithmetic<T: SoftmaxScalar>: LeanArithmetic {
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
