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
    let facts = precision.facts
    overflowing = []
    underflowing = []
    subnormal = []
    var largestOverflow = -T.infinity
    for i in z.indices {
      let e = naive.exps[i]
      if e == .infinity {
        overflowing.append(i)
        largestOverflow = Swift.max(largestOverflow, z[i])
      } else if e == 0 && z[i] != -.infinity {
        underflowing.append(i)
      } else if e.isSubnormal {
        subnormal.append(i)
      }
    }
    sumOverflows = naive.sum == .infinity
    sumOverflowsWithFiniteTerms = sumOverflows && overflowing.isEmpty
    sumIsZero = naive.sum == 0
    let name = precision.rawValue
    let fmt = DecimalFormat.compact
    if !overflowing.isEmpty {
      outcome = .nan
      label = "overflow"
      diagnosis =
        "e^{\(fmt(Double(largestOverflow)))} overflows \(name) above \(fmt(Self.rounded(facts.expOverflow))): "
        + "σ = inf, so inf/inf = NaN" + (overflowing.count < z.count ? " and finite/inf = 0 elsewhere" : "")
    } else if sumOverflowsWithFiniteTerms {
      outcome = .zeros
      label = "sum overflow"
      let (k, zk) = Softmax.argmax(z)
      diagnosis =
        "every e^{z_i} is finite (e^{\(fmt(Double(zk)))} = \(fmt(Double(naive.exps[k])))) but σ overflows \(name)'s "
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
        "e^{\(fmt(Double(z[i])))} underflows to 0 in \(name) (below \(fmt(Self.rounded(facts.expZero)))): "
        + "\(underflowing.count) naive s_i \(underflowing.count == 1 ? "is" : "are") exactly 0"
    } else if !subnormal.isEmpty {
      outcome = .inaccurate
      label = "subnormal"
      let i = subnormal[0]
      diagnosis =
        "e^{\(fmt(Double(z[i])))} is subnormal in \(name) (below \(fmt(Self.rounded(facts.expSubnormal)))): "
        + "it keeps fewer than \(facts.significandBits) bits, so naive s_\(i) loses accuracy"
    } else {
      outcome = .fine
      label = "ok"
      let (_, zk) = Softmax.argmax(z)
      diagnosis =
        "naive softmax is fine here: largest z = \(fmt(Double(zk))) < \(fmt(Self.rounded(facts.expOverflow))) "
        + "and no e^{z_i} underflows"
    }
  }

  /// Thresholds are shown to 2 decimals (709.78, −745.13, 11.09).
  private static func rounded(_ x: Double) -> Double { (x * 100).rounded() / 100 }
}
