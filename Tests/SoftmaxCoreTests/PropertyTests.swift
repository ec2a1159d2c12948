import RealModule
import Testing

@testable import SoftmaxCore
import SoftmaxText

/// The property tests' own seeded generator (SplitMix64), so every run sees the same vectors.
struct PropRNG: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }

  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// Uniform in [0, 1).
  mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }
  mutating func chance(_ p: Double) -> Bool { unit() < p }
  mutating func int(_ r: ClosedRange<Int>) -> Int { Int.random(in: r, using: &self) }
  mutating func pick<T>(_ xs: [T]) -> T { xs[int(0...(xs.count - 1))] }
  mutating func normal() -> Double {
    let u1 = 1 - unit()
    return Double.sqrt(-2 * Double.log(u1)) * Double.cos(2 * Double.pi * unit())
  }
}

/// `Σ xs` with Neumaier compensation (far more accurate than any format under test).
private func accurateSum(_ xs: [Double]) -> Double {
  var s = 0.0
  var c = 0.0
  for x in xs {
    let t = s + x
    c += abs(s) >= abs(x) ? (s - t) + x : (x - t) + s
    s = t
  }
  return s + c
}

/// Random problems built to hit the places where softmax breaks: large magnitudes near each format's exp limits,
/// ties, one huge outlier, masked classes, total underflow, C from 1 to 4,096.
enum PropertyVectors {
  static let magnitudes: [Double] = [1, 3, 11, 17, 88, 104, 700, 745, 1e4, 1e-3]
  static let extremes: [Double] = [
    1e4, -1e4, 700, -700, 88, -88, 11, -11, 11.09, 88.72, 709.78, -745.2, -103.9, -17.4, 0, -0.0, 1, -.infinity,
  ]

  static func classes(_ rng: inout PropRNG, index: Int) -> Int {
    if index == 0 { return 4096 }
    if index == 1 { return 1 }
    let r = rng.unit()
    if r < 0.004 { return rng.int(1025...4096) }
    if r < 0.04 { return rng.int(129...1024) }
    if r < 0.25 { return rng.int(17...128) }
    return rng.int(1...16)
  }

  static func problem(_ rng: inout PropRNG, precision: Precision, index: Int) -> Problem {
    let c = classes(&rng, index: index)
    let scale = rng.pick(magnitudes)
    let maxFinite = precision.facts.maxFinite
    var x = [Double](repeating: 0, count: c)
    switch rng.int(0...5) {
    case 0:  // Gaussian at a random scale
      for i in 0..<c { x[i] = rng.normal() * scale }
    case 1:  // ties: a few distinct values, repeated
      let values = (0..<rng.int(1...3)).map { _ in rng.normal() * scale }
      for i in 0..<c { x[i] = rng.pick(values) }
    case 2:  // one huge outlier
      for i in 0..<c { x[i] = rng.normal() }
      x[rng.int(0...(c - 1))] = (rng.chance(0.5) ? 1 : -1) * scale * rng.pick([10, 100, 1e3, 1e5, 1e30, 1e300])
    case 3:  // the extremes
      for i in 0..<c { x[i] = rng.pick(extremes) }
    case 4:  // everything very negative: total or partial underflow
      let base = -rng.pick([17.5, 104.5, 746, 1e4, 1e30])
      for i in 0..<c { x[i] = base + rng.normal() * rng.pick([0, 1, 10]) }
    default:  // everything large and positive: overflow and sum overflow
      let base = rng.pick([11.0, 10.5, 10.95, 88.5, 88.7, 89, 709, 709.5, 710, 1e4])
      for i in 0..<c { x[i] = base + rng.normal() * rng.pick([0, 0.01, 1]) }
    }
    // Masked classes.
    if rng.chance(0.2) {
      for i in 0..<c where rng.chance(0.3) { x[i] = -.infinity }
    }
    // Keep within the format (values beyond it are validation's business, tested elsewhere).
    for i in 0..<c where x[i].isFinite { x[i] = Swift.max(-maxFinite, Swift.min(maxFinite, x[i])) }
    if !x.contains(where: { $0 != -.infinity }) { x[rng.int(0...(c - 1))] = rng.normal() }
    var p = Problem(logits: x, target: rng.int(0...(c - 1)), precision: precision)
    let masked = x.indices.filter { x[$0] == -.infinity }
    if !masked.isEmpty && rng.chance(0.25) { p.target = rng.pick(masked) }
    if rng.chance(0.15) { p.temperature = rng.pick([0.5, 2, 0.1, 10, 1.0 / 3]) }
    if rng.chance(0.1) { p.labelSmoothing = rng.pick([0.1, 0.5, 1]) }
    if rng.chance(0.1) { p.upstream = rng.pick([-2, 0.5, 3]) }
    return p
  }
}

