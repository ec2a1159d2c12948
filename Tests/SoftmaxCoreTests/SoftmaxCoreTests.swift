import RealModule
import Testing

@testable import SoftmaxCore
import SoftmaxText

/// Evaluates a problem after validation (tests fail loudly on a validation error).
func evaluate(_ p: Problem) throws -> Evaluation { Evaluation(try p.validated()) }

/// |a − b| in units of `ulp`, relative to |b|.
func relativeUlps(_ a: Double, _ b: Double, ulpOfOne: Double) -> Double {
  if a == b { return 0 }
  return abs(a - b) / (abs(b) * ulpOfOne)
}

#if arch(x86_64)
  /// An independent reference: softmax and loss in Float80 from exact Double inputs, with the max subtracted.
  func referenceSoftmax(_ x: [Double], temperature: Double = 1) -> [Float80] {
    let z = x.map { Float80($0) / Float80(temperature) }
    let m = z.max()!
    let e = z.map { Float80.exp($0 - m) }
    let s = e.reduce(0, +)
    return e.map { $0 / s }
  }
  func referenceLoss(_ x: [Double], target t: Int) -> Float80 {
    let z = x.map { Float80($0) }
    let m = z.max()!
    var rest: Float80 = 0
    var skipped = false
    for v in z {
      if v == m && !skipped {
        skipped = true
        continue
      }
      rest += Float80.exp(v - m)
    }
    return (m - z[t]) + Float80.log(onePlus: rest)
  }
#endif

@Suite("Known values")
struct KnownValues {
  @Test func oneTwoThree() throws {
    let ev = try evaluate(Problem(logits: [1, 2, 3], target: 2))
    #expect(ev.softmax == [0.09003057317038046, 0.24472847105479765, 0.6652409557748219])
    #expect(abs(ev.loss - 0.4076059644443803) <= 2 * Double.ulpOfOne * 0.4076059644443803)
    #expect(ev.overflow.outcome == .fine)
  }

  @Test func targetZeroLoss() throws {
    let ev = try evaluate(Problem(logits: [1, 2, 3], target: 0))
    // −log(0.09003057317038046) = 2.4076059644443806
    #expect(abs(ev.loss - 2.4076059644443806) <= 4 * Double.ulpOfOne * 2.4)
    #expect(abs(ev.lossNaive - ev.loss) <= 4 * Double.ulpOfOne * 2.4)
  }

  @Test func overflowIsFixedByShift() throws {
    let ev = try evaluate(Problem(logits: [1000, 1001, 1002], target: 2))
    let ref = try evaluate(Problem(logits: [1, 2, 3], target: 2))
    #expect(ev.softmax == ref.softmax)
    #expect(ev.naive.probabilities.allSatisfy { $0.isNaN || $0 == 0 })
    #expect(ev.naive.probabilities.contains { $0.isNaN })
    #expect(ev.overflow.outcome == .nan)
    #expect(ev.overflow.overflowing == [0, 1, 2])
    #expect(ev.overflow.diagnosis.description.contains("e^{1002} overflows float64 above 709.78"))
    #expect(ev.overflow.diagnosis.description.contains("inf/inf = NaN"))
  }

  @Test func float32LossUnderflow() throws {
    let ev = try evaluate(Problem(logits: [0, 200], target: 0, precision: .float32))
    #expect(ev.lossNaive == .infinity)
    #expect(ev.lossFromStableSoftmax == .infinity)  // stable s_T = e^{-200} rounds to 0 in float32
    #expect(ev.loss == 200)
  }

  @Test func tinyLossKeepsRelativeAccuracy() throws {
    let ev = try evaluate(Problem(logits: [40, 0], target: 0))
    let expected = 4.2483542552915890e-18
    #expect(relativeUlps(ev.loss, expected, ulpOfOne: .ulpOfOne) <= 4)
    // The textbook LSE − z_T loses it entirely.
    #expect(ev.logSumExp.value - 40 == 0)
  }

  @Test func float16SumOverflowWithFiniteTerms() throws {
    let ev = try evaluate(Problem(logits: [11, 11], precision: .float16))
    #expect(ev.naive.exps.allSatisfy { $0.isFinite })
    #expect(ev.naive.sum == .infinity)
    #expect(ev.naive.probabilities == [0, 0])
    #expect(ev.overflow.sumOverflowsWithFiniteTerms)
    #expect(ev.overflow.outcome == .zeros)
    #expect(ev.softmax == [0.5, 0.5])
  }

  @Test func totalUnderflow() throws {
    let ev = try evaluate(Problem(logits: [-1000, -1001, -1002]))
    #expect(ev.overflow.sumIsZero)
    #expect(ev.overflow.outcome == .nan)
    #expect(ev.naive.probabilities.allSatisfy { $0.isNaN })
    let ref = try evaluate(Problem(logits: [1, 2, 3]))
    #expect(ev.softmax.reversed() == ref.softmax)
  }

