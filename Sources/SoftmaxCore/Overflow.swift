import RealModule

/// How naive softmax fares on a vector, and why.
public struct OverflowReport: Sendable, Equatable {
  /// The verdict on the naive result.
  public enum Outcome: String, Sendable, Equatable {
    /// Every `e^{z_i}` is finite and normal and the sum is finite: the naive result is as good as the stable one.
    case fine
    /// Some terms underflow to 0 or are subnormal: the naive result is finite but loses small probabilities.
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
  /// The verdict.
  public var outcome: Outcome
  /// A short label for a status line: `ok`, `overflow`, `sum overflow`, `underflow`, `subnormal`.
  public var label: String
  /// One sentence saying what happens and why, with the numbers.
  public var diagnosis: String

  /// Reads the report off a naive trace computed in precision `T`.
  public init<T: SoftmaxScalar>(z: [T], naive: NaiveTrace<T>, precision: Precision) {
    var scan = Scan()
    let leastNormal = precision.facts.leastNormal
    for i in z.indices { scan.add(index: i, z: z[i].double, exp: naive.exps[i].double, leastNormal: leastNormal) }
    let (k, zk) = Softmax.argmax(z)
    self.init(
      scan, sum: naive.sum.double, largest: (zk.double, naive.exps[k].double), count: z.count, z: { z[$0].double },
      precision: precision)
  }

  /// What the report needs from one pass over the naive exponentials, gathered element by element.
  public struct Scan: Sendable {
    var overflowing: [Int] = []
    var underflowing: [Int] = []
    var subnormal: [Int] = []
    var largestOverflow = -Double.infinity

    public init() {}

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

  /// The report from a finished scan: `sum` is the naive `σ`, `largest` the largest `z` (first on ties) with its
  /// naive `e^z`, `z` reads one scaled logit.
  public init(
    _ scan: Scan, sum: Double, largest: (z: Double, exp: Double), count: Int, z: (Int) -> Double,
    precision: Precision
  ) {
    let facts = precision.facts
    overflowing = scan.overflowing
    underflowing = scan.underflowing
    subnormal = scan.subnormal
    let largestOverflow = scan.largestOverflow
    sumOverflows = sum == .infinity
    sumOverflowsWithFiniteTerms = sumOverflows && overflowing.isEmpty
    sumIsZero = sum == 0
    let name = precision.rawValue
    let fmt = DecimalFormat.compact
    if !overflowing.isEmpty {
      outcome = .nan
      label = "overflow"
      diagnosis =
        "e^{\(fmt(largestOverflow))} overflows \(name) above \(fmt(Self.rounded(facts.expOverflow))): "
        + "σ = inf, so inf/inf = NaN" + (overflowing.count < count ? " and finite/inf = 0 elsewhere" : "")
    } else if sumOverflowsWithFiniteTerms {
      outcome = .zeros
      label = "sum overflow"
      diagnosis =
        "every e^{z_i} is finite (e^{\(fmt(largest.z))} = \(fmt(largest.exp))) but σ overflows \(name)'s "
        + "max \(fmt(facts.maxFinite)): s = finite/inf = 0 everywhere"
    } else if sumIsZero {
      outcome = .nan
      label = "underflow"
      diagnosis =
        "every e^{z_i} underflows to 0 in \(name) (below \(fmt(Self.rounded(facts.expZero)))): σ = 0, so 0/0 = NaN"
    } else if !underflowing.isEmpty {
      outcome = .inaccurate
      label = "underflow"
      let i = underflowing[0]
      diagnosis =
        "e^{\(fmt(z(i)))} underflows to 0 in \(name) (below \(fmt(Self.rounded(facts.expZero)))): "
        + "\(underflowing.count) naive s_i \(underflowing.count == 1 ? "is" : "are") exactly 0"
    } else if !subnormal.isEmpty {
      outcome = .inaccurate
      label = "subnormal"
      let i = subnormal[0]
      diagnosis =
        "e^{\(fmt(z(i)))} is subnormal in \(name) (below \(fmt(Self.rounded(facts.expSubnormal)))): "
        + "it keeps fewer than \(facts.significandBits) bits, so naive s_\(i) loses accuracy"
    } else {
      outcome = .fine
      label = "ok"
      diagnosis =
        "naive softmax is fine here: largest z = \(fmt(largest.z)) < \(fmt(Self.rounded(facts.expOverflow))) "
        + "and no e^{z_i} underflows"
    }
  }

  /// Thresholds are shown to 2 decimals (709.78, −745.13, 11.09).
  private static func rounded(_ x: Double) -> Double { (x * 100).rounded() / 100 }
}
