import RealModule

/// A central finite difference of the loss next to the analytic gradient, for one class.
public struct FiniteDifference: Sendable, Equatable {
  /// The class `n` whose logit was perturbed.
  public var index: Int
  /// The step `h` actually taken (`(x_n + h) − (x_n − h)` as rounded in the precision, halved).
  public var step: Double
  /// `l(x + h e_n)` and `l(x − h e_n)`.
  public var lossPlus: Double
  public var lossMinus: Double
  /// `g·(c(x + h e_n) − c(x − h e_n)) / 2h`.
  public var estimate: Double
  /// The closed form `g(s_n − y_n)/τ`.
  public var analytic: Double
  /// `|estimate − analytic|`.
  public var error: Double { abs(estimate - analytic) }
  /// A bound on `error` for a correct gradient: the Taylor remainder `h²|c‴|/6` (with `|c‴| ≤ s_n(1 − s_n)/τ³` over
  /// the step), the rounding of the two losses divided by `2h`, and the rounding of the closed form. It scales with
  /// the quantities themselves, so a tiny gradient is held to its own size, not to an absolute `ε^{2/3}`.
  public var tolerance: Double
  /// Whether the two are within `tolerance` (NaN never is); whether that tolerance can tell is ``verdict``'s call.
  public var agrees: Bool { error <= tolerance }
  /// Agrees, differs, or cannot tell (the step left the format's range, or the tolerance is as large as the value).
  public var verdict: CheckVerdict { CheckVerdict(error: error, tolerance: tolerance, value: analytic) }
  /// `error / |analytic|` (0 when both are 0, `inf` when only the analytic value is 0).
  public var relativeError: Double { relative(error, to: analytic) }
  /// `tolerance / |analytic|`.
  public var relativeTolerance: Double { relative(tolerance, to: analytic) }
}

/// What a comparison of a computed value with a reference can honestly say.
public enum CheckVerdict: String, Sendable, Equatable {
  /// Within the tolerance, and the tolerance is small enough to tell a wrong value (below half the value).
  case agrees
  /// Further apart than the tolerance allows (or not a number).
  case differs
  /// Within the tolerance, but the tolerance is at least half the value: this precision cannot tell right from wrong.
  case unresolved

  init(error: Double, tolerance: Double, value: Double) {
    guard error.isFinite, tolerance.isFinite, value.isFinite else {
      self = error.isNaN && !tolerance.isNaN ? .differs : .unresolved
      return
    }
    if error > tolerance {
      self = .differs
    } else if error == 0 || tolerance < abs(value) / 2 {
      self = .agrees
    } else {
      self = .unresolved
    }
  }
}

/// `x / |reference|`, with `0/0 = 0` and `x/0 = inf`.
func relative(_ x: Double, to reference: Double) -> Double {
  if x == 0 { return 0 }
  return reference == 0 ? .infinity : x / abs(reference)
}

/// The chain rule, the closed form and a central difference for one class, and whether they agree.
///
/// Agreement is judged relative to the quantities themselves: the chain rule `g·Σ_i (−y_i/s_i)·∂s_i/∂x_n` is a sum
/// of rounded terms, so it may differ from the closed form by a few ε times `Σ_i |term_i|` (large only when the terms
/// cancel), and by no more; the finite difference by its own ``FiniteDifference/tolerance``. A chain rule that prints
/// 0 where the closed form is −4.2e−18 does not agree.
public struct GradientCheck: Sendable, Equatable {
  /// The class `n`.
  public var index: Int
  /// `g·Σ_i (−y_i/s_i)·∂s_i/∂x_n`, computed in the precision term by term.
  public var chain: Double
  /// `Σ_i |g·(−y_i/s_i)·∂s_i/∂x_n|`: how large the chain rule's terms are before they cancel.
  public var chainMagnitude: Double
  /// The closed form `g(s_n − y_n)/τ` (the reported gradient, computed without cancellation).
  public var closed: Double
  /// The central difference, nil for a masked logit.
  public var finite: FiniteDifference?
  /// The bound on `|chain − closed|` for a correct computation in this precision.
  public var chainTolerance: Double

