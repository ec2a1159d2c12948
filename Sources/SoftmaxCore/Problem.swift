import RealModule

/// Everything the lab computes from: logits, target, precision and the knobs of the loss and the step.
///
/// Values are stored as `Double`; once `validated()` they are exactly representable in `precision`.
public struct Problem: Sendable, Equatable {
  /// The logits `x`; `-inf` marks a masked class.
  public var logits: [Double]
  /// The target index `T` (0-based). Ignored for the loss when `softTarget` is set.
  public var target: Int
  /// The format every quantity is computed in.
  public var precision: Precision
  /// Temperature `τ > 0`: the softmax sees `z = x/τ`.
  public var temperature: Double
  /// Label smoothing `ε ∈ [0, 1]`: `y = (1 − ε)·e_T + ε/C`.
  public var labelSmoothing: Double
  /// An explicit target distribution, overriding `target` and `labelSmoothing` for the loss.
  public var softTarget: [Double]?
  /// The upstream gradient `g = ∂l/∂c`.
  public var upstream: Double
  /// The learning rate `η` of one gradient step.
  public var learningRate: Double

  public init(
    logits: [Double], target: Int = 0, precision: Precision = .float64, temperature: Double = 1,
    labelSmoothing: Double = 0, softTarget: [Double]? = nil, upstream: Double = 1, learningRate: Double = 0.1
  ) {
    self.logits = logits
    self.target = target
    self.precision = precision
    self.temperature = temperature
    self.labelSmoothing = labelSmoothing
    self.softTarget = softTarget
    self.upstream = upstream
    self.learningRate = learningRate
  }

  /// The number of classes `C`.
  public var classes: Int { logits.count }

  /// The target as the loss sees it.
  public var targetSpec: TargetSpec {
    if let q = softTarget { return .distribution(q) }
    return .index(target, smoothing: labelSmoothing)
  }

  /// Whether `y` is exactly one-hot (no smoothing, no soft target): then the gradient sums to 0 and `c = −log s_T`.
  public var isOneHot: Bool { softTarget == nil && labelSmoothing == 0 }

  /// Checks one logit for this precision and returns it rounded into the precision.
  ///
  /// `-inf` is allowed (a masked class); NaN, `+inf` and values that overflow the precision are refused.
  public static func checkLogit(_ x: Double, index: Int?, precision: Precision) throws(InputError) -> Double {
    // Fast path: a finite value that stays finite in the precision (no message is built).
    let rounded = precision.round(x)
    if rounded.isFinite || rounded == -.infinity && x == -.infinity { return rounded }
    let name = index.map { "logit \($0)" } ?? "logit"
    if x.isNaN { throw InputError("\(name) is NaN: not allowed (use -inf to mask a class)") }
    if x == .infinity { throw InputError("\(name) is +inf: only -inf (a masked class) is allowed") }
    if rounded.isInfinite && x.isFinite {
      throw InputError(
        "\(name) = \(compact(x)) is not finite in \(precision.rawValue) "
          + "(largest finite value \(precision.shortest(precision.facts.maxFinite)))")
    }
    return rounded
  }

  /// The problem with every value checked and rounded into `precision`, or a one-line message naming what is wrong.
  public func validated() throws(InputError) -> Problem { try validated(roundedFrom: nil) }

  /// ``validated()`` for a problem whose values were already rounded into `source` and are now taken into this
  /// problem's precision (a comparison across precisions): a soft target is allowed the sum error of `source`'s rounding too,
  /// so `[0.2, 0.3, 0.5]` rounded into bfloat16 (summing to 1.0009765625) is still a target in float64.
  public func validated(roundedFrom source: Precision?) throws(InputError) -> Problem {
    var p = self
    let c = logits.count
    if c == 0 { throw InputError("no logits given (expected at least one class, e.g. 1,2,3)") }
    if c > NumberListParser.maximumCount {
      throw InputError("\(c) classes is more than the \(NumberListParser.maximumCount) allowed")
    }
    // Round every logit in one tight loop; only a value that is not finite afterwards needs the full check (which
    // throws its message unless it is a masked class).
    p.logits = precision.round(logits)
    for i in p.logits.indices where !p.logits[i].isFinite {
      p.logits[i] = try Problem.checkLogit(logits[i], index: i, precision: precision)
    }
    if !p.logits.contains(where: { $0 != -.infinity }) {
      throw InputError("every logit is -inf (masked): at least one class must be unmasked")
    }
    try p.validateSettings(softTargetSource: source)
    return p
  }

  /// Checks and rounds the target and the knobs (everything but the logits, which must be validated already): the
  /// second half of ``validated()``, with the same messages in the same order. Reads the logits where they are (a
  /// change of temperature checks every `x/τ`) and builds no array but a soft target; on error `self` is unchanged.
  public mutating func validateSettings() throws(InputError) { try validateSettings(softTargetSource: nil) }

  mutating func validateSettings(softTargetSource: Precision?) throws(InputError) {
    var p = self
    try p.checkAndRoundSettings(softTargetSource: softTargetSource)
    self = p
  }