  @Test func singleClass() throws {
    let ev = try evaluate(Problem(logits: [3.5]))
    #expect(ev.softmax == [1])
    #expect(ev.loss == 0)
    #expect(ev.gradient == [0])
    #expect(ev.jacobian(0, 0) == 0)
  }

  @Test func ties() throws {
    let ev = try evaluate(Problem(logits: [2, 2, 2, 2], target: 1))
    #expect(ev.softmax == [0.25, 0.25, 0.25, 0.25])
    #expect(abs(ev.loss - Double.log(4)) <= 2 * Double.ulpOfOne * 1.4)
    #expect(ev.gradient == [0.25, -0.75, 0.25, 0.25])
  }

  @Test func maskedClass() throws {
    let ev = try evaluate(Problem(logits: [0, -.infinity], target: 0))
    #expect(ev.softmax == [1, 0])
    #expect(ev.loss == 0)
    #expect(ev.overflow.outcome == .fine)
    #expect(ev.online.probabilities == [1, 0])
    let masked = try evaluate(Problem(logits: [0, -.infinity], target: 1))
    #expect(masked.loss == .infinity)
    #expect(masked.lossNote?.contains("masked") == true)
  }
}

@Suite("Targets, temperature, upstream")
struct Targets {
  @Test func labelSmoothingMatchesPyTorchSemantics() throws {
    let eps = 0.1
    let ev = try evaluate(Problem(logits: [1, 2, 3], target: 2, labelSmoothing: eps))
    let y = [eps / 3, eps / 3, (1 - eps) + eps / 3]
    #expect(ev.targetDistribution == y)
    // Independent: c = −Σ y_i log s_i with the exact softmax.
    let logS = [1.0, 2, 3].map { $0 - Double.log(Double.exp(1) + Double.exp(2) + Double.exp(3)) }
    let c = -zip(y, logS).map { $0 * $1 }.reduce(0, +)
    #expect(abs(ev.loss - c) <= 8 * Double.ulpOfOne * c)
    for n in 0..<3 { #expect(abs(ev.gradient[n] - (ev.softmax[n] - y[n])) <= 1e-16) }
    // Smoothing keeps the gradient summing to zero too (y sums to 1).
    #expect(abs(ev.gradient.reduce(0, +)) <= 1e-15)
  }

  @Test func softTarget() throws {
    let q = [0.25, 0.25, 0.5]
    let ev = try evaluate(Problem(logits: [1, 2, 3], target: 0, softTarget: q))
    let lse = Double.log(Double.exp(1) + Double.exp(2) + Double.exp(3))
    let c = zip(q, [1.0, 2, 3]).map { $0 * (lse - $1) }.reduce(0, +)
    #expect(abs(ev.loss - c) <= 8 * Double.ulpOfOne * c)
    #if arch(x86_64)
      // s_1 − 0.25 cancels: judge against the exact difference, not the rounded s_1 minus 0.25.
      let ref = referenceSoftmax([1, 2, 3])
      for n in 0..<3 {
        let exact = Double(ref[n] - Float80(q[n]))
        #expect(relativeUlps(ev.gradient[n], exact, ulpOfOne: .ulpOfOne) <= 1)
      }
    #endif
  }

  @Test func temperatureAndUpstream() throws {
    let ev = try evaluate(Problem(logits: [1, 2, 3], target: 0, temperature: 2, upstream: 3))
    let plain = try evaluate(Problem(logits: [0.5, 1, 1.5], target: 0))
    #expect(ev.softmax == plain.softmax)
    for n in 0..<3 {
      #expect(abs(ev.gradient[n] - 3 * plain.gradient[n] / 2) <= 4e-16)
      for i in 0..<3 { #expect(abs(ev.jacobian(i, n) - plain.jacobian(i, n) / 2) <= 1e-16) }
    }
  }
}

@Suite("Properties")
struct Properties {
  static let vectors: [[Double]] = [
    [1, 2, 3], [0.5, -1.25, 3, 7, -2], [100, 100.5, 99], [-3, -3, -3], [10, 0, -10, 20, 5, 1], [1e-3, 2e-3],
  ]

  @Test(arguments: vectors)
  func jacobianSymmetricWithZeroRowSums(_ x: [Double]) throws {
    let ev = try evaluate(Problem(logits: x))
    let j = ev.jacobianMatrix()
    for i in x.indices {
      #expect(abs(j[i].reduce(0, +)) <= 4 * Double.ulpOfOne)
      for n in x.indices { #expect(j[i][n] == j[n][i]) }
      #expect(j[i][i] >= 0)
    }
  }

  @Test(arguments: vectors)
  func shiftInvariance(_ x: [Double]) throws {
    let a = try evaluate(Problem(logits: x, target: 0))
    let b = try evaluate(Problem(logits: x.map { $0 + 1000 }, target: 0))
    for i in x.indices {
      #expect(abs(a.softmax[i] - b.softmax[i]) <= 1e-12 * Swift.max(a.softmax[i], 1e-300) + 1e-300)
    }
    #expect(abs(a.loss - b.loss) <= 1e-10)
  }

  @Test(arguments: vectors)
  func gradientSumsToZeroAndChainRuleAgrees(_ x: [Double]) throws {
    for t in x.indices {
      let ev = try evaluate(Problem(logits: x, target: t))
      #expect(abs(ev.gradient.reduce(0, +)) <= 4 * Double.ulpOfOne)
      for n in x.indices {
        #expect(abs(ev.chainRule(n) - ev.gradient[n]) <= 8 * Double.ulpOfOne)
        let fd = try #require(ev.finiteDifference(n))
        #expect(fd.agrees, "FD \(fd.estimate) vs \(fd.analytic) (tol \(fd.tolerance))")
      }
    }
  }

  @Test func jacobianVectorProductMatchesMatrix() throws {
    let ev = try evaluate(Problem(logits: [0.5, -1.25, 3, 7, -2], temperature: 0.7))
    let v = [1.0, -2, 0.5, 3, 0.25]
    let jv = ev.jacobianVectorProduct(v)
    let j = ev.jacobianMatrix()
    for i in v.indices {
      let direct = zip(j[i], v).map { $0 * $1 }.reduce(0, +)
      #expect(abs(jv[i] - direct) <= 1e-14)
    }
  }

  @Test func onlineAgreesWithStable() throws {
    for x in Properties.vectors + [[1000, 1001, 1002], [-5, .infinity * -1, 3]] {
      let ev = try evaluate(Problem(logits: x))
      for i in x.indices { #expect(abs(ev.onlineProbability(i) - ev.softmax[i]) <= 4 * Double.ulpOfOne) }
      #expect(ev.online.runningMax.last == ev.stable.max)
      #expect(abs(ev.online.runningSum.last! - ev.stable.sum) <= 8 * Double.ulpOfOne * ev.stable.sum)
    }
  }

  @Test func gradientStepLowersTheLoss() throws {
    let ev = try evaluate(Problem(logits: [1, 2, 3], target: 0, learningRate: 0.5))
    #expect(ev.updatedLoss < ev.loss)
    #expect(ev.updatedLogits == zip([1.0, 2, 3], ev.gradient).map { $0 - 0.5 * $1 })
    // Σx is unchanged up to rounding, since the gradient sums to 0.
    #expect(abs(ev.updatedLogits.reduce(0, +) - 6) <= 1e-14)
    let refused = try evaluate(
      Problem(logits: [0, 5], target: 0, precision: .float16, upstream: 60000, learningRate: 2))
    #expect(refused.stepRefusal != nil)
    #expect(refused.stepped == nil)
  }
}

#if arch(x86_64)
  @Suite("Accuracy against Float80")
  struct Accuracy {
    static func randomVectors(count: Int, seed: UInt64) -> [[Double]] {
      var rng = SplitMix64(seed: seed)
      return (0..<count).map { _ in
        let c = Int(rng.next() % 40) + 1
        let scale = [1.0, 10, 30][Int(rng.next() % 3)]
        return (0..<c).map { _ in (Double(rng.next() >> 11) / Double(1 << 53) * 2 - 1) * scale }
      }
    }

    @Test(arguments: [Precision.float64, .float32])
    func stableWithinFewUlps(_ precision: Precision) throws {
      let eps = precision.facts.ulpOfOne
      var worstS = 0.0
      var worstL = 0.0
      var worstG = 0.0
      for x in Accuracy.randomVectors(count: 300, seed: 42) {
        let p = try Problem(logits: x, target: x.count / 2, precision: precision).validated()
        let ev = Evaluation(p)
        let ref = referenceSoftmax(p.logits)
        for i in x.indices {
          worstS = Swift.max(worstS, relativeUlps(ev.softmax[i], Double(ref[i]), ulpOfOne: eps))
          let g = Double(ref[i]) - (i == p.target ? 1 : 0)
          // The gradient is s − 1 at the target: judge it relative to the larger of |g| and s.
          worstG = Swift.max(worstG, abs(ev.gradient[i] - g) / (Swift.max(abs(g), Double(ref[i])) * eps))
        }
        let l = Double(referenceLoss(p.logits, target: p.target))
        worstL = Swift.max(worstL, relativeUlps(ev.loss, l, ulpOfOne: eps))
      }
      // C ≤ 40 terms summed: a few ulps of error is the honest bound for a left-to-right sum.
      #expect(worstS <= 8, "softmax worst \(worstS) ulps")
      #expect(worstL <= 8, "loss worst \(worstL) ulps")
      #expect(worstG <= 8, "gradient worst \(worstG) ulps")
    }
  }
#endif

/// A small seeded generator (SplitMix64), so random tests repeat exactly.
struct SplitMix64: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