  /// `|chain − closed|`.
  public var chainError: Double { abs(chain - closed) }
  /// `chainError / |closed|`.
  public var chainRelativeError: Double { relative(chainError, to: closed) }
  /// `chainTolerance / |closed|`.
  public var chainRelativeTolerance: Double { relative(chainTolerance, to: closed) }
  /// The chain rule against the closed form: `unresolved` when the chain rule itself is not a number (an `s_i` with
  /// `y_i > 0` rounded to 0, or `y_i/s_i` overflowed): the closed form needs no division and is still exact.
  public var chainVerdict: CheckVerdict {
    chain.isFinite ? CheckVerdict(error: chainError, tolerance: chainTolerance, value: closed) : .unresolved
  }
  /// Whether the chain rule by numbers is undefined here (see ``chainVerdict``).
  public var chainUndefined: Bool { !chain.isFinite }
  /// The finite difference against the closed form (nil for a masked logit).
  public var finiteVerdict: CheckVerdict? { finite?.verdict }
  /// Whether the chain rule agrees with the closed form, and the tolerance is fine enough to tell.
  public var chainAgrees: Bool { chainVerdict == .agrees }
  /// Whether the finite difference (when there is one) agrees with the closed form.
  public var finiteAgrees: Bool { (finiteVerdict ?? .agrees) == .agrees }
  /// All three: `differs` if either comparison differs, `agrees` if both agree, else `unresolved`.
  public var verdict: CheckVerdict {
    let chain = chainVerdict
    let finite = finiteVerdict ?? .agrees
    if chain == .differs || finite == .differs { return .differs }
    return chain == .agrees && finite == .agrees ? .agrees : .unresolved
  }
  /// Whether all three agree.
  public var agrees: Bool { verdict == .agrees }
}

/// Every quantity of softmax and cross-entropy for one `Problem`, computed in the problem's precision and widened to `Double`.
///
/// Whole-vector quantities are computed once here; Jacobian entries, rows and windows, products, chain-rule and
/// finite-difference checks are computed on demand, so `C = 131,072` never needs a `C × C` matrix.
public struct Evaluation: Sendable {
  /// The validated problem these numbers belong to.
  public internal(set) var problem: Problem
  /// `z = x/τ`.
  public internal(set) var scaled: [Double]
  /// The target distribution `y`.
  public internal(set) var targetDistribution: [Double]
  /// Naive softmax with its intermediates.
  public internal(set) var naive: NaiveTrace<Double>
  /// Max-subtracted softmax with its intermediates.
  public internal(set) var stable: StableTrace<Double>
  /// Single-pass softmax: its running maximum and sum, and its final `(m_C, d_C)`.
  public internal(set) var onlineRecurrence: OnlineRecurrence
  /// The split log-sum-exp.
  public internal(set) var logSumExp: LogSumExp<Double>
  /// `log s_i = z_i − LSE(z)`.
  public internal(set) var logSoftmax: [Double]
  /// The stable loss `c` (through log-sum-exp, with `log1p` when the target dominates).
  public internal(set) var loss: Double
  /// `−Σ y_i log s_i` with the naive softmax.
  public internal(set) var lossNaive: Double
  /// `−Σ y_i log s_i` with the max-subtracted softmax (can be `inf` where `s_T` rounds to 0).
  public internal(set) var lossFromStableSoftmax: Double
  /// The first masked class (`-inf`) the target puts mass on, which makes the loss infinite; nil when there is none.
  public internal(set) var maskedTarget: Int?
  /// `∂l/∂x = g(s − y)/τ`.
  public internal(set) var gradient: [Double]
  /// `x' = x − η ∂l/∂x`.
  public internal(set) var updatedLogits: [Double]
  /// The stable loss at `x'` (NaN when the step was refused).
  public var updatedLoss: Double {
    switch stepLoss {
    case .value(let v): v
    case .deferred(let d): d.value
    }
  }
  /// `updatedLoss`, computed up front or (when asked to defer it) when first read.
  var stepLoss: StepLoss
  /// Why the step cannot be taken, if it cannot (a logit that would become non-finite).
  public internal(set) var refusal: StepRefusal?
  /// How naive softmax fares on this vector.
  public internal(set) var overflow: OverflowReport
  /// The engine's terms and saved states, kept for the next update.
  var memory = EngineMemory()