/// What one property run saw, to print and to check that the interesting cases were really reached.
struct PropertyTally {
  var vectors = 0
  var refused = 0
  var maskedTarget = 0
  var outcomes: [OverflowReport.Outcome: Int] = [:]
  /// Vectors whose naive sum the report judged inaccurate ("sum error").
  var sumErrors = 0
  var onlineChecked = 0
  var worstOnline = 0.0  // the largest error seen, as a fraction of its tolerance
  var worstSum = 0.0
  var worstGradient = 0.0
  var worstRow = 0.0
  var worstLoss = 0.0
}

@Suite("Core properties on random vectors")
struct PropertyTests {
  static let perPrecision = 2500

  @Test(arguments: Precision.allCases)
  func properties(precision: Precision) throws {
    var rng = PropRNG(seed: 0x5EED_0000 &+ UInt64(precision.facts.significandBits))
    var tally = PropertyTally()
    for index in 0..<PropertyTests.perPrecision {
      let raw = PropertyVectors.problem(&rng, precision: precision, index: index)
      let problem: Problem
      do {
        problem = try raw.validated()
      } catch {
        // Only temperature can push x/τ out of the format here; the refusal must be a one-line message.
        tally.refused += 1
        #expect(raw.temperature < 1, "unexpected refusal: \(error.message)")
        #expect(!error.message.isEmpty && !error.message.contains("\n"))
        continue
      }
      tally.vectors += 1
      check(problem, &rng, &tally)
    }
    print(
      "core properties \(precision.rawValue): \(tally.vectors) vectors (+\(tally.refused) refused by validation), "
        + "outcomes \(tally.outcomes.map { "\($0.key.rawValue)=\($0.value)" }.sorted().joined(separator: " ")), "
        + "masked targets \(tally.maskedTarget), online checked \(tally.onlineChecked); worst error/tolerance: "
        + "sum \(short(tally.worstSum)), gradient \(short(tally.worstGradient)), row \(short(tally.worstRow)), "
        + "loss \(short(tally.worstLoss)), online \(short(tally.worstOnline))")
    // The generator must really reach every regime, or the properties prove little.
    #expect(tally.refused < PropertyTests.perPrecision / 10)
    for outcome in [OverflowReport.Outcome.fine, .inaccurate, .nan, .zeros] {
      #expect((tally.outcomes[outcome] ?? 0) >= 10, "outcome \(outcome) reached only \(tally.outcomes[outcome] ?? 0)×")
    }
    #expect(tally.maskedTarget >= 20)
    if precision == .float16 || precision == .bfloat16 {
      #expect(tally.sumErrors >= 5, "the sum verdict was reached only \(tally.sumErrors)×")
    }
  }

  private func short(_ x: Double) -> String { DecimalFormat.significant(x, digits: 2) }

