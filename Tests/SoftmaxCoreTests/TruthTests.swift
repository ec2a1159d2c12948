import RealModule
import Testing

@testable import SoftmaxCore
import SoftmaxText

/// The exact softmax quantities of a validated problem, computed in `Float80` from its (already rounded) inputs:
/// the reference that "within k ulps of exact" is measured against.
struct ExactReference {
  var s: [Float80]
  /// `1 − s_i = Σ_{j≠i} s_j`, summed from the exponentials (no cancellation).
  var complement: [Float80]
  var tau: Float80

  init(_ p: Problem) {
    let t = Float80(p.temperature)
    tau = t
    let z = p.logits.map { Float80($0) / t }
    let m = z.max()!
    let e = z.map { Float80.exp($0 - m) }
    let sigma = e.reduce(0, +)
    s = e.map { $0 / sigma }
    complement = e.indices.map { i in
      var rest: Float80 = 0
      for j in e.indices where j != i { rest += e[j] }
      return rest / sigma
    }
  }

  /// `∂s_i/∂x_n` exactly (to Float80's 64 bits).
  func jacobian(_ i: Int, _ n: Int) -> Float80 { (i == n ? s[i] * complement[i] : -(s[i] * s[n])) / tau }
}

/// The distance from `value` to `exact` in ulps of `precision` at `exact` (the least subnormal near zero).
func ulps(_ value: Double, from exact: Float80, in precision: Precision) -> Double {
  let e = Double(exact)
  let ulp: Double
  switch precision {
  case .float64: ulp = e.ulp
  case .float32: ulp = Double(Float(e).ulp)
  case .bfloat16: ulp = Double(BFloat16(e).ulp)
  case .float16: ulp = Double(Float16(e).ulp)
  }
  if value == e { return 0 }
  return Double(abs(Float80(value) - exact)) / ulp
}

/// Problems where one class dominates (the Jacobian diagonal's cancellation), plus the issue's own examples.
enum DominantVectors {
  static func problems(_ precision: Precision, count: Int) -> [Problem] {
    var rng = PropRNG(seed: 0xD0_111A_47 &+ UInt64(precision.facts.significandBits))
    var out = [
      Problem(logits: [40, 0], target: 0, precision: precision),
      Problem(logits: [17, 0, 0], target: 0, precision: precision),
      Problem(logits: [8, 0, 0], target: 1, precision: precision),
      Problem(logits: [1, 2, 3], target: 2, precision: precision),
    ]
    while out.count < count {
      let c = rng.int(2...12)
      var x = (0..<c).map { _ in rng.normal() * rng.pick([0.1, 1, 3]) }
      // One class ahead by a gap that puts 1 − s_k anywhere from 1e−1 down to below ε.
      let gap = rng.pick([2.0, 5, 9, 12, 17, 25, 40, 60]) * (0.8 + 0.4 * rng.unit())
      x[rng.int(0...(c - 1))] += gap
      var p = Problem(logits: x, target: rng.int(0...(c - 1)), precision: precision)
      if rng.chance(0.2) { p.temperature = rng.pick([0.5, 2, 1.0 / 3]) }
      if let v = try? p.validated() { out.append(v) }
    }
    return out.compactMap { try? $0.validated() }
  }
}

