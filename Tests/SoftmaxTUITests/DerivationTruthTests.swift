import Foundation
import SoftmaxCore
import Testing

@testable import SoftmaxTUI

/// A value as the screens print it at 4 significant digits (`%.4g`, or `%.3e` in scientific form), with `−`.
private func shown(_ x: Double) -> String {
  let a = abs(x)
  let text = a != 0 && (a < 1e-4 || a >= 1e5) ? String(format: "%.3e", x) : String(format: "%.4g", x)
  var t = text
  if a >= 1e-4 && a < 1e5 && !t.contains(".") && t.count < 5 && a != 0 && a != a.rounded() {
    t = String(format: "%.4f", x)
  }
  return t.hasPrefix("-") ? "−" + t.dropFirst() : t
}

/// The whole derivation, rendered tall enough that nothing scrolls.
private func derivation(_ p: Problem) throws -> String {
  screen(try explorer(p, screen: .derivation), 200, 80).text
}

@Suite("Derivation and inspector: every link of every chain true at its digits")
struct DerivationTruthTests {
  // Defect 2: s_0 ≈ 1 in [40, 0]. 1 − s_0 = e^{−40}/(1 + e^{−40}), computed here from the formula.
  @Test func cancellationShownSideBySide() throws {
    let complement = Double.exp(-40) / (1 + Double.exp(-40))
    let text = try derivation(Problem(logits: [40, 0], target: 0))
    #expect(text.contains("∂s_0/∂x_0 = 1.000 × \(shown(complement)) = \(shown(complement))"))
    #expect(text.contains("1 − s_0 = Σ_{j≠0} s_j = \(shown(complement))   (computed without cancellation"))
    #expect(text.contains("∂c/∂x_0 = s_0 − δ_T0 = −Σ_{j≠0} s_j = \(shown(-complement))"))
    #expect(text.contains("naive: 1.000 − 1 = 0   cancellation-free: −Σ_{j≠0} s_j = \(shown(-complement))"))
    #expect(text.contains("∂l/∂x_0 = 1 × (\(shown(-complement))) = \(shown(-complement))"))
    // The old contradiction: a chain whose middle evaluates to 0 and whose end is −4.248e−18.
    #expect(!text.contains("1 × (1.000 − 1) ="))
    #expect(!text.contains("(1 − 1.000)"))
  }