  /// The softmax the lab trusts (max-subtracted).
  public var softmax: [Double] { stable.probabilities }

  /// Online `s_i = e^{z_i − m_C}/d_C` in the precision, `Softmax.online`'s operation for operation: computed when
  /// asked (an edit does not pay for C exponentials that no screen shows).
  public func onlineProbability(_ i: Int) -> Double {
    struct Probability: PrecisionBody {
      let z: Double
      let m: Double
      let d: Double
      func callAsFunction<T: PrecisionScalar>(_: T.Type) -> Double {
        typealias A = T.Lean
        return A.double(A.round(A.exp(A.round(A.round(z) - A.round(m))) / A.round(d)))
      }
    }
    // One value, no array: a frame asks for the rows it shows, and a frame allocates nothing.
    return problem.precision.open(Probability(z: scaled[i], m: onlineRecurrence.max, d: onlineRecurrence.sum))
  }

  /// The online softmax, every class (O(C)).
  public var onlineProbabilities: [Double] { onlineProbabilities(0..<problem.classes) }

  /// The single-pass trace with its probabilities (O(C): they are computed for this).
  public var online: OnlineTrace<Double> {
    OnlineTrace(
      runningMax: onlineRecurrence.runningMax, runningSum: onlineRecurrence.runningSum,
      probabilities: onlineProbabilities)
  }

  private func onlineProbabilities(_ indices: Range<Int>) -> [Double] {
    struct Probabilities: PrecisionBody {
      let z: [Double]
      let m: Double
      let d: Double
      let indices: Range<Int>
      func callAsFunction<T: PrecisionScalar>(_: T.Type) -> [Double] {
        typealias A = T.Lean
        let (mA, dA) = (A.round(m), A.round(d))
        return indices.map { A.double(A.round(A.exp(A.round(A.round(z[$0]) - mA)) / dA)) }
      }
    }
    return problem.precision.open(
      Probabilities(z: scaled, m: onlineRecurrence.max, d: onlineRecurrence.sum, indices: indices))
  }

  /// Computes everything for a problem. Call `Problem.validated()` first; an unvalidated problem may give NaN.
  ///
  /// The naive and online traces are computed step by step in the problem's precision, failures included. The
  /// stable quantities (max-subtracted softmax, log-sum-exp, loss, gradient, step) are computed in a wider format
  /// (`Float80` for float64 where the platform has it, `Double` otherwise) and rounded once, so each is the
  /// precision's best answer, correct to the last digit in all but near-tie cases. Above `wideLimit` classes, float64
  /// skips `Float80` (about 8× slower per exponential) and relies on its compensated sums alone: within about an ulp.
  public init(_ problem: Problem) { self.init(problem, deferStepLoss: false) }

  /// `deferStepLoss`: compute the loss after the step when it is first read rather than with the rest.
  init(_ problem: Problem, deferStepLoss: Bool) {
    self.problem = problem
    (scaled, targetDistribution, logSoftmax, gradient, updatedLogits) = ([], [], [], [], [])
    naive = NaiveTrace(exps: [], sum: 0, probabilities: [])
    stable = StableTrace(max: 0, argmax: 0, shifted: [], exps: [], sum: 0, probabilities: [])
    onlineRecurrence = OnlineRecurrence(runningMax: [], runningSum: [], max: 0, sum: 0)
    logSumExp = LogSumExp(max: 0, argmax: 0, rest: 0, logSum: 0, value: 0)
    (loss, lossNaive, lossFromStableSoftmax) = (0, 0, 0)
    stepLoss = .value(.nan)
    overflow = OverflowReport(OverflowReport.Scan(), count: 0, z: { _ in 0 }, precision: problem.precision)
    recompute(deferStepLoss: deferStepLoss)
  }

  /// The largest vector for which float64's trusted path runs in `Float80`.
  public static let wideLimit = 4096

  /// From this many classes the traces and the trusted path are computed side by side.
  public static let parallelThreshold = 8192

