import RealModule

/// What the loss compares the softmax with.
public enum TargetSpec: Sendable, Equatable {
  /// A one-hot target at class `index`, optionally label-smoothed: `y = (1 − ε)·e_T + ε/C` (PyTorch's semantics).
  case index(Int, smoothing: Double)
  /// An explicit distribution `y` (non-negative, summing to 1).
  case distribution([Double])
}

/// The entries of ``CrossEntropy/targetDistribution(_:classes:)`` read one at a time, by the same operations, without
/// building the vector.
struct TargetEntries<T: SoftmaxScalar> {
  private let target: Int
  private let share: T
  private let top: T
  private let soft: [Double]?
  /// The target of a one-hot distribution (no smoothing): the only class with `y ≠ 0`.
  let oneHot: Int?

  init(_ spec: TargetSpec, classes c: Int) {
    switch spec {
    case .index(let t, let eps):
      target = t
      soft = nil
      oneHot = eps == 0 ? t : nil
      if eps == 0 {
        (share, top) = (0, 1)
      } else {
        let e = T(rounding: eps)
        share = e / T(c)
        top = (1 - e) + share
      }
    case .distribution(let q):
      (target, share, top, soft, oneHot) = (0, 0, 0, q, nil)
    }
  }

  @inline(__always)
  subscript(i: Int) -> T {
    if let soft { return T(rounding: soft[i]) }
    return i == target ? top : share
  }
}

/// The stable loss `Σ_i y_i (M − z_i) + (Σ_i y_i)·log(1 + rest)` summed class by class (see
/// ``CrossEntropy/stableLoss(_:target:lse:)``), each sum compensated and `M − z_i` taken exactly.
public struct StableLossSum<T: SoftmaxScalar>: Sendable {
  @usableFromInline var gap = CompensatedSum<T>()
  @usableFromInline var mass = CompensatedSum<T>()

  @inlinable public init() {}

  /// Adds class `i`'s share: `y_i (M − z_i)` and `y_i`.
  @inlinable @inline(__always)
  public mutating func add(_ y: T, max m: T, z: T) {
    let (d, err) = twoSum(m, -z)
    gap.add(y * d)
    gap.add(y * err)
    mass.add(y)
  }

  /// The loss, given `log(1 + rest)`.
  @inlinable public func loss(logSum: T) -> T { gap.high + (gap.low + mass.value * logSum) }
}

/// Cross-entropy, its gradient and the softmax Jacobian, generic over the precision.
public enum CrossEntropy {
  /// The target distribution `y` in the working precision.
  @inlinable
  public static func targetDistribution<T: SoftmaxScalar>(_ spec: TargetSpec, classes c: Int) -> [T] {
    switch spec {
    case .index(let t, let eps):
      if eps == 0 {
        var y = [T](repeating: 0, count: c)
        y[t] = 1
        return y
      }
      let e = T(rounding: eps)
      let share = e / T(c)
      var y = [T](repeating: share, count: c)
      y[t] = (1 - e) + share
      return y
    case .distribution(let q):
      return q.map { T(rounding: $0) }
    }
  }

  /// The loss straight from the definition, `c = −Σ_i y_i log s_i`, from an already computed softmax.
  /// Terms with `y_i = 0` are skipped (so `0·log 0` counts as 0); a zero `s_T` gives `+inf`, a NaN gives NaN.
  @inlinable
  public static func lossFromProbabilities<T: SoftmaxScalar>(_ s: [T], target y: [T]) -> T {
    var c: T = 0
    for i in s.indices where y[i] != 0 { c -= y[i] * T.log(s[i]) }
    return c
  }

  /// The stable loss `c = Σ_i y_i (LSE(z) − z_i)`, written as `Σ_i y_i (M − z_i) + (Σ_i y_i)·log(1 + rest)`.
  ///
  /// When the target is the maximum the first sum is 0 and the loss is `log(1 + rest)` computed with
  /// `log(onePlus:)`, so a loss far below epsilon (float64 `[40, 0]`, `T = 0`: 4.248e−18) keeps its relative accuracy
  /// where `LSE − z_T` would round to 0. A masked target (`z_T = −∞`) gives `+inf`.
  @inlinable
  public static func stableLoss<T: SoftmaxScalar>(_ z: [T], target y: [T], lse: LogSumExp<T>) -> T {
    var sum = StableLossSum<T>()
    for i in z.indices where y[i] != 0 { sum.add(y[i], max: lse.max, z: z[i]) }
    return sum.loss(logSum: lse.logSum)
  }

