import SoftmaxCore

/// How the views and reports phrase an ``OverflowReport``: a short label and one sentence of why.
extension OverflowReport {
  /// A short label for a status line: `ok`, `overflow`, `sum overflow`, `underflow`, `subnormal`, `sum error`,
  /// `rounding`, `loss error`.
  public var label: String {
    switch kind {
    case .ok: "ok"
    case .overflow: "overflow"
    case .sumOverflow: "sum overflow"
    case .underflow: "underflow"
    case .subnormal: "subnormal"
    case .sumError: "sum error"
    case .rounding: "rounding"
    case .lossError: "loss error"
    }
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
    switch kind {
    case .overflow:
      return
        "e^{\(fmt(largestOverflow))} overflows \(name) above \(fmt(rounded(facts.expOverflow))): "
        + "σ = inf, so inf/inf = NaN" + (overflowing.count < count ? " and finite/inf = 0 elsewhere" : "")
    case .sumOverflow:
      return
        "every e^{z_i} is finite (e^{\(fmt(largestZ))} = \(fmt(largestExp))) but σ overflows \(name)'s "
        + "max \(fmt(facts.maxFinite)): s = finite/inf = 0 everywhere"
    case .underflow where sumIsZero:
      return
        "every e^{z_i} underflows to 0 in \(name) (below \(fmt(rounded(facts.expZero)))): σ = 0, so 0/0 = NaN"
    case .sumError:
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
    case .underflow:
      return
        "e^{\(fmt(firstUnderflowZ))} underflows to 0 in \(name) (below \(fmt(rounded(facts.expZero)))): "
        + "\(underflowing.count) naive s_i \(underflowing.count == 1 ? "is" : "are") exactly 0"
    case .subnormal:
      return
        "e^{\(fmt(firstSubnormalZ))} is subnormal in \(name) (below \(fmt(rounded(facts.expSubnormal)))): "
        + "it keeps fewer than \(facts.significandBits) bits, so naive s_\(subnormal[0]) loses accuracy"
    case .lossError:
      let (naive, accurate, ulps) = inaccuracy.map { ($0.naive, $0.accurate, $0.ulps) } ?? (.nan, .nan, 0)
      return
        "every e^{z_i} is in range, but the naive loss −log s_T is \(fmt(naive)) against the accurate "
        + "\(fmt(accurate)) (\(ulps, digits: 2) ulps off): s_T rounds close to 1 and −log of it keeps only the "
        + "digits s_T has; log-sum-exp computes c = log(1 + Σ_{j≠T} e^{z_j − z_T}) with log1p instead"
    case .rounding:
      let error = sumRelativeError ?? .nan
      return
        "every e^{z_i} is in range, but σ = Σ e^{z_j} summed left to right in \(name) is off by "
        + "\(error, digits: 2) relative (\(error / facts.ulpOfOne, digits: 2) ulps): every naive s_i inherits it, "
        + "more than the \(Int(OverflowReport.fineUlps)) ulps called fine"
    case .ok:
      return
        "naive softmax is fine here (σ, c within \(Int(OverflowReport.fineUlps)) ulps): largest z = \(fmt(largestZ)) < \(fmt(rounded(facts.expOverflow))) "
        + "and no e^{z_i} underflows"
    }
  }

  /// Thresholds are shown to 2 decimals (709.78, −745.13, 11.09).
  private func rounded(_ x: Double) -> Double { (x * 100).rounded() / 100 }
}

extension Evaluation {
  /// Why the loss is infinite, when it is (a masked target class).
  public var lossNote: String? {
    maskedTarget.map { "target class \($0) is masked (-inf): s_\($0) = 0 exactly, so c = -log 0 = +inf" }
  }

  /// Why the gradient step cannot be taken, if it cannot.
  public var stepRefusal: String? { refusal?.message }
}

extension StepRefusal {
  /// The refusal in one line.
  public var message: String {
    switch self {
    case .logit(let n, let x, let gradient, let precision):
      "the step would make logit \(n) non-finite in \(precision.rawValue) "
        + "(\(DecimalFormat.compact(x)) − η·\(DecimalFormat.compact(gradient)))"
    case .scaled(let precision): "after the step some x/τ is not finite in \(precision.rawValue)"
    }
  }
}