  /// Every property for one validated problem.
  private func check(_ p: Problem, _ rng: inout PropRNG, _ tally: inout PropertyTally) {
    let ev = Evaluation(p)
    let facts = p.precision.facts
    let eps = facts.ulpOfOne
    let tiny = facts.leastNonzero
    let c = p.classes
    let s = ev.softmax
    let tau = p.temperature
    let name = "\(p.precision.rawValue) C=\(c) T=\(p.target) τ=\(tau) ε=\(p.labelSmoothing) g=\(p.upstream)"
    let sample = c <= 8 ? "x=\(p.logits)" : "x[0..<8]=\(Array(p.logits.prefix(8)))"

    // 1. The stable softmax: finite, non-negative, sums to 1. Each s_i is rounded once from a wider computation, so
    //    |Σ s_i − 1| ≤ ε/2 + (subnormal roundings); ε is the honest bound, far tighter than C·ε.
    #expect(s.allSatisfy { $0.isFinite && $0 >= 0 && $0 <= 1 }, "softmax not in [0, 1]: \(name) \(sample)")
    let sum = accurateSum(s)
    let sumTolerance = eps + Double(c) * tiny
    tally.worstSum = max(tally.worstSum, abs(sum - 1) / sumTolerance)
    #expect(abs(sum - 1) <= sumTolerance, "Σs = \(sum): \(name) \(sample)")
    for i in 0..<c where p.logits[i] == -.infinity { #expect(s[i] == 0, "masked s_\(i) = \(s[i])") }
    #expect(s[ev.stable.argmax] > 0)

    // 2. The gradient sums to 0 when the target is one-hot (each entry rounded once: ε/2 of Σ|∇| plus subnormals).
    #expect(ev.gradient.allSatisfy { $0.isFinite }, "gradient not finite: \(name)")
    if p.isOneHot {
      let total = accurateSum(ev.gradient)
      let magnitude = accurateSum(ev.gradient.map(abs))
      let tolerance = eps * magnitude + Double(c) * tiny
      tally.worstGradient = max(tally.worstGradient, abs(total) / tolerance)
      #expect(abs(total) <= tolerance, "Σ∇ = \(total) (Σ|∇| = \(magnitude)): \(name) \(sample)")
      // Signs: g(s_n − 1)/τ at the target, g·s_n/τ elsewhere.
      for n in 0..<c {
        let signed = ev.gradient[n] * p.upstream
        #expect(n == p.target ? signed <= 0 : signed >= 0, "gradient sign at \(n): \(name)")
      }
    }

    // 3. The Jacobian is symmetric (exactly: the same two roundings) and its rows sum to 0. An entry has up to three
    //    roundings, and the rounded s_n sum to 1 only within ε, so a row sums to 0 within
    //    4ε(Σ_n|J_in| + s_i/τ) plus subnormal roundings (amplified by 1/τ).
    var rows = c <= 24 ? Array(0..<c) : [p.target, ev.stable.argmax] + (0..<4).map { _ in rng.int(0...(c - 1)) }
    if c > 1024 { rows = Array(rows.prefix(3)) }
    for i in rows {
      let row = ev.jacobianRow(i)
      let rowSum = accurateSum(row)
      let tolerance = 4 * eps * (accurateSum(row.map(abs)) + s[i] / tau) + 4 * Double(c) * tiny / min(1, tau)
      tally.worstRow = max(tally.worstRow, abs(rowSum) / tolerance)
      #expect(abs(rowSum) <= tolerance, "row \(i) of J sums to \(rowSum): \(name) \(sample)")
      for _ in 0..<min(c, 8) {
        let n = rng.int(0...(c - 1))
        #expect(row[n] == ev.jacobian(n, i), "J[\(i)][\(n)] != J[\(n)][\(i)]: \(name)")
      }
      #expect(row[i] >= 0, "diagonal J[\(i)][\(i)] = \(row[i]) < 0")
    }

    // 4. The stable loss: +inf exactly when the target mass sits on a masked class; otherwise finite, ≥ 0 and, where
    //    the loss fits the format, within 1 ulp (2 for float64) of an independent Float80 reference.
    let y = ev.targetDistribution
    let massOnMasked = (0..<c).contains { y[$0] != 0 && p.logits[$0] == -.infinity }
    if massOnMasked {
      tally.maskedTarget += 1
      #expect(ev.loss == .infinity, "masked target but loss \(ev.loss): \(name)")
      #expect(ev.lossNote != nil)
    } else {
      #expect(ev.loss >= 0 && !ev.loss.isNaN, "loss \(ev.loss): \(name) \(sample)")
      #if arch(x86_64)
        let ref = Double(referenceLoss(p))
        if ref < 0.99 * facts.maxFinite {
          let tolerance = (p.precision == .float64 ? 2 : 1) * eps * ref + tiny
          tally.worstLoss = max(tally.worstLoss, abs(ev.loss - ref) / tolerance)
          #expect(ev.loss.isFinite, "loss \(ev.loss) where the exact loss is \(ref): \(name) \(sample)")
          #expect(abs(ev.loss - ref) <= tolerance, "loss \(ev.loss) vs reference \(ref): \(name) \(sample)")
        } else if ref > 1.01 * facts.maxFinite {
          // The exact loss is beyond the format: +inf is the correctly rounded answer.
          #expect(ev.loss == .infinity, "loss \(ev.loss) for an exact loss \(ref) beyond the format: \(name)")
        }
      #endif
    }

    // 5. Online agrees with stable. Online rounds every step in the format: z_i − m (error ε·|z_i − m| in e^·),
    //    C additions and rescalings of d (≈ 2Cε), exp and the division: relative ε·(4 + 2C + |z_i − M|), plus
    //    subnormal roundings. With τ ≠ 1 the online (and naive) path starts from z = x/τ rounded into the format while
    //    the stable path divides exactly, which adds ε·(|z_i| + max|z|). A first-order bound means something only
    //    while it is small, so the check runs while ε·(2C + 2·max|z|·[τ ≠ 1]) ≤ 1/4; beyond that (bfloat16 past
    //    C = 16, float16 past C = 128, low temperatures on large logits) only the range [0, 1] is checked.
    let z = ev.scaled
    let m = ev.stable.max
    let online = ev.online.probabilities
    let maxAbsZ = z.lazy.filter(\.isFinite).map(abs).max() ?? 0
    let roundedZ = tau != 1
    func pathTolerance(_ i: Int, spread: Bool) -> Double {
      let gap = spread && z[i].isFinite ? abs(z[i] - m) : 0
      let fromZ = roundedZ && z[i].isFinite ? abs(z[i]) + maxAbsZ : 0
      return eps * (4 + 2 * Double(c) + gap + fromZ) * s[i] + 4 * tiny
    }
    let boundIsMeaningful = eps * (2 * Double(c) + (roundedZ ? 2 * maxAbsZ : 0)) <= 0.25
    #expect(online.allSatisfy { $0.isFinite && $0 >= 0 && $0 <= 1 }, "online out of [0, 1]: \(name) \(sample)")
    if boundIsMeaningful {
      tally.onlineChecked += 1
      for i in 0..<c {
        let tolerance = pathTolerance(i, spread: true)
        let error = abs(online[i] - s[i])
        tally.worstOnline = max(tally.worstOnline, error / tolerance)
        #expect(error <= tolerance, "online s_\(i) = \(online[i]) vs stable \(s[i]): \(name) \(sample)")
      }
    }

    // 6. The naive path fails exactly as the overflow report says, and the report's sets follow from the computed
    //    thresholds (values within a rounding band of a threshold are left out of the prediction).
    let report = ev.overflow
    tally.outcomes[report.outcome, default: 0] += 1
    let naive = ev.naive.probabilities
    let hasNaN = naive.contains(where: \.isNaN)
    #expect(hasNaN == (report.outcome == .nan), "naive NaN \(hasNaN) but outcome \(report.outcome): \(name) \(sample)")
    if !report.overflowing.isEmpty {
      let over = Set(report.overflowing)
      for i in 0..<c {
        if over.contains(i) {
          #expect(naive[i].isNaN, "overflowing s_\(i) = \(naive[i]), expected inf/inf = NaN: \(name)")
        } else {
          #expect(naive[i] == 0, "s_\(i) = \(naive[i]), expected finite/inf = 0: \(name)")
        }
      }
    } else if report.sumOverflowsWithFiniteTerms {
      #expect(report.outcome == .zeros)
      #expect(naive.allSatisfy { $0 == 0 }, "sum overflow but naive s = \(naive.prefix(4)): \(name)")
    } else if report.sumIsZero {
      #expect(naive.allSatisfy { $0.isNaN }, "σ = 0 but naive s is not 0/0 = NaN: \(name)")
    } else {
      #expect(naive.allSatisfy { $0.isFinite && $0 >= 0 }, "naive failed unreported: \(name) \(sample)")
      // The naive sum against an independent Float80 log-sum-exp of the same z: beyond max(16 ε, 0.1%) off, the
      // report calls it inaccurate (near the threshold the two references may disagree, so that band is skipped).
      let exactLog = wideLogSumExp(ev.scaled)
      let sumError = abs(Double.expMinusOne(Double.log(ev.naive.sum) - exactLog))
      let threshold = max(16 * eps, 1e-3)
      if report.label == "sum error" { tally.sumErrors += 1 }
      if !report.underflowing.isEmpty || !report.subnormal.isEmpty {
        #expect(report.outcome == .inaccurate)
      } else {
        // "Fine" means accurate: the naive loss within 4 ulps of the accurate one, and (for τ = 1, where the sum is
        // judged) σ within 2.5 ε plus the noise of the log-domain comparison.
        let lossUlps =
          ev.lossNaive == ev.loss ? 0 : abs(ev.lossNaive - ev.loss) / OverflowReport.ulp(of: ev.loss, in: p.precision)
        let fineSum = OverflowReport.fineSumError * eps + OverflowReport.logSumNoise(exactLog)
        let lossFails = lossUlps > OverflowReport.fineUlps
        if tau != 1 {
          #expect(report.sumRelativeError == nil)
          if abs(lossUlps / OverflowReport.fineUlps - 1) > 0.01 {
            #expect((report.outcome == .fine) == !lossFails, "loss \(lossUlps) ulps off, \(report.label): \(name)")
          }
        } else if abs(sumError / threshold - 1) > 0.01, abs(sumError / fineSum - 1) > 0.05,
          abs(lossUlps / OverflowReport.fineUlps - 1) > 0.01
        {
          let expected =
            sumError > threshold ? "sum error" : sumError > fineSum ? "rounding" : lossFails ? "loss error" : "ok"
          #expect(
            report.label == expected,
            "naive σ off by \(sumError) (thresholds \(fineSum), \(threshold)), loss \(lossUlps) ulps: \(report.label), expected \(expected): \(name)"
          )
        }
      }
      for i in report.underflowing { #expect(naive[i] == 0) }
      if report.outcome == .fine && boundIsMeaningful {
        for i in 0..<c {
          let tolerance = pathTolerance(i, spread: false)
          #expect(abs(naive[i] - s[i]) <= tolerance, "naive s_\(i) = \(naive[i]) vs \(s[i]) though 'fine': \(name)")
        }
      }
    }
    let over = Set(report.overflowing)
    let under = Set(report.underflowing)
    let sub = Set(report.subnormal)
    func band(_ t: Double) -> Double { 4 * eps * max(1, abs(t)) }
    for i in 0..<c where z[i].isFinite {
      let zi = z[i]
      if zi > facts.expOverflow + band(facts.expOverflow) { #expect(over.contains(i), "e^\(zi) should overflow") }
      if zi < facts.expOverflow - band(facts.expOverflow) { #expect(!over.contains(i), "e^\(zi) should not overflow") }
      if zi < facts.expZero - band(facts.expZero) { #expect(under.contains(i), "e^\(zi) should underflow: \(name)") }
      if zi > facts.expZero + band(facts.expZero) { #expect(!under.contains(i), "e^\(zi) should not underflow") }
      if zi > facts.expZero + band(facts.expZero) && zi < facts.expSubnormal - band(facts.expSubnormal) {
        #expect(sub.contains(i), "e^\(zi) should be subnormal in \(name)")
      }
    }
    let unmasked = z.filter(\.isFinite)
    if unmasked.allSatisfy({ $0 < facts.expZero - band(facts.expZero) }) { #expect(report.sumIsZero) }
    if unmasked.contains(where: { $0 > facts.expZero + band(facts.expZero) }) { #expect(!report.sumIsZero) }
  }

  #if arch(x86_64)
    /// `Σ y_i (M − z_i) + (Σ y_i)·log(1 + Σ_{j≠k} e^{z_j − M})` in Float80 from the exact inputs.
    private func referenceLoss(_ p: Problem) -> Float80 {
      let c = p.classes
      let z = p.logits.map { Float80($0) / Float80(p.temperature) }
      var k = 0
      for i in 0..<c where z[i] > z[k] { k = i }
      let m = z[k]
      var rest: Float80 = 0
      for j in 0..<c where j != k { rest += Float80.exp(z[j] - m) }
      var y = [Float80](repeating: 0, count: c)
      let e = Float80(p.labelSmoothing)
      for i in 0..<c { y[i] = e / Float80(c) }
      y[p.target] += 1 - e
      var gap: Float80 = 0
      var mass: Float80 = 0
      for i in 0..<c where y[i] != 0 {
        gap += y[i] * (m - z[i])
        mass += y[i]
      }
      return gap + mass * Float80.log(onePlus: rest)
    }
  #endif
}

/// `log Σ e^{z_i}` over the finite `z_i`, accumulated in `Float80` where the platform has it (`Double` otherwise).
func wideLogSumExp(_ z: [Double]) -> Double {
  #if arch(x86_64) || arch(i386)
    typealias Wide = Float80
  #else
    typealias Wide = Double
  #endif
  let zs = z.filter(\.isFinite).map { Wide($0) }
  let zMax = zs.max() ?? 0
  return Double(zMax + Wide.log(zs.reduce(Wide(0)) { $0 + Wide.exp($1 - zMax) }))
}