  @Test func cancellationInFloat32() throws {
    // float32 [17, 0, 0]: 1 − s_0 = 2e^{−17}/(1 + 2e^{−17}); s_0 rounds to 1 − 2^{−24} in float32.
    let complement = 2 * Double.exp(-17) / (1 + 2 * Double.exp(-17))
    let s0 = Float(1 / (1 + 2 * Double.exp(-17)))
    let text = try derivation(Problem(logits: [17, 0, 0], target: 0, precision: .float32))
    let entry = Double(Float(Double(s0) * complement))
    #expect(text.contains("∂s_0/∂x_0 = 1.000 × \(shown(complement)) = \(shown(entry))"))
    #expect(text.contains("1 − s_0 = Σ_{j≠0} s_j = \(shown(complement))"))
    let naive = Double(s0 - 1)
    #expect(
      text.contains("naive: 1.000 − 1 = \(shown(naive))   cancellation-free: −Σ_{j≠0} s_j = \(shown(-complement))"))
  }

  @Test func cancellationWithTemperature() throws {
    // [80, 0], τ = 2: z = [40, 0]; ∂c/∂x_0 = −(1 − s_0)/τ.
    let complement = Double.exp(-40) / (1 + Double.exp(-40))
    let text = try derivation(Problem(logits: [80, 0], target: 0, temperature: 2))
    #expect(text.contains("∂s_0/∂x_0 = 1.000 × \(shown(complement)) / 2 = \(shown(complement / 2))"))
    #expect(text.contains("∂c/∂x_0 = (s_0 − δ_T0)/τ = (−Σ_{j≠0} s_j)/τ = \(shown(-complement / 2))"))
    #expect(
      text.contains(
        "naive: (1.000 − 1) / 2 = 0   cancellation-free: (−\(shown(complement))) / 2 = \(shown(-complement / 2))"))
  }

  @Test func inspectorShowsComplement() throws {
    let complement = Double.exp(-40) / (1 + Double.exp(-40))
    let text = screen(try explorer([40, 0]), 120, 40).text
    #expect(text.contains("= 1.000 × \(shown(complement))"))
    #expect(text.contains("1 − s_0 = Σ_{j≠0} s_j, computed without"))
    #expect(text.contains("= (−\(shown(complement))) = \(shown(-complement))"))
    #expect(!text.contains("(1 − 1.000)"))
  }

  // Defect 6: with τ = 2 the closed form is (s_n − δ_Tn)/τ, and with g it carries g.
  @Test func inspectorClosedFormHasTemperatureAndUpstream() throws {
    let e = [0.5, 1, 1.5].map { Double.exp($0) }
    let s0 = e[0] / e.reduce(0, +)
    var text = screen(try explorer(Problem(logits: [1, 2, 3], target: 0, temperature: 2), screen: .explore)).text
    #expect(text.contains("closed form (s_n − δ_Tn)/τ"))
    #expect(text.contains("= (\(shown(s0)) − 1) / 2.000 = \(shown((s0 - 1) / 2))"))
    #expect(!text.contains("closed form s_n − δ_Tn ="))
    text =
      screen(
        try explorer(Problem(logits: [1, 2, 3], target: 0, temperature: 2, upstream: 0.5), screen: .explore)
      ).text
    #expect(text.contains("closed form g·(s_n − δ_Tn)/τ"))
    #expect(text.contains("= 0.5000·(\(shown(s0)) − 1) / 2.000 = \(shown(0.5 * (s0 - 1) / 2))"))
    #expect(text.contains("chain rule: ∂l/∂x_0 = −g·(1/s_T)·∂s_T/∂x_0"))
  }

  @Test func derivationCarriesSmoothingTemperatureAndUpstream() throws {
    // ε = 0.1, C = 3: y_0 = 0.9 + 0.1/3; τ = 2; g = 0.5.
    let e = [0.5, 1, 1.5].map { Double.exp($0) }
    let s0 = e[0] / e.reduce(0, +)
    let y0 = 0.9 + 0.1 / 3
    let text = try derivation(
      Problem(logits: [1, 2, 3], target: 0, temperature: 2, labelSmoothing: 0.1, upstream: 0.5))
    #expect(text.contains("by cases:  ∂c/∂x_k = (s_k − (1 − ε + ε/C))/τ for k = T,  (s_k − ε/C)/τ for k ≠ T"))
    let dc = (s0 - y0) / 2
    #expect(text.contains("here k = 0 = T:  ∂c/∂x_0 = (\(shown(s0)) − \(shown(y0))) / 2 = \(shown(dc))"))
    #expect(text.contains("backprop:  ∂l/∂x_n = (∂l/∂c)(∂c/∂x_n) = g·(s_n − y_n)/τ"))
    #expect(text.contains("∂l/∂x_0 = 0.5 × (\(shown(dc))) = \(shown(0.5 * dc))"))
  }

  // Defect 5: one σ throughout; the naive left-to-right bfloat16 sum is shown beside it, labelled.
  @Test func oneSigmaAtManyClassesInBFloat16() throws {
    // x_j = (j mod 8)/4 is exact in bfloat16; σ = 16384 Σ_{k<8} e^{k/4}.
    let logits = (0..<131_072).map { Double($0 % 8) / 4 }
    let sigma = 16384 * (0..<8).reduce(0.0) { $0 + Double.exp(Double($1) / 4) }
    let p = try Problem(logits: logits, target: 0, precision: .bfloat16).validated()
    let ev = Evaluation(p)
    let naive = ev.naive.sum
    #expect(sigma / naive > 10)  // the naive sum stagnates
    let text = try derivation(p)
    #expect(text.contains("= 1.000 + 1.284 + … + \(shown(Double.exp(1.75))) = \(shown(sigma))"))
    #expect(text.contains("σ (naive left-to-right, bfloat16) = \(shown(naive)) — "))
    #expect(text.contains("× too small; σ used below = \(shown(sigma))"))
    #expect(text.contains("(every s_i here is e^{x_i}/σ with σ = \(shown(sigma)) of step 1"))
  }

  // Defect 14: the index-notation steps, the case form and the expanded chain-rule sum, with the numbers.
  @Test func skippedStepsOfTheArticles() throws {
    let e = [1.0, 2, 3].map { Double.exp($0) }
    let sum = e.reduce(0, +)
    let s = e.map { $0 / sum }
    let text = try derivation(Problem(logits: [1, 2, 3], target: 2))
    // (a) σ = 1_j e^{x_j} and ∂e^{x_j}/∂x_j · ∂x_j/∂x_n = e^{x_j} δ_jn before 1_j is dropped.
    #expect(text.contains("σ = Σ_j e^{x_j} = 1_j e^{x_j}"))
    #expect(text.contains("= 1_j (∂e^{x_j}/∂x_j)(∂x_j/∂x_n) = 1_j e^{x_j} δ_jn"))
    #expect(text.contains("(δ_jn keeps j = n; 1_n = 1 dropped)"))
    #expect(text.contains("∂σ/∂x_2 = (1·e^{1}·0 + 1·e^{2}·0 + 1·e^{3}·1) = e^{3} = \(shown(e[2]))"))
    // (b) the case form for the cursor's class (n = T = 2).
    #expect(text.contains("by cases:  ∂c/∂x_k = s_k − 1 for k = T,  s_k for k ≠ T"))
    #expect(text.contains("here k = 2 = T:  ∂c/∂x_2 = \(shown(s[2])) − 1 = \(shown(s[2] - 1))"))
    // (c) Σ_i (∂c/∂s_i)(∂s_i/∂x_n) with the numbers: only i = T has ∂c/∂s_i ≠ 0.
    let j02 = -s[0] * s[2]
    let j12 = -s[1] * s[2]
    let j22 = s[2] * (1 - s[2])
    #expect(
      text.contains(
        "= (0)(\(shown(j02))) + (0)(\(shown(j12))) + (\(shown(-1 / s[2])))(\(shown(j22))) = \(shown(s[2] - 1))"))
  }

  @Test func caseFormForAnotherClassAt80x24Scrolls() throws {
    var e = try explorer(Problem(logits: [1, 2, 3], target: 2), screen: .derivation)
    e.handle(.key(.left))
    e.handle(.key(.left))
    for _ in 0..<30 { e.handle(.key(.pageDown)) }
    let s0 = Double.exp(1) / (Double.exp(1) + Double.exp(2) + Double.exp(3))
    let text = screen(e, 80, 24).text
    #expect(text.contains("PgUp/PgDn"))
    #expect(text.contains("∂c/∂x_0 = s_0 = \(shown(s0))"))
  }
}
