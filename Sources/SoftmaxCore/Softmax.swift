import RealModule

/// Naive softmax exactly as the formula reads: `s_i = e^{z_i} / Σ_j e^{z_j}`.
public struct NaiveTrace<T: SoftmaxScalar>: Sendable {
  /// `e^{z_i}` for each class; `+inf` where it overflows, `0` where it underflows.
  public var exps: [T]
  /// `σ = Σ_j e^{z_j}`, summed left to right.
  public var sum: T
  /// `s_i = e^{z_i} / σ`.
  public var probabilities: [T]

  @inlinable public init(exps: [T], sum: T, probabilities: [T]) {
    self.exps = exps
    self.sum = sum
    self.probabilities = probabilities
  }
}

/// Max-subtracted softmax: `M = max z`, then `s_i = e^{z_i − M} / Σ_j e^{z_j − M}`.
public struct StableTrace<T: SoftmaxScalar>: Sendable {
  /// `M = max_j z_j`.
  public var max: T
  /// The first index where `z` attains `M`.
  public var argmax: Int
  /// `z_i − M` (every entry ≤ 0).
  public var shifted: [T]
  /// `e^{z_i − M}` (every entry in [0, 1], and 1 at the argmax).
  public var exps: [T]
  /// `Σ_j e^{z_j − M}` (at least 1, so never 0).
  public var sum: T
  /// `s_i`.
  public var probabilities: [T]

  @inlinable public init(max: T, argmax: Int, shifted: [T], exps: [T], sum: T, probabilities: [T]) {
    self.max = max
    self.argmax = argmax
    self.shifted = shifted
    self.exps = exps
    self.sum = sum
    self.probabilities = probabilities
  }
}

/// Single-pass ("online") softmax: a running maximum `m_j` and a running sum `d_j` rescaled whenever `m` grows.
public struct OnlineTrace<T: SoftmaxScalar>: Sendable {
  /// `m_j = max(m_{j−1}, z_j)` after element `j`.
  public var runningMax: [T]
  /// `d_j = d_{j−1}·e^{m_{j−1} − m_j} + e^{z_j − m_j}` after element `j`.
  public var runningSum: [T]
  /// `s_i = e^{z_i − m_C} / d_C`.
  public var probabilities: [T]

  @inlinable public init(runningMax: [T], runningSum: [T], probabilities: [T]) {
    self.runningMax = runningMax
    self.runningSum = runningSum
    self.probabilities = probabilities
  }
}

/// Log-sum-exp split so that tiny results keep their relative accuracy.
///
/// `LSE(z) = M + log(1 + rest)` where `rest = Σ_{j≠k} e^{z_j − M}` excludes one argmax `k`; `log(1 + rest)` is then
/// computed with `log(onePlus:)`, which stays accurate when `rest` is far below the precision's epsilon.
public struct LogSumExp<T: SoftmaxScalar>: Sendable {
  /// `M = max z`.
  public var max: T
  /// The argmax that was left out of `rest`.
  public var argmax: Int
  /// `Σ_{j≠argmax} e^{z_j − M}`.
  public var rest: T
  /// `log(1 + rest) = log Σ_j e^{z_j − M}`.
  public var logSum: T
  /// `LSE(z) = M + logSum`.
  public var value: T

  @inlinable public init(max: T, argmax: Int, rest: T, logSum: T, value: T) {
    self.max = max
    self.argmax = argmax
    self.rest = rest
    self.logSum = logSum
    self.value = value
  }
}

/// The three softmax algorithms, generic over the precision, each returning every intermediate a teacher shows.
public enum Softmax {
  /// Softmax straight from the definition. Overflows when some `z_i > ln(max finite)`; gives `0/0` when all underflow.
  @inlinable
  public static func naive<T: SoftmaxScalar>(_ z: [T]) -> NaiveTrace<T> {
    var sum: T = 0
    let exps = filled(z.count) { i in
      let e = T.exp(z[i])
      sum += e
      return e
    }
    let probabilities = filled(z.count) { exps[$0] / sum }
    return NaiveTrace(exps: exps, sum: sum, probabilities: probabilities)
  }