  /// `∂l/∂x_n = g·(s_n − y_n)/τ`.
  @inlinable
  public static func gradient<T: SoftmaxScalar>(
    probabilities s: [T], target y: [T], temperature tau: T, upstream g: T
  ) -> [T] {
    var grad = [T](repeating: 0, count: s.count)
    for n in s.indices { grad[n] = g * (s[n] - y[n]) / tau }
    return grad
  }

  /// `g·(s_n − y_n)/τ` without the cancellation of `s_T − 1` when `s_T ≈ 1`: for a dominant target (`y_n ≥ 1/2`),
  /// `s_n − y_n = (1 − y_n) − Σ_{j≠n} s_j`, a sum of positive terms, so a tiny gradient keeps its relative accuracy.
  @inlinable
  public static func accurateGradient<T: SoftmaxScalar>(
    probabilities s: [T], target y: [T], temperature tau: T, upstream g: T
  ) -> [T] {
    var grad = [T](repeating: 0, count: s.count)
    s.withUnsafeBufferPointer { s in
      for n in s.indices { grad[n] = g * difference(s, y[n], at: n) / tau }
    }
    return grad
  }

  /// `s_n − y_n`, as `(1 − y_n) − Σ_{j≠n} s_j` for a dominant target (`y_n ≥ 1/2`) so that it does not cancel.
  @inlinable @inline(__always)
  static func difference<T: SoftmaxScalar>(_ s: UnsafeBufferPointer<T>, _ yn: T, at n: Int) -> T {
    guard yn >= 0.5 else { return s[n] - yn }
    var others = CompensatedSum<T>()
    for j in s.indices where j != n { others.add(s[j]) }
    return (1 - yn) - others.value
  }

  /// One Jacobian entry `∂s_i/∂x_n = (s_i δ_in − s_i s_n)/τ`: `s_i(1 − s_i)/τ` on the diagonal, `−s_i s_n/τ` off it.
  ///
  /// `1 − s_i` cancels when `s_i ≈ 1`; only one class can have `s_i > 1/2`, and for it the diagonal uses
  /// `1 − s_i = Σ_{j≠i} s_j` (a compensated sum of positive terms, `O(C)` for that one entry).
  @inlinable
  public static func jacobianEntry<T: SoftmaxScalar>(_ s: [T], _ i: Int, _ n: Int, temperature tau: T) -> T {
    guard i == n else { return -(s[i] * s[n]) / tau }
    var complement = 1 - s[i]
    if s[i] > 0.5 {
      var others = CompensatedSum<T>()
      for j in s.indices where j != i { others.add(s[j]) }
      complement = others.value
    }
    return s[i] * complement / tau
  }

  /// Row `i` of the Jacobian, `∂s_i/∂x_·`, in `O(C)`.
  @inlinable
  public static func jacobianRow<T: SoftmaxScalar>(_ s: [T], row i: Int, temperature tau: T) -> [T] {
    s.indices.map { jacobianEntry(s, i, $0, temperature: tau) }
  }

  /// A rectangular window of the Jacobian (`rows × columns`), computed on demand so a huge `C` never needs `C²` memory.
  @inlinable
  public static func jacobianWindow<T: SoftmaxScalar>(
    _ s: [T], rows: Range<Int>, columns: Range<Int>, temperature tau: T
  ) -> [[T]] {
    rows.map { i in columns.map { n in jacobianEntry(s, i, n, temperature: tau) } }
  }

  /// The Jacobian-vector product `(J v)_i = s_i (v_i − s·v)/τ` in `O(C)` (J is symmetric, so this is also `vᵀJ`).
  @inlinable
  public static func jacobianVectorProduct<T: SoftmaxScalar>(_ s: [T], _ v: [T], temperature tau: T) -> [T] {
    var dot: T = 0
    for i in s.indices { dot += s[i] * v[i] }
    return s.indices.map { s[$0] * (v[$0] - dot) / tau }
  }

  /// The chain rule by numbers for class `n`: `g · Σ_i (∂c/∂s_i)(∂s_i/∂x_n)` with `∂c/∂s_i = −y_i/s_i`.
  /// One-hot, this is row `T` of the Jacobian times `−1/s_T`; it should equal the closed form `g(s_n − y_n)/τ`.
  @inlinable
  public static func chainRule<T: SoftmaxScalar>(
    probabilities s: [T], target y: [T], column n: Int, temperature tau: T, upstream g: T
  ) -> T {
    var total: T = 0
    for i in s.indices where y[i] != 0 {
      total += (-y[i] / s[i]) * jacobianEntry(s, i, n, temperature: tau)
    }
    return g * total
  }
}
