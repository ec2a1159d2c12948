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
    #expect(text.contains("1 − s_0 is taken as Σ_{j≠0} s_j = \(shown(complement)): 1 − 1.000 would cancel"))
    #expect(text.contains("∂c/∂x_0 = s_0 − 1 = −Σ_{j≠0} s_j = −\(shown(complement)) = \(shown(-complement))"))
    #expect(text.contains("∂l/∂x_0 = 1 × (−\(shown(complement))) = \(shown(-complement))"))
    // The old contradiction: a chain whose middle evaluates to 0 and whose end is −4.248e−18.
    #expect(!text.contains("1 × (1.000 − 1) ="))
    #expect(!text.contains("= 1.000 − 1 = 0"))
    #expect(!text.contains("(1 − 1.000)"))
  }

  @Test func cancellationInFloat32() throws {
    // float32 [17, 0, 0]: 1 − s_0 = 2e^{−17}/(1 + 2e^{−17}).
    let complement = 2 * Double.exp(-17) / (1 + 2 * Double.exp(-17))
    let text = try derivation(Problem(logits: [17, 0, 0], target: 0, precision: .float32))
    #expect(text.contains("1 − s_0 is taken as Σ_{j≠0} s_j = \(shown(complement))"))
    #expect(text.contains("∂c/∂x_0 = s_0 − 1 = −Σ_{j≠0} s_j = −\(shown(complement))"))
  }

  @Test func cancellationWithTemperature() throws {
    // [80, 0], τ = 2: z = [40, 0]; ∂c/∂x_0 = −(1 − s_0)/τ.
    let complement = Double.exp(-40) / (1 + Double.exp(-40))
    let text = try derivation(Problem(logits: [80, 0], target: 0, temperature: 2))
    #expect(text.contains("∂s_0/∂x_0 = 1.000 × \(shown(complement)) / 2 = \(shown(complement / 2))"))
    #expect(
      text.contains(
        "∂c/∂x_0 = (s_0 − 1)/τ = (−Σ_{j≠0} s_j)/τ = (−\(shown(complement))) / 2 = \(shown(-complement / 2))"))
  }

  @Test func inspectorShowsComplement() throws {
    let complement = Double.exp(-40) / (1 + Double.exp(-40))
    let text = screen(try explorer([40, 0]), 120, 40).text
    #expect(text.contains("= s_i (1 − s_i) = s_i Σ_{j≠i} s_j"))
    #expect(text.contains("= 1.000 × \(shown(complement))"))
    #expect(text.contains("(1 − 1.000 would cancel: Σ_{j≠i} s_j)"))
    #expect(!text.contains("(1 − 1.000)\n"))
    #expect(text.contains("∂l/∂x_0 = (s_0 − 1) = −Σ_{j≠0} s_j = (−\(shown(complement))) = \(shown(-complement))"))
  }

  // Defect 6: with τ = 2 the closed form is (s_n − δ_Tn)/τ, and with g it carries g.
  @Test func inspectorClosedFormHasTemperatureAndUpstream() throws {
    let e = [0.5, 1, 1.5].map { Double.exp($0) }
    let s0 = e[0] / e.reduce(0, +)
    var text = screen(try explorer(Problem(logits: [1, 2, 3], target: 0, temperature: 2), screen: .explore)).text
    #expect(text.contains("closed form (s_n − δ_Tn) / τ = \(shown((s0 - 1) / 2))"))
    #expect(!text.contains("closed form s_n − δ_Tn ="))
    text =
      screen(
        try explorer(Problem(logits: [1, 2, 3], target: 0, temperature: 2, upstream: 0.5), screen: .explore)
      ).text
    #expect(text.contains("closed form g·(s_n − δ_Tn) / τ = \(shown(0.5 * (s0 - 1) / 2))"))
    #expect(text.contains("chain rule: ∂l/∂x_0 = −g·(1/s_T)·∂s_T/∂x_0"))
    #expect(
      text.contains("∂l/∂x_0 = g·(s_0 − δ_T0)/τ = 0.5000·(\(shown(s0)) − 1)/2.000 = \(shown(0.5 * (s0 - 1) / 2))"))
  }

  @Test func derivationCarriesSmoothingTemperatureAndUpstream() throws {
    // ε = 0.1, C = 3: y_0 = 0.9 + 0.1/3; τ = 2; g = 0.5.
    let e = [0.5, 1, 1.5].map { Double.exp($0) }
    let s0 = e[0] / e.reduce(0, +)
    let y0 = 0.9 + 0.1 / 3
    let text = try derivation(
      Problem(logits: [1, 2, 3], target: 0, temperature: 2, labelSmoothing: 0.1, upstream: 0.5))
    #expect(text.contains("label smoothing ε = 0.1000: y = (1 − ε)e_T + ε/C"))
    #expect(text.contains("∂c/∂x_0 = (s_0 − y_0)/τ = (\(shown(s0)) − \(shown(y0))) / 2 = \(shown((s0 - y0) / 2))"))
    #expect(text.contains("∂l/∂x_0 = 0.5 × (\(shown(s0)) − \(shown(y0))) / 2 = \(shown(0.5 * (s0 - y0) / 2))"))
  }

  // Defect 5: one σ throughout; the naive left-to-right bfloat16 sum is named apart from the accurate one.
  @Test func oneSigmaAtManyClassesInBFloat16() throws {
    // x_j = (j mod 8)/4 is exact in bfloat16; σ = 16384 Σ_{k<8} e^{k/4}.
    let logits = (0..<131_072).map { Double($0 % 8) / 4 }
    let sigma = 16384 * (0..<8).reduce(0.0) { $0 + Double.exp(Double($1) / 4) }
    let p = try Problem(logits: logits, target: 0, precision: .bfloat16).validated()
    let ev = Evaluation(p)
    let naive = ev.naive.sum
    #expect(sigma / naive > 10)  // the naive sum stagnates
    let text = try derivation(p)
    #expect(text.contains("= \(shown(naive))"))
    #expect(text.contains("that is the naive sum, left to right in bfloat16"))
    #expect(text.contains("× too small); the σ the steps below use is the accurate σ"))
    // The accurate σ, to the digits shown (bfloat16's own rounding of the terms aside, within 0.5%).
    let accurate = Double.exp(ev.stable.max) * ev.stable.sum
    #expect(abs(accurate - sigma) / sigma < 5e-3)
    #expect(text.contains("= e^{M} Σ_j e^{x_j − M} = \(shown(accurate))"))
    // Step 2's s_0 is e^{x_0}/σ with that σ, not with the naive one.
    #expect(abs(ev.softmax[0] - 1 / sigma) / (1 / sigma) < 1e-2)
  }

  // Defect 14: the index-notation steps, the case form and the expanded chain-rule sum, with the numbers.
  @Test func skippedStepsOfTheArticles() throws {
    let e = [1.0, 2, 3].map { Double.exp($0) }
    let sum = e.reduce(0, +)
    let s = e.map { $0 / sum }
    let text = try derivation(Problem(logits: [1, 2, 3], target: 2))
    // (a) σ = 1_j e^{x_j} and ∂e^{x_j}/∂x_j · ∂x_j/∂x_n = e^{x_j} δ_jn before 1_j is dropped.
    #expect(text.contains("in index notation σ = 1_j e^{x_j}"))
    #expect(text.contains("∂σ/∂x_n = 1_j (∂e^{x_j}/∂x_j)(∂x_j/∂x_n) = 1_j e^{x_j} δ_jn = e^{x_n}"))
    #expect(text.contains("(δ_jn keeps only j = n, and 1_n = 1)"))
    #expect(text.contains("∂σ/∂x_2 = e^{3} = \(shown(e[2]))"))
    // (b) the case form for the cursor's class (n = T = 2).
    #expect(text.contains("case form: ∂c/∂x_k = s_k − 1 for k = T, s_k otherwise; here k = 2 is T"))
    #expect(text.contains("∂c/∂x_2 = s_2 − δ_T2 = \(shown(s[2])) − 1 = \(shown(s[2] - 1))"))
    // (c) Σ_i (∂c/∂s_i)(∂s_i/∂x_n) with the numbers: only i = T has ∂c/∂s_i ≠ 0.
    let j22 = s[2] * (1 - s[2])
    #expect(
      text.contains(
        "Σ_i (∂c/∂s_i)(∂s_i/∂x_2) = (∂c/∂s_2)(∂s_2/∂x_2) + Σ_{i≠2} 0 · ∂s_i/∂x_2 = (−1/\(shown(s[2]))) × "
          + "\(shown(j22)) = \(shown(s[2] - 1))"))
  }

  @Test func caseFormForAnotherClassAt80x24Scrolls() throws {
    var e = try explorer(Problem(logits: [1, 2, 3], target: 2), screen: .derivation)
    e.handle(.key(.left))
    e.handle(.key(.left))
    for _ in 0..<30 { e.handle(.key(.pageDown)) }
    let s0 = Double.exp(1) / (Double.exp(1) + Double.exp(2) + Double.exp(3))
    let text = screen(e, 80, 24).text
    #expect(text.contains("PgUp/PgDn"))
    #expect(text.contains("here k = 0 ≠ T"))
    #expect(text.contains("∂c/∂x_0 = s_0 − δ_T0 = \(shown(s0)) − 0 = \(shown(s0))"))
  }
}
