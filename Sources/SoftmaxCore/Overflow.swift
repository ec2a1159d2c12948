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
  /// What went wrong first, in the order a diagnosis names it.
  public var kind: Kind
  /// The facts a diagnosis quotes.
  public private(set) var precision: Precision
  /// The number of classes.
  public private(set) var count: Int
  /// The largest `z` whose `e^z` overflows (`-inf` when none does).
  public private(set) var largestOverflow: Double
  /// The largest `z` (first on ties) and its naive `e^z`.
  public private(set) var largestZ: Double
  public private(set) var largestExp: Double
  /// The naive `σ`.
  public private(set) var sum: Double
  /// The exact `log Σ e^{z_i}`, when the report was given it.
  public private(set) var exactLogSum: Double?
  /// The `z` of the first underflowing and of the first subnormal term (0 when there is none).
  public private(set) var firstUnderflowZ: Double
  public private(set) var firstSubnormalZ: Double

  /// What the report found first: the cause of a NaN, then of zeros, then of inaccuracy.
  public enum Kind: Sendable, Equatable, CaseIterable {
    /// Nothing: every term and σ are in range and accurate, and so is the naive loss.
    case ok
    /// Some `e^{z_i}` is `+inf`.
    case overflow
    /// `σ` is `+inf` although every term is finite.
    case sumOverflow
    /// Some `e^{z_i}` (or every one, when `sumIsZero`) rounds to 0.
    case underflow
    /// Some `e^{z_i}` is subnormal.
    case subnormal
    /// `σ` summed left to right drifted from the exact sum by more than `max(16ε, 10^−3)`.
    case sumError
    /// `σ` is off by less, but by more than the naive probabilities can carry and stay within ``fineUlps``.
    case rounding
    /// The naive loss is more than ``fineUlps`` from the accurate one.
    case lossError
  }

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
      (outcome, kind) = (.nan, .overflow)
    } else if sumOverflowsWithFiniteTerms {
      (outcome, kind) = (.zeros, .sumOverflow)
    } else if sumIsZero {
      (outcome, kind) = (.nan, .underflow)
    } else if let error = sumRelativeError, error > Swift.max(16 * facts.ulpOfOne, 1e-3), exactLogSum != nil {
      // The sum, rounded into the precision term by term, has drifted from the exact one. This comes before
      // underflow and subnormal terms: it skews every probability, not a few small ones.
      (outcome, kind) = (.inaccurate, .sumError)
    } else if let error = sumRelativeError, let exact = exactLogSum,
      error > Self.fineSumError * facts.ulpOfOne + Self.logSumNoise(exact)
    {
      // Smaller, but still more than the naive s_i = e^{z_i}/σ can carry and stay within `fineUlps` of exact.
      (outcome, kind) = (.inaccurate, .rounding)
    } else if !underflowing.isEmpty {
      (outcome, kind) = (.inaccurate, .underflow)
    } else if !subnormal.isEmpty {
      (outcome, kind) = (.inaccurate, .subnormal)
    } else {
      (outcome, kind) = (.fine, .ok)
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
      (outcome, kind) = (.inaccurate, .lossError)
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

}