  /// The stable loss of `problem` in `T` with logit `n` moved to `moved`: `CrossEntropy.stableLoss` of
  /// `Softmax.logSumExp`, operation for operation, but reading the logits and the target where they are instead of
  /// building the rounded vectors (so that a caller can take it repeatedly without allocating).
  static func loss<T: SoftmaxScalar>(_ problem: Problem, moving n: Int, to moved: T, tau: T) -> T {
    problem.logits.withUnsafeBufferPointer { logits in
      let y = TargetEntries<T>(problem.targetSpec, classes: logits.count)
      return streamingLoss(count: logits.count) { j in
        let x = j == n ? moved : T(rounding: logits[j])
        return tau == 1 ? x : x / tau
      } y: {
        y[$0]
      }
    }
  }

  /// The loss of `p`'s inputs (validated in its precision, so already rounded into it) computed in `Float80` where
  /// the platform has it (`Double` otherwise): the reference each precision's loss is measured against.
  /// Streams over the logits (no array is built).
  public static func referenceLoss(_ p: Problem) -> Double { referenceLoss(p, moving: -1, to: 0) }

  /// ``referenceLoss(_:)`` with logit `n` read as `moved` (no copy of the logits is made; `n` −1 moves none).
  static func referenceLoss(_ p: Problem, moving n: Int, to moved: Double) -> Double {
    #if arch(x86_64) || arch(i386)
      return referenceLoss(p, Float80.self, moving: n, to: moved)
    #else
      return referenceLoss(p, Double.self, moving: n, to: moved)
    #endif
  }

  static func referenceLoss<W: SoftmaxScalar>(_ p: Problem, _: W.Type, moving n: Int = -1, to moved: Double = 0)
    -> Double
  {
    let tau = W(rounding: p.temperature)
    return p.logits.withUnsafeBufferPointer { logits in
      let y = TargetEntries<W>(p.targetSpec, classes: logits.count)
      return streamingLoss(count: logits.count) {
        W(rounding: $0 == n ? moved : logits[$0]) / tau
      } y: {
        y[$0]
      }.double
    }
  }

  /// `CrossEntropy.stableLoss` of `Softmax.logSumExp`, operation for operation, for `count` scaled logits read
  /// through `z` and a target read through `y`, without building either vector.
  @inline(__always)
  static func streamingLoss<T: SoftmaxScalar>(count c: Int, z: (Int) -> T, y: (Int) -> T) -> T {
    // `Softmax.logSumExp`: the first largest z, then the compensated sum of the other e^{z_j − M}.
    var k = 0
    var m = -T.infinity
    for j in 0..<c where z(j) > m {
      m = z(j)
      k = j
    }
    var rest = CompensatedSum<T>()
    for j in 0..<c where j != k { rest.add(Softmax.shiftedExp(z(j), m).exp) }
    let logSum = rest.logOnePlus
    // `CrossEntropy.stableLoss`.
    var loss = StableLossSum<T>()
    for i in 0..<c {
      let yi = y(i)
      if yi != 0 { loss.add(yi, max: m, z: z(i)) }
    }
    return loss.loss(logSum: logSum)
  }

  /// `z = x/τ`, skipping the division when `τ = 1` so the logits are used exactly.
  @inlinable
  static func scale<T: SoftmaxScalar>(_ x: [T], _ tau: T) -> [T] {
    tau == 1 ? x : x.map { $0 / tau }
  }

  // MARK: - On demand

  /// `∂s_i/∂x_n = (s_i δ_in − s_i s_n)/τ`, within a few ulps of exact in the problem's precision.
  ///
  /// The diagonal `s_i(1 − s_i)` would cancel when `s_i ≈ 1` (float64 `[40, 0]`: `1 − s_0` rounds to 0 where the
  /// exact entry is 4.248e−18). Only the largest class can have `s_i > 1/2`, and for it `1 − s_i = Σ_{j≠i} s_j =
  /// rest/(1 + rest)` with `rest = Σ_{j≠argmax} e^{z_j − M}`, the sum of positive terms log-sum-exp already keeps; every
  /// other `1 − s_i` is at least 1/2 and exact enough as it is. Each entry is computed in the trusted path's wide format
  /// and rounded once.
  public func jacobian(_ i: Int, _ n: Int) -> Double {
    struct Entry: PrecisionBody {
      let evaluation: Evaluation
      let i: Int
      let n: Int
      func callAsFunction<T: PrecisionScalar>(_: T.Type) -> Double {
        evaluation.jacobianEntry(i, n, T.self, wide: T.Wide.self)
      }
    }
    return problem.precision.open(Entry(evaluation: self, i: i, n: n))
  }