  /// The index and value of the largest entry (first on ties). `z` must contain a value other than `-inf`… or be all
  /// `-inf`, in which case the maximum is `-inf`.
  @inlinable
  public static func argmax<T: SoftmaxScalar>(_ z: [T]) -> (index: Int, value: T) {
    var best = 0
    var value = -T.infinity
    for i in z.indices where z[i] > value {
      value = z[i]
      best = i
    }
    return (best, value)
  }

  /// Softmax after subtracting the maximum, which shift invariance allows: no `e^{·}` can overflow and `σ ≥ 1`.
  ///
  /// To be trustworthy to the last digit, the rounding error of each `z_i − M` (which `e^x` amplifies by `|z_i − M|`)
  /// and of the running sum are carried along exactly (two-sum) and folded back in: `exps[i]` is `e^{z_i − M}` for the
  /// exact difference, and `s_i` is divided by the compensated sum.
  @inlinable
  public static func stable<T: SoftmaxScalar>(_ z: [T]) -> StableTrace<T> {
    let (k, m) = argmax(z)
    var sum = CompensatedSum<T>()
    var exps: [T] = []
    let shifted = [T](unsafeUninitializedCapacity: z.count) { shiftedBuffer, shiftedCount in
      exps = [T](unsafeUninitializedCapacity: z.count) { expsBuffer, expsCount in
        for i in z.indices {
          // A masked class (−∞) stays −∞ after the shift and contributes exactly 0.
          let (d, e) = shiftedExp(z[i], m)
          shiftedBuffer.initializeElement(at: i, to: d)
          expsBuffer.initializeElement(at: i, to: e)
          sum.add(e)
        }
        expsCount = z.count
      }
      shiftedCount = z.count
    }
    let probabilities = filled(z.count) { sum.divide(exps[$0]) }
    return StableTrace(
      max: m, argmax: k, shifted: shifted, exps: exps, sum: sum.value, probabilities: probabilities)
  }

  /// Softmax in one pass over the input for the normaliser, then one for the output (Milakov & Gimelshein, 2018).
  @inlinable
  public static func online<T: SoftmaxScalar>(_ z: [T]) -> OnlineTrace<T> {
    var m = -T.infinity
    var d: T = 0
    var runningSum: [T] = []
    let runningMax = [T](unsafeUninitializedCapacity: z.count) { maxBuffer, maxCount in
      runningSum = [T](unsafeUninitializedCapacity: z.count) { sumBuffer, sumCount in
        for j in z.indices {
          onlineStep(z[j], &m, &d)
          maxBuffer.initializeElement(at: j, to: m)
          sumBuffer.initializeElement(at: j, to: d)
        }
        sumCount = z.count
      }
      maxCount = z.count
    }
    let probabilities = filled(z.count) { T.exp(z[$0] - m) / d }
    return OnlineTrace(runningMax: runningMax, runningSum: runningSum, probabilities: probabilities)
  }

  /// One step of the online recurrence: `m ← max(m, z_j)`, `d ← d·e^{m_old − m} + e^{z_j − m}`.
  @inlinable @inline(__always)
  public static func onlineStep<T: SoftmaxScalar>(_ zj: T, _ m: inout T, _ d: inout T) {
    if zj > m {
      // The old sum was relative to the old maximum: rescale it by e^{m − m'} (0 when nothing was seen yet).
      d = (m == -T.infinity ? 0 : d * T.exp(m - zj)) + 1
      m = zj
    } else if zj != -T.infinity {
      d += T.exp(zj - m)
    }
  }

