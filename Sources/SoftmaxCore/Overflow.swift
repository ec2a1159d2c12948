import RealModule

/// How naive softmax fares on a vector, and why.
public struct OverflowReport: Sendable, Equatable {
  /// The verdict on the naive result.
  public enum Outcome: String, Sendable, Equatable {
    /// Every `e^{z_i}` is finite and normal and the sum is finite: the naive result is as good as the stable one.
    case fine
    /// Some terms underflow to 0 or are subnormal, or the sum itself lost accuracy: the naive result is finite but
    /// its probabilities are off.
    case inaccurate
    /// The sum overflows although every term is finite: `finite/inf = 0` everywhere.
    case zeros
    /// An overflowing term (`inf/inf`) or a zero sum (`0/0`) gives NaN.
    case nan
  }

  /// Indices whose `e^{z_i}` rounds to `+inf`.
  public var overflowing: [Int]
  /// Indices with a finite `z_i` whose `e^{z_i}` rounds to 0 (masked classes are not counted).
  public var underflowing: [Int]
  /// Indices whose `e^{z_i}` is subnormal (non-zero but below the least normal value).
  public var subnormal: [Int]
  /// `σ = Σ e^{z_i}` is `+inf`.
  public var sumOverflows: Bool
  /// `σ` overflows although every term is finite (float16 `[11, 11]`: 59874 + 59874 > 65504).
  public var sumOverflowsWithFiniteTerms: Bool
  /// `σ` is 0 (every term underflowed).
  public var sumIsZero: Bool
  /// `|σ/σ_exact − 1|` for the naive sum against the exact `Σ e^{z_i}`, when the exact sum was given.
  public var sumRelativeError: Double?
  /// Whether some `e^{z_i}` or the sum leaves the format's range or precision (overflow, underflow, subnormal terms),
  /// as opposed to a verdict on the sum's rounding alone.
  public var exponentialsFail: Bool {
    !overflowing.isEmpty || !underflowing.isEmpty || !subnormal.isEmpty || sumOverflows || sumIsZero
  }
  /// The verdict.
  public var outcome: Outcome
  /// A short label for a status line: `ok`, `overflow`, `sum overflow`, `underflow`, `subnormal`, `sum error`.
  public var label: String
  /// What the diagnosis quotes: the precision, the class count, the largest overflowing `z`, the largest `z` and its
  /// `e^z`, the naive `σ`, the exact `log σ` (when given), and the `z` of the first underflowing and first subnormal
  /// term. The sentence is written when read (a report stays small, and rebuilding one allocates nothing).
  private var precision: Precision
  private var count: Int
  private var largestOverflow: Double
  private var largestZ: Double
  private var largestExp: Double
  private var sum: Double
  private var exactLogSum: Double?
  private var firstUnderflowZ: Double
  private var firstSubnormalZ: Double

  /// Reads the report off a naive trace computed in precision `T`; `exactLogSum`, `log Σ e^{z_i}` computed
  /// accurately, lets it also judge the naive sum itself.
  public init<T: SoftmaxScalar>(
    z: [T], naive: NaiveTrace<T>, precision: Precision, exactLogSum: Double? = nil
  ) {
    let scan = Scan(z: z, naive: naive, precision: precision)
    self.init(scan, count: z.count, z: { z[$0].double }, precision: precision, exactLogSum: exactLogSum)
  }

  /// What the report needs from one pass over the naive exponentials, gathered element by element.
  public struct Scan: Sendable {
    var overflowing: [Int] = []
    var underflowing: [Int] = []
    var subnormal: [Int] = []
    var largestOverflow = -Double.infinity

    public init() {}

    /// An empty scan that takes over the index arrays of `old`, emptied with their capacity kept, so that rebuilding
    /// the report after an edit allocates nothing.
    init(reusing old: inout OverflowReport) {
      swap(&overflowing, &old.overflowing)
      swap(&underflowing, &old.underflowing)
      swap(&subnormal, &old.subnormal)
      overflowing.removeAll(keepingCapacity: true)
      underflowing.removeAll(keepingCapacity: true)
      subnormal.removeAll(keepingCapacity: true)
    }

    /// A scan holding the index lists of `old` as they are (`old` keeps empty ones), for an update that keeps part
    /// of them.
    init(lists old: inout OverflowReport) {
      swap(&overflowing, &old.overflowing)
      swap(&underflowing, &old.underflowing)
      swap(&subnormal, &old.subnormal)
    }

    /// The scan of a whole naive trace, with its sum and largest term.
    public init<T: SoftmaxScalar>(z: [T], naive: NaiveTrace<T>, precision: Precision) {
      let leastNormal = precision.facts.leastNormal
      for i in z.indices { add(index: i, z: z[i].double, exp: naive.exps[i].double, leastNormal: leastNormal) }
      let (k, zk) = Softmax.argmax(z)
      sum = naive.sum.double
      largest = (zk.double, naive.exps[k].double)
    }

    /// The naive `σ`, and the largest `z` (first on ties) with its naive `e^z`: set when the pass is over.
    public var sum = Double.nan
    public var largest = (z: Double.nan, exp: Double.nan)