  /// Whether ``jacobian(_:_:)`` computes `1 − s_i` as `Σ_{j≠i} s_j` for this diagonal entry (the largest class).
  public func jacobianUsesComplementSum(_ i: Int) -> Bool { i == logSumExp.argmax && problem.classes > 1 }

  /// `1 − s_i` without cancellation: `Σ_{j≠i} s_j` for the largest class, `1 − s_i` (≥ 1/2) for the others.
  public func complement(_ i: Int) -> Double {
    #if arch(x86_64) || arch(i386)
      return Double(complement(i, Float80.self))
    #else
      return complement(i, Double.self)
    #endif
  }

  private func complement<W: SoftmaxScalar>(_ i: Int, _: W.Type) -> W {
    if i == logSumExp.argmax {
      let rest = W(rounding: logSumExp.rest)
      return rest / (1 + rest)
    }
    return 1 - W(rounding: stable.probabilities[i])
  }

  private func jacobianEntry<T: SoftmaxScalar, W: SoftmaxScalar>(_ i: Int, _ n: Int, _: T.Type, wide: W.Type)
    -> Double
  {
    let s = stable.probabilities
    let tau = W(converting: T(rounding: problem.temperature))
    let si = W(rounding: s[i])
    let v = i == n ? si * complement(i, W.self) : -(si * W(rounding: s[n]))
    return T(converting: tau == 1 ? v : v / tau).double
  }

  /// Row `i` of the Jacobian (`∂s_i/∂x_·`).
  public func jacobianRow(_ i: Int) -> [Double] {
    (0..<problem.classes).map { jacobian(i, $0) }
  }

  /// A window of the Jacobian; entry `[r][c]` is `∂s_{rows.lowerBound + r}/∂x_{columns.lowerBound + c}`.
  public func jacobianWindow(rows: Range<Int>, columns: Range<Int>) -> [[Double]] {
    rows.map { i in columns.map { jacobian(i, $0) } }
  }

  /// The full `C × C` Jacobian; meant for small `C` (the JSON report includes it up to 512 classes).
  public func jacobianMatrix() -> [[Double]] {
    jacobianWindow(rows: 0..<problem.classes, columns: 0..<problem.classes)
  }

  /// `J v` (equal to `vᵀ J`, as `J` is symmetric), in the problem's precision.
  public func jacobianVectorProduct(_ v: [Double]) -> [Double] {
    struct Product: PrecisionBody {
      let softmax: [Double]
      let v: [Double]
      let temperature: Double
      func callAsFunction<T: PrecisionScalar>(_: T.Type) -> [Double] {
        CrossEntropy.jacobianVectorProduct(
          softmax.map { T(rounding: $0) }, v.map { T(rounding: $0) }, temperature: T(rounding: temperature)
        ).doubles
      }
    }
    return problem.precision.open(Product(softmax: softmax, v: v, temperature: problem.temperature))
  }

  /// The chain rule by numbers for class `n`: `g·Σ_i (−y_i/s_i)·∂s_i/∂x_n` (one-hot: row `T` of `J` times `−1/s_T`).
  public func chainRule(_ n: Int) -> Double { chainRuleTerms(n).value }

  /// The chain rule for class `n`, the sum of its terms' magnitudes, and a bound on its rounding error.
  func chainRuleTerms(_ n: Int) -> (value: Double, magnitude: Double, bound: Double) {
    struct Terms: PrecisionBody {
      let evaluation: Evaluation
      let n: Int
      func callAsFunction<T: PrecisionScalar>(_: T.Type) -> (Double, Double, Double) {
        evaluation.chainRuleTerms(n, T.self)
      }
    }
    return problem.precision.open(Terms(evaluation: self, n: n))
  }