  /// Computes `log Σ_j e^{z_j}` without overflow, keeping `log Σ e^{z_j − M}` accurate when it is tiny.
  @inlinable
  public static func logSumExp<T: SoftmaxScalar>(_ z: [T]) -> LogSumExp<T> {
    let (k, m) = argmax(z)
    var rest = CompensatedSum<T>()
    for j in z.indices where j != k { rest.add(shiftedExp(z[j], m).exp) }
    let logSum = rest.logOnePlus
    return LogSumExp(max: m, argmax: k, rest: rest.value, logSum: logSum, value: m + logSum)
  }

  /// The same split log-sum-exp read off a finished max-subtracted trace, without recomputing any exponential.
  @inlinable
  public static func logSumExp<T: SoftmaxScalar>(stable: StableTrace<T>) -> LogSumExp<T> {
    var rest = CompensatedSum<T>()
    for j in stable.exps.indices where j != stable.argmax { rest.add(stable.exps[j]) }
    let logSum = rest.logOnePlus
    return LogSumExp(
      max: stable.max, argmax: stable.argmax, rest: rest.value, logSum: logSum, value: stable.max + logSum)
  }

  /// `log s_i = z_i − LSE(z)`, never `−inf` unless `z_i` is a masked class.
  @inlinable
  public static func logSoftmax<T: SoftmaxScalar>(_ z: [T], lse: LogSumExp<T>) -> [T] {
    // (z_i − M) − log Σ: the subtraction of M first keeps the large parts from cancelling.
    z.map { ($0 - lse.max) - lse.logSum }
  }
}

extension Softmax {
  /// The max-subtracted softmax's term: `z − M` and `e^{z − M}` for the exact difference (the rounding error of
  /// `z − M`, which `e^x` amplifies by `|z − M|`, is folded back in).
  @inlinable @inline(__always)
  public static func shiftedExp<T: SoftmaxScalar>(_ z: T, _ m: T) -> (shifted: T, exp: T) {
    let (d, err) = twoSum(z, -m)
    return (d, expCompensated(d, err))
  }
}

/// `a + b` as the rounded sum and its exact rounding error (Knuth's two-sum; valid in any binary format that rounds to
/// nearest). With an infinite operand the error is reported as 0.
@inlinable
public func twoSum<T: SoftmaxScalar>(_ a: T, _ b: T) -> (sum: T, error: T) {
  let s = a + b
  guard s.isFinite else { return (s, 0) }
  let bb = s - a
  let err = (a - (s - bb)) + (b - bb)
  return (s, err)
}

/// `e^{d + err}` for a small correction `err`: `e^d + e^d·err`.
@inlinable
public func expCompensated<T: SoftmaxScalar>(_ d: T, _ err: T) -> T {
  let e = T.exp(d)
  return err == 0 ? e : e + e * err
}

/// A running sum that carries its rounding error (Neumaier's variant of Kahan summation).
public struct CompensatedSum<T: SoftmaxScalar>: Sendable {
  /// The rounded running sum.
  public var high: T = 0
  /// The accumulated rounding error.
  public var low: T = 0

  @inlinable public init() {}

  @inlinable public mutating func add(_ x: T) {
    let (s, err) = twoSum(high, x)
    high = s
    low += err
  }

  /// The sum rounded once.
  @inlinable public var value: T { high + low }

  /// `log(1 + high + low) = log1p(high) + low/(1 + high)` to first order in `low`: accurate when the sum is far below
  /// ε (log-sum-exp's `log(1 + rest)`).
  @inlinable public var logOnePlus: T { T.log(onePlus: high) + low / (1 + high) }

  /// `x / (high + low)`, correcting the quotient by the low part: `q − q·low/high`.
  @inlinable public func divide(_ x: T) -> T {
    let q = x / high
    return low == 0 ? q : q - q * (low / high)
  }
}

/// `[value(0), value(1), …, value(count − 1)]`, written straight into fresh storage (no zero fill first).
@inlinable
func filled<T>(_ count: Int, _ value: (Int) -> T) -> [T] {
  [T](unsafeUninitializedCapacity: count) { buffer, initialized in
    for i in 0..<count { buffer.initializeElement(at: i, to: value(i)) }
    initialized = count
  }
}