    /// Records class `index` with its scaled logit `z` and its naive `e^z` (a value of the precision, whose least
    /// normal magnitude is `leastNormal`).
    @inlinable @inline(__always)
    public mutating func add(index: Int, z: Double, exp e: Double, leastNormal: Double) {
      if e == .infinity {
        record(overflow: index, z: z)
      } else if e == 0 {
        if z != -.infinity { recordUnderflow(index) }
      } else if e < leastNormal {
        recordSubnormal(index)
      }
    }

    @usableFromInline mutating func record(overflow index: Int, z: Double) {
      overflowing.append(index)
      largestOverflow = Swift.max(largestOverflow, z)
    }
    @usableFromInline mutating func recordUnderflow(_ index: Int) { underflowing.append(index) }
    @usableFromInline mutating func recordSubnormal(_ index: Int) { subnormal.append(index) }
  }

  /// The report from a finished scan (with its `sum` and `largest` set); `z` reads one scaled logit, and
  /// `exactLogSum`, when given, is `log Σ e^{z_i}` computed accurately for the same `z` the naive sum added (the
  /// evaluation passes it when `τ = 1`: otherwise its trusted path divides by `τ` in a wider format, and the
  /// difference would be the rounding of `x/τ`, not of the sum), to judge the naive sum against.
  public init(
    _ scan: Scan, count: Int, z: (Int) -> Double, precision: Precision, exactLogSum: Double? = nil
  ) {
    let sum = scan.sum
    let facts = precision.facts
    overflowing = scan.overflowing
    underflowing = scan.underflowing
    subnormal = scan.subnormal
    self.precision = precision
    self.count = count
    largestOverflow = scan.largestOverflow
    (largestZ, largestExp) = scan.largest
    self.sum = sum
    self.exactLogSum = exactLogSum
    firstUnderflowZ = scan.underflowing.first.map(z) ?? 0
    firstSubnormalZ = scan.subnormal.first.map(z) ?? 0
    sumOverflows = sum == .infinity
    sumOverflowsWithFiniteTerms = sumOverflows && overflowing.isEmpty
    sumIsZero = sum == 0
    if let exact = exactLogSum, sum.isFinite, sum > 0, exact.isFinite {
      sumRelativeError = abs(Double.expMinusOne(Double.log(sum) - exact))
    } else {
      sumRelativeError = nil
    }
    if !overflowing.isEmpty {
      (outcome, label) = (.nan, "overflow")
    } else if sumOverflowsWithFiniteTerms {
      (outcome, label) = (.zeros, "sum overflow")
    } else if sumIsZero {
      (outcome, label) = (.nan, "underflow")
    } else if let error = sumRelativeError, error > Swift.max(16 * facts.ulpOfOne, 1e-3), exactLogSum != nil {
      // The sum, rounded into the precision term by term, has drifted from the exact one. This comes before
      // underflow and subnormal terms: it skews every probability, not a few small ones.
      (outcome, label) = (.inaccurate, "sum error")
    } else if let error = sumRelativeError, let exact = exactLogSum,
      error > Self.fineSumError * facts.ulpOfOne + Self.logSumNoise(exact)
    {
      // Smaller, but still more than the naive s_i = e^{z_i}/σ can carry and stay within `fineUlps` of exact.
      (outcome, label) = (.inaccurate, "rounding")
    } else if !underflowing.isEmpty {
      (outcome, label) = (.inaccurate, "underflow")
    } else if !subnormal.isEmpty {
      (outcome, label) = (.inaccurate, "subnormal")
    } else {
      (outcome, label) = (.fine, "ok")
    }
  }

  /// The spacing of `precision`'s values at `v` (the least subnormal near zero).
  public static func ulp(of v: Double, in precision: Precision) -> Double {
    let facts = precision.facts
    guard v.isFinite, v != 0 else { return facts.leastNonzero }
    return Swift.max(
      Double(sign: .plus, exponent: v.exponent - (facts.significandBits - 1), significand: 1),
      facts.leastNonzero)
  }

  /// The most ulps of its precision by which a naive value may differ from the accurate one and still be called fine.
  public static let fineUlps = 4.0

  /// σ's relative error, in ε, above which the naive probabilities are more than ``fineUlps`` from exact (each
  /// `s_i = e^{z_i}/σ` adds about 1.5 ulps of its own to σ's error).
  public static let fineSumError = 2.5

  /// How far `sumRelativeError` itself may be off: the exact `log σ` arrives as a `Double`, so it carries about an ulp
  /// of `|log σ|` (and `log` of the naive sum one more), which in float64 is a few ε of σ.
  public static func logSumNoise(_ exactLogSum: Double) -> Double { 2 * (abs(exactLogSum) + 1) * Double.ulpOfOne }