  private func chainRuleTerms<T: SoftmaxScalar>(_ n: Int, _: T.Type) -> (Double, Double, Double) {
    var total: T = 0
    var magnitude = 0.0
    var bound = 0.0
    var terms = 0
    let s = softmax
    let g = T(rounding: problem.upstream)
    let eps = Double(T.ulpOfOne)
    let tiny = Double(T.leastNonzeroMagnitude)
    for i in s.indices where targetDistribution[i] != 0 {
      let weight = -T(rounding: targetDistribution[i]) / T(rounding: s[i])
      let term = weight * T(rounding: jacobian(i, n))
      total += term
      let size = abs((g * term).double)
      magnitude += size
      // About six roundings of ε each (y_i/s_i, the entry, the product, g); a subnormal s_i or entry is off by up to
      // half the least subnormal, which y_i/s_i then magnifies.
      let si = Swift.max(abs(s[i]), tiny)
      bound += size * (6 * eps + 2 * tiny / si) + abs((g * weight).double) * tiny
      terms += 1
    }
    bound += eps * Double(terms) * magnitude
    return ((g * total).double, magnitude, bound)
  }

  /// The three-way gradient check for class `n` (see ``GradientCheck``).
  public func gradientCheck(_ n: Int) -> GradientCheck {
    let (chain, magnitude, bound) = chainRuleTerms(n)
    let facts = problem.precision.facts
    // The chain rule's own rounding, and the closed form's (one rounding, or the least subnormal).
    let closed = gradient[n]
    let tolerance = bound + 2 * facts.ulpOfOne * abs(closed) + facts.leastNonzero
    return GradientCheck(
      index: n, chain: chain, chainMagnitude: magnitude, closed: closed, finite: finiteDifference(n),
      chainTolerance: tolerance)
  }

  /// A central finite difference of the loss in logit `n`, in the problem's precision, with `h ≈ ε^{1/3}·max(1, |x_n|)`.
  /// Returns nil for a masked logit (no neighbourhood to difference over).
  public func finiteDifference(_ n: Int) -> FiniteDifference? {
    guard problem.logits[n].isFinite else { return nil }
    struct Estimate: PrecisionBody {
      let evaluation: Evaluation
      let n: Int
      func callAsFunction<T: PrecisionScalar>(_: T.Type) -> FiniteDifference { evaluation.finiteDifference(n, T.self) }
    }
    return problem.precision.open(Estimate(evaluation: self, n: n))
  }

  private func finiteDifference<T: SoftmaxScalar>(_ n: Int, _: T.Type) -> FiniteDifference {
    let xn = T(rounding: problem.logits[n])
    let scale = Swift.max(1, abs(Double(xn)))
    let h = T(Double.root(Double(T.ulpOfOne), 3) * scale)
    // Each loss is the lab's reference loss at the moved logit, rounded once into the precision: the difference
    // then sees the precision's step and rounding, not the accumulated error of one particular loss kernel. Above
    // `wideLimit` classes the reference is taken in Double with its compensated sums, as the trusted path is (about an
    // ulp for float64, which the tolerance below allows; a Float80 exponential costs about 8 Double ones).
    let wide = problem.classes <= Evaluation.wideLimit
    func loss(_ moved: T) -> T {
      T(
        rounding: wide
          ? Evaluation.referenceLoss(problem, moving: n, to: Double(moved))
          : Evaluation.referenceLoss(problem, Double.self, moving: n, to: Double(moved)))
    }
    let up = xn + h
    let down = xn - h
    let plus = loss(up)
    let minus = loss(down)
    let g = T(rounding: problem.upstream)
    let est = g * (plus - minus) / (up - down)
    let eps = Double(T.ulpOfOne)
    let step = Double((up - down) / 2)
    let tauD = problem.temperature
    let gAbs = abs(problem.upstream)
    // Taylor remainder of a central difference: h²|c‴(ξ)|/6, with c‴ = s(1 − s)(1 − 2s)/τ³, and s(1 − s) changing
    // by at most a factor e^{h/τ} over the step (its log-derivative in z is 1 − 2s, within [−1, 1]).
    // In logs, so that an s_n that underflowed here still bounds what the step can reach.
    let growth = Swift.min(0.25, Double.exp(Swift.min(0, logCurvature(n) + 2 * step / tauD)))
    let truncation = step * step / 6 * growth / (tauD * tauD * tauD)
    // Each loss is within half an ulp (ε/2 relative) of its value (about an ulp for float64 above `wideLimit`), so
    // their difference within ε·max|c| (2ε·max|c|), divided by 2h: `lossRounding` is twice the first (the second, and
    // the factor 2 below doubles it again); z_n = (x_n ± h)/τ is rounded, which moves the loss by about
    // ε|z_n|·|s_n − y_n|.
    let lossRounding = eps * Swift.max(abs(Double(plus)), abs(Double(minus))) / step
    let slope = gAbs == 0 ? 0 : abs(gradient[n]) / gAbs * tauD
    let zRounding = 2 * eps * abs(Double(xn)) / tauD * slope / step
    let tolerance =
      gAbs * 2 * (truncation + lossRounding + zRounding) + 4 * eps * (abs(gradient[n]) + abs(Double(est)))
      + 8 * Double(T.leastNonzeroMagnitude)
    return FiniteDifference(
      index: n, step: Double((up - down) / 2), lossPlus: Double(plus), lossMinus: Double(minus),
      estimate: Double(est), analytic: gradient[n], tolerance: tolerance)
  }