@Suite("Numbers the screens show are true")
struct TruthTests {
  /// Defect 1: `s_i(1 − s_i)` cancelled when `s_i ≈ 1` (float64 `[40, 0]` gave 0 for 4.248e−18).
  @Test(arguments: Precision.allCases)
  func everyJacobianEntryIsWithinFourUlpsOfExact(precision: Precision) {
    var worst = (ulps: 0.0, name: "")
    var checked = 0
    var dominated = 0
    var rng = PropRNG(seed: 0x1ACB_0000 &+ UInt64(precision.facts.significandBits))
    var problems = DominantVectors.problems(precision, count: 165)
    for index in 0..<200 {
      let p = PropertyVectors.problem(&rng, precision: precision, index: index + 2)
      if p.classes <= 24, let v = try? p.validated() { problems.append(v) }
    }
    for p in problems {
      let ev = Evaluation(p)
      let exact = ExactReference(p)
      if ev.softmax.contains(where: { $0 > 1 - 16 * precision.facts.ulpOfOne }) { dominated += 1 }
      for i in 0..<p.classes {
        for n in 0..<p.classes {
          let d = ulps(ev.jacobian(i, n), from: exact.jacobian(i, n), in: precision)
          checked += 1
          if d > worst.ulps {
            worst = (d, "J[\(i)][\(n)] = \(ev.jacobian(i, n)) of x = \(p.logits), τ = \(p.temperature)")
          }
          #expect(
            d <= 4, "J[\(i)][\(n)] = \(ev.jacobian(i, n)), exact \(Double(exact.jacobian(i, n))): \(d) ulps; \(p)")
        }
      }
    }
    print(
      "Jacobian \(precision.rawValue): \(checked) entries of \(problems.count) vectors (\(dominated) with s ≈ 1), "
        + "worst \(DecimalFormat.significant(worst.ulps, digits: 2)) ulps at \(worst.name)")
    #expect(dominated >= 20, "the corpus reached s ≈ 1 only \(dominated)×")
  }

  @Test func theIssuesExamplesKeepTheirDigits() {
    let a = Evaluation(try! Problem(logits: [40, 0], target: 0).validated())
    #expect(abs(a.jacobian(0, 0) - 4.248354255291589e-18) <= 2 * 4.248354255291589e-18.ulp)
    #expect(a.jacobianUsesComplementSum(0) && !a.jacobianUsesComplementSum(1))
    let b = Evaluation(try! Problem(logits: [17, 0, 0], target: 0, precision: .float32).validated())
    #expect(abs(b.jacobian(0, 0) - 8.279874e-08) <= 2 * Double(Float(8.279874e-08).ulp))
    // The generic array form the rest of the core uses.
    let s = b.softmax.map { Float($0) }
    #expect(abs(Double(CrossEntropy.jacobianEntry(s, 0, 0, temperature: 1)) - 8.279874e-08) <= 3e-14)
  }

  /// Defect 2: the chain rule printed 0 against a closed form of −4.248e−18 and the box said they agree. Now the
  /// chain rule uses the exact Jacobian, and agreement is relative: 0 against −4.2e−18 does not agree.
  @Test func agreementIsRelative() {
    let ev = Evaluation(try! Problem(logits: [40, 0], target: 0).validated())
    var check = ev.gradientCheck(0)
    #expect(check.agrees)
    #expect(abs(check.chain - -4.248354255291589e-18) <= 4 * 4.248354255291589e-18.ulp)
    check.chain = 0  // what s_T(1 − s_T) gave
    #expect(!check.chainAgrees)
    check.chain = check.closed * (1 + 1e-9)
    #expect(!check.chainAgrees, "a relative error of 1e−9 in float64 is not rounding")
  }

  /// An honest check never says "differs", in any precision; where it says "agrees", a value off by 1% is caught
  /// whenever the tolerance is finer than 1%. In float64 and float32 nearly every check resolves.
  @Test(arguments: Precision.allCases)
  func honestChecksNeverDifferAndWrongOnesDoNotAgree(precision: Precision) {
    var rng = PropRNG(seed: 0xC4EC_0000 &+ UInt64(precision.facts.significandBits))
    var problems = DominantVectors.problems(precision, count: 100)
    for index in 0..<300 {
      let p = PropertyVectors.problem(&rng, precision: precision, index: index + 2)
      if p.classes <= 64, let v = try? p.validated() { problems.append(v) }
    }
    var checked = 0
    var unresolved = 0
    var ordinaryCount = 0
    var caught = (chain: 0, difference: 0, cases: 0)
    for p in problems {
      let ev = Evaluation(p)
      for n in Set([p.target, 0, ev.stable.argmax]) {
        let check = ev.gradientCheck(n)
        checked += 1
        #expect(
          check.chainVerdict != .differs,
          "chain \(check.chain) vs closed \(check.closed) (tol \(check.chainTolerance)), n = \(n): \(p)")
        // A gradient of a reasonable size, away from the ends of the format, should resolve.
        let ordinary = abs(check.closed) >= 1e-3 && p.logits.allSatisfy { abs($0) < 100 } && p.temperature >= 0.5
        if ordinary { ordinaryCount += 1 }
        if ordinary && check.verdict == .unresolved { unresolved += 1 }
        var wrong = check
        wrong.chain = check.closed * 1.01
        #expect(wrong.chainVerdict != .agrees || check.chainRelativeTolerance >= 0.01)
        guard let fd = check.finite else { continue }
        #expect(
          fd.verdict != .differs, "difference \(fd.estimate) vs \(fd.analytic) (tol \(fd.tolerance)), n = \(n): \(p)")
        guard check.closed != 0 else { continue }
        let off = FiniteDifference(
          index: n, step: fd.step, lossPlus: fd.lossPlus, lossMinus: fd.lossMinus, estimate: fd.estimate,
          analytic: fd.analytic * 1.01, tolerance: fd.tolerance)
        #expect(off.verdict != .agrees || fd.relativeTolerance >= 0.01)
        guard ordinary else { continue }
        caught.cases += 1
        if off.verdict == .differs { caught.difference += 1 }
        if wrong.chainVerdict == .differs { caught.chain += 1 }
      }
    }
    print(
      "gradient checks \(precision.rawValue): \(checked) honest checks, none differs, \(unresolved) of \(ordinaryCount) "
        + "ordinary ones unresolved; a 1% error caught by the chain rule \(caught.chain) and by the difference \(caught.difference) of \(caught.cases)"
    )
    #expect(checked >= 300)
    if precision == .float64 || precision == .float32 {
      #expect(unresolved * 20 <= ordinaryCount, "float64/float32 checks should almost always resolve")
      // A central difference resolves about ε^{2/3} (5e−11 in float64, 2e−5 in float32, times the conditioning).
      let share = precision == .float64 ? 9 : 6
      #expect(caught.difference * 10 >= caught.cases * share, "the difference must catch a 1% error in most cases")
      #expect(caught.chain * 10 >= caught.cases * 9)
    }
  }
}