  private mutating func checkAndRoundSettings(softTargetSource: Precision?) throws(InputError) {
    let c = logits.count
    let (temperature, labelSmoothing, softTarget, upstream, learningRate) = (
      self.temperature, self.labelSmoothing, self.softTarget, self.upstream, self.learningRate
    )
    if target < 0 || target >= c {
      throw InputError("target \(target) is out of range for \(c) classes (expected 0...\(c - 1))")
    }
    guard temperature.isFinite, temperature > 0 else {
      throw InputError("temperature \(compact(temperature)) must be a finite number > 0")
    }
    self.temperature = precision.round(temperature)
    if self.temperature == 0 || self.temperature.isInfinite {
      throw InputError(
        "temperature \(compact(temperature)) is not a positive finite number in \(precision.rawValue)")
    }
    // With τ = 1, z = x, which the loop above already checked.
    for i in logits.indices where self.temperature != 1 && logits[i].isFinite {
      let z = precision.round(logits[i] / self.temperature)
      if !z.isFinite {
        throw InputError(
          "logit \(i) / temperature = \(compact(logits[i] / self.temperature)) is not finite in "
            + "\(precision.rawValue) (largest finite value \(precision.shortest(precision.facts.maxFinite)))")
      }
    }
    guard labelSmoothing.isFinite, (0...1).contains(labelSmoothing) else {
      throw InputError("label smoothing \(compact(labelSmoothing)) must be in [0, 1]")
    }
    self.labelSmoothing = precision.round(labelSmoothing)
    if let q = softTarget {
      if labelSmoothing != 0 {
        throw InputError("give either a soft target or label smoothing, not both")
      }
      if q.count != c {
        throw InputError("soft target has \(q.count) values but there are \(c) classes")
      }
      for (i, v) in q.enumerated() where !(v.isFinite && v >= 0) {
        throw InputError("soft target \(i) = \(compact(v)) must be a finite number >= 0")
      }
      let sum = q.reduce(0, +)
      // Rounding each entry into the precision moves the sum by at most half an ulp of 1 (each by half an ulp of
      // itself), so the rounded target of a valid one passes this check again.
      var tolerance = 1e-6 + precision.facts.ulpOfOne / 2
      if let source = softTargetSource {
        // Each entry was rounded into `source` (half an ulp of itself), so the sum is off by at most half its ulp of 1.
        tolerance = Swift.max(tolerance, 1e-6 + source.facts.ulpOfOne / 2)
      }
      if abs(sum - 1) > tolerance {
        throw InputError(
          "soft target sums to \(compact(sum)), not 1 (tolerance \(compact(twoDigits(tolerance))))"
        )
      }
      self.softTarget = q.map(precision.round)
    }
    guard upstream.isFinite else {
      throw InputError("upstream gradient \(compact(upstream)) must be finite")
    }
    self.upstream = precision.round(upstream)
    if !self.upstream.isFinite {
      throw InputError("upstream gradient \(compact(upstream)) is not finite in \(precision.rawValue)")
    }
    guard learningRate.isFinite else {
      throw InputError("learning rate \(compact(learningRate)) must be finite")
    }
    self.learningRate = precision.round(learningRate)
    if !self.learningRate.isFinite {
      throw InputError("learning rate \(compact(learningRate)) is not finite in \(precision.rawValue)")
    }
  }

  /// `x` validated as logit `i` of this (validated) problem: the value ``validated()`` would keep, or the error it would
  /// throw, for the problem with that one logit changed. No array is built.
  public func validatedLogit(_ x: Double, at i: Int) throws(InputError) -> Double {
    let v = try Problem.checkLogit(x, index: i, precision: precision)
    if v == -.infinity, !logits.indices.contains(where: { $0 != i && logits[$0] != -.infinity }) {
      throw InputError("every logit is -inf (masked): at least one class must be unmasked")
    }
    if temperature != 1 && v.isFinite && !precision.round(v / temperature).isFinite {
      throw InputError(
        "logit \(i) / temperature = \(compact(v / temperature)) is not finite in "
          + "\(precision.rawValue) (largest finite value \(precision.shortest(precision.facts.maxFinite)))")
    }
    return v
  }
}

/// A number in an input error: the shortest round-trip digits, without a trailing `.0` (`1002`, `709.78`).
func compact(_ x: Double) -> String {
  var s = x.description
  if s.hasSuffix(".0") { s.removeLast(2) }
  return s
}

/// `x` rounded to two significant digits (for a tolerance quoted in a message).
func twoDigits(_ x: Double) -> Double {
  guard x.isFinite, x > 0 else { return x }
  // Powers of ten up to 10^22 are exact, so the division or product rounds once to the nearest double.
  let k = Int(Double.log10(x).rounded(.down)) - 1
  guard abs(k) <= 22 else { return x }
  let p = Double.pow(10, Double(abs(k)))
  return k < 0 ? (x * p).rounded() / p : (x / p).rounded() * p
}