  /// `ln(s_n(1 − s_n))` from the trusted log-softmax (finite unless every other class is masked).
  func logCurvature(_ n: Int) -> Double {
    let complement = complement(n)
    if complement > 0 { return logSoftmax[n] + Double.log(complement) }
    // 1 − s_n underflowed even in the wide format: bound it by the classes' count times the largest other class.
    let others = logSoftmax.indices.filter { $0 != n }.map { logSoftmax[$0] }.max() ?? -.infinity
    return logSoftmax[n] + others + Double.log(Double(problem.classes))
  }

  /// The problem after one gradient step (same target and knobs), or nil when the step is refused.
  public var stepped: Problem? {
    guard refusal == nil else { return nil }
    var p = problem
    p.logits = updatedLogits
    return p
  }
}

/// The loss after the gradient step: computed with the rest, or (when deferred) when first read.
enum StepLoss: Sendable {
  case value(Double)
  case deferred(Deferred<Double>)
}

extension Evaluation {
  /// The evaluation of `problem` and its columns in other precisions, computed as independent jobs: from
  /// ``parallelThreshold`` classes on the available cores, the longest first; one after the other below.
  public static func withColumns(_ problem: Problem, precisions: [Precision]) -> (
    Evaluation, [Result<PrecisionColumn, InputError>]
  ) {
    enum Job: Sendable {
      case evaluation(Evaluation)
      case column(Result<PrecisionColumn, InputError>)
    }
    // Job 0: the evaluation; 1…: columns, float16 (the slowest) first.
    let columns = precisions.sorted { $0 == .float16 && $1 != .float16 }
    let results = Parallel.map(columns.count + 1, concurrently: problem.classes >= parallelThreshold) { k -> Job in
      // The columns' comparison has no use for the loss after the step: it is computed only if something reads it.
      k == 0
        ? .evaluation(Evaluation(problem, deferStepLoss: true))
        : .column(PrecisionColumn.validating(problem, in: columns[k - 1]))
    }
    var evaluation: Evaluation?
    var byPrecision: [Precision: Result<PrecisionColumn, InputError>] = [:]
    for (k, result) in results.enumerated() {
      switch result {
      case .evaluation(let e): evaluation = e
      case .column(let column): byPrecision[columns[k - 1]] = column
      }
    }
    guard let evaluation else { preconditionFailure("job 0 is the evaluation") }
    return (evaluation, precisions.compactMap { byPrecision[$0] })
  }
}

/// Why a gradient step is refused.
public enum StepRefusal: Sendable, Equatable {
  /// Logit `n` (finite, `x`) would leave the precision's range: `x − η·gradient` is not finite in it.
  case logit(Int, x: Double, gradient: Double, precision: Precision)
  /// A stepped logit divided by τ would leave the precision's range.
  case scaled(Precision)
}

/// The online recurrence `m_j = max(m_{j−1}, z_j)`, `d_j = d_{j−1} e^{m_{j−1} − m_j} + e^{z_j − m_j}` of an
/// ``Evaluation``: every state and the final one (values of the precision, held as `Double`).
public struct OnlineRecurrence: Sendable {
  public internal(set) var runningMax: [Double]
  public internal(set) var runningSum: [Double]
  /// `m_C` and `d_C`.
  public internal(set) var max: Double
  public internal(set) var sum: Double
}
