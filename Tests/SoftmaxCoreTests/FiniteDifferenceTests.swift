import RealModule
import Testing

@testable import SoftmaxCore

@Suite("Finite difference: the loss with one logit moved")
struct FiniteDifferenceTests {
  /// The loss the way the rest of the core computes it: rounded vectors, `Softmax.logSumExp`,
  /// `CrossEntropy.stableLoss`.
  static func arrayLoss<T: SoftmaxScalar>(_ p: Problem, moving n: Int, to moved: T, tau: T) -> T {
    var x = p.logits.map { T(rounding: $0) }
    x[n] = moved
    let z = tau == 1 ? x : x.map { $0 / tau }
    let y: [T] = CrossEntropy.targetDistribution(p.targetSpec, classes: z.count)
    return CrossEntropy.stableLoss(z, target: y, lse: Softmax.logSumExp(z))
  }

  static func check<T: SoftmaxScalar>(_ p: Problem, _: T.Type, _ rng: inout SeededRandom) {
    let tau = T(rounding: p.temperature)
    for _ in 0..<4 {
      let n = Int(rng.next() % UInt64(p.classes))
      let moved = T(rounding: p.logits[n] + (rng.nextUnit() - 0.5) * 4)
      let streamed = Evaluation.loss(p, moving: n, to: moved, tau: tau)
      let reference = arrayLoss(p, moving: n, to: moved, tau: tau)
      #expect(
        streamed.double.bitPattern == reference.double.bitPattern || (streamed.isNaN && reference.isNaN),
        "\(p.precision) C=\(p.classes) n=\(n): \(streamed.double) vs \(reference.double)")
    }
  }

  /// Above `wideLimit` classes the finite difference's two losses are taken in Double (not Float80): each must still
  /// be within an ulp of the Float80 reference in every precision, and the check must still agree with the gradient.
  @Test(arguments: Precision.allCases)
  func aboveTheWideLimitTheLossesStayWithinAnUlp(precision: Precision) throws {
    let c = 2 * Evaluation.wideLimit
    var logits = SeededRandom.logits(count: c, seed: 5, scale: 3)
    logits[17] = 9  // a dominant class, so that one loss is small and one index is the argmax
    for (target, tau) in [(17, 1.0), (c / 2, 1.0), (17, 0.5)] {
      let p = try Problem(logits: logits, target: target, precision: precision, temperature: tau).validated()
      let ev = Evaluation(p)
      for n in [17, target, 0, c - 1] {
        guard let fd = ev.finiteDifference(n) else { continue }
        // The moved logits as `finiteDifference` makes them: h = ε^{1/3}·max(1, |x_n|) in the precision, x_n ± h.
        let x = p.logits[n]
        let eps = p.precision.facts.ulpOfOne
        let h = p.precision.round(Double.root(eps, 3) * max(1, abs(x)))
        for (loss, moved) in [(fd.lossPlus, x + h), (fd.lossMinus, x - h)] {
          let exact = Evaluation.referenceLoss(p, moving: n, to: p.precision.round(moved))
          let ulp = p.precision.ulp(of: exact)
          #expect(abs(loss - exact) <= ulp, "\(precision) T=\(target) τ=\(tau) n=\(n): \(loss) vs \(exact)")
        }
        // Never a false ✗; and where the gradient is large (the target's s_T − 1 ≈ −0.99), a resolved ✓.
        #expect(fd.verdict != .differs, "\(precision) T=\(target) τ=\(tau) n=\(n)")
        if n == target, precision == .float64 || precision == .float32 {
          #expect(fd.verdict == .agrees, "\(precision) T=\(target) τ=\(tau) n=\(n): \(fd)")
        }
      }
    }
  }

  @Test func streamedLossIsTheArrayLossBitForBit() throws {
    var rng = SeededRandom(seed: 77)
    var cases = 0
    for k in 0..<300 {
      let c = 1 + Int(rng.next() % 40)
      var logits = (0..<c).map { _ in rng.nextNormal() * (k % 3 == 0 ? 30 : 3) }
      if c > 2 && k % 5 == 0 { logits[Int(rng.next() % UInt64(c))] = -.infinity }
      let target = Int(rng.next() % UInt64(c))
      let smoothing = k % 4 == 1 ? 0.1 : 0
      let soft: [Double]? =
        k % 4 == 2
        ? {
          let w = (0..<c).map { _ in rng.nextUnit() }
          let total = w.reduce(0, +)
          return w.map { $0 / total }
        }() : nil
      let tau = k % 6 == 3 ? 0.7 : 1
      for precision in Precision.allCases {
        let raw = Problem(
          logits: logits, target: target, precision: precision, temperature: tau, labelSmoothing: smoothing,
          softTarget: soft)
        guard let p = try? raw.validated() else { continue }
        cases += 1
        switch precision {
        case .float64: Self.check(p, Double.self, &rng)
        case .float32: Self.check(p, Float.self, &rng)
        case .bfloat16: Self.check(p, BFloat16.self, &rng)
        case .float16: Self.check(p, Float16.self, &rng)
        }
      }
    }
    #expect(cases > 800)
  }
}