  /// "Fine" means accurate, not merely finite: besides the exponentials and σ (judged when the report is built), the
  /// naive loss must be within ``fineUlps`` of the accurate one. Otherwise the verdict becomes `inaccurate`.
  public mutating func judgeAccuracy(naiveLoss: Double, loss: Double) {
    guard outcome == .fine else { return }
    let lossUlps = naiveLoss == loss ? 0 : abs(naiveLoss - loss) / Self.ulp(of: loss, in: precision)
    if !(lossUlps <= Self.fineUlps) {
      (outcome, label) = (.inaccurate, "loss error")
      inaccuracy = Inaccuracy(ulps: lossUlps, index: -1, naive: naiveLoss, accurate: loss)
    }
  }

  /// The worst naive value against the accurate one, in ulps (`index` −1 for the loss), when accuracy failed.
  public private(set) var inaccuracy: Inaccuracy? = nil

  /// A naive value against the accurate one.
  public struct Inaccuracy: Sendable, Equatable {
    /// The distance in ulps of the precision.
    public var ulps: Double
    /// The class, or −1 for the loss.
    public var index: Int
    public var naive: Double
    public var accurate: Double
  }

  /// One sentence saying what happens and why, with the numbers in their shortest exact digits (for reports).
  public var diagnosis: TextLine { diagnosis(significantDigits: nil) }

  /// The same sentence for a screen: a number whose exact digits are short (`709.78`, `11`) as it is, any other with
  /// `significantDigits` digits (`2.943`, not `2.9425903007032304`); nil for every number's exact digits.
  public func diagnosis(significantDigits digits: Int?) -> TextLine {
    let facts = precision.facts
    let name = precision.rawValue
    func fmt(_ x: Double) -> TextLine {
      let exact = TextLine(compact: x)
      guard let digits, exact.scalarCount > 6 else { return exact }
      return "\(x, digits: digits)"
    }
    switch label {
    case "overflow":
      return
        "e^{\(fmt(largestOverflow))} overflows \(name) above \(fmt(Self.rounded(facts.expOverflow))): "
        + "σ = inf, so inf/inf = NaN" + (overflowing.count < count ? " and finite/inf = 0 elsewhere" : "")
    case "sum overflow":
      return
        "every e^{z_i} is finite (e^{\(fmt(largestZ))} = \(fmt(largestExp))) but σ overflows \(name)'s "
        + "max \(fmt(facts.maxFinite)): s = finite/inf = 0 everywhere"
    case "underflow" where sumIsZero:
      return
        "every e^{z_i} underflows to 0 in \(name) (below \(fmt(Self.rounded(facts.expZero)))): σ = 0, so 0/0 = NaN"
    case "sum error":
      let exact = exactLogSum ?? .nan
      let error = sumRelativeError ?? .nan
      let ratio = Double.exp(Double.log(sum) - exact)
      let off: TextLine =
        ratio < 0.5
        ? "\(1 / ratio, digits: 3)× too small"
        : ratio > 2
          ? "\(ratio, digits: 3)× too large"
          : "\(error * 100, digits: 2)% too \(ratio < 1 ? "small" : "large")"
      return
        "σ = Σ e^{z_j} summed left to right in \(name) is \(fmt(sum)) against the exact "
        + "\(Double.exp(exact), digits: 4), \(off): each addition rounds the running sum to its "
        + "spacing, so small terms are dropped or counted in whole steps; every naive s_i inherits the error"
    case "underflow":
      return
        "e^{\(fmt(firstUnderflowZ))} underflows to 0 in \(name) (below \(fmt(Self.rounded(facts.expZero)))): "
        + "\(underflowing.count) naive s_i \(underflowing.count == 1 ? "is" : "are") exactly 0"
    case "subnormal":
      return
        "e^{\(fmt(firstSubnormalZ))} is subnormal in \(name) (below \(fmt(Self.rounded(facts.expSubnormal)))): "
        + "it keeps fewer than \(facts.significandBits) bits, so naive s_\(subnormal[0]) loses accuracy"
    case "loss error":
      let w = inaccuracy ?? Inaccuracy(ulps: 0, index: -1, naive: .nan, accurate: .nan)
      return
        "every e^{z_i} is in range, but the naive loss −log s_T is \(fmt(w.naive)) against the accurate "
        + "\(fmt(w.accurate)) (\(w.ulps, digits: 2) ulps off): s_T rounds close to 1 and −log of it keeps only the "
        + "digits s_T has; log-sum-exp computes c = log(1 + Σ_{j≠T} e^{z_j − z_T}) with log1p instead"
    case "rounding":
      let error = sumRelativeError ?? .nan
      return
        "every e^{z_i} is in range, but σ = Σ e^{z_j} summed left to right in \(name) is off by "
        + "\(error, digits: 2) relative (\(error / facts.ulpOfOne, digits: 2) ulps): every naive s_i inherits it, "
        + "more than the \(Int(Self.fineUlps)) ulps called fine"
    default:
      return
        "naive softmax is fine here (σ, c within \(Int(Self.fineUlps)) ulps): largest z = \(fmt(largestZ)) < \(fmt(Self.rounded(facts.expOverflow))) "
        + "and no e^{z_i} underflows"
    }
  }

  /// Thresholds are shown to 2 decimals (709.78, −745.13, 11.09).
  private static func rounded(_ x: Double) -> Double { (x * 100).rounded() / 100 }
}
