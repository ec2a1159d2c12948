import SoftmaxCore
import Testing

@testable import SoftmaxTUI

/// The Descent screen's claims hold under the knobs (issue 12 defect 13): the optimum is s = y (one-hot: s_T → 1;
/// smoothed or soft: s_T → y_T), and a target that puts mass on a masked class has no optimum (c = ∞).
@Suite("Descent claims under τ, ε, soft targets, masked classes")
struct DescentClaimsTests {
  /// Runs `steps` descent steps on the Descent screen.
  static func run(_ problem: Problem, steps: Int) throws -> Explorer {
    var e = Explorer(problem: try problem.validated())
    e.perform(.showScreen(.descent))
    // Until it converges: a step that no longer changes the logits stops the run.
    for _ in 0..<steps where e.state.message?.text.description.hasPrefix("descent stopped") != true {
      e.perform(.descentStep)
    }
    return e
  }

  static func targetProbability(_ e: Explorer) -> Double { e.state.descent.history.last!.targetProbability }

  @Test func labelSmoothingConvergesToYTNotOne() throws {
    let e = try Self.run(Problem(logits: [1, 2, 3], target: 0, labelSmoothing: 0.1, learningRate: 1), steps: 400)
    let yT = 1 - 0.1 + 0.1 / 3
    #expect(abs(Self.targetProbability(e) - yT) < 1e-4)
    let text = screen(e).text
    #expect(text.contains("s_T per step → y_T = 0.9333"), "\(text)")
    #expect(!text.contains("s_T per step → 1"))
    #expect(text.contains("✓ c fell at every step") || text.contains("✓ c never rose"))
    let h = e.state.descent.history
    #expect(!zip(h, h.dropFirst()).contains { $1.loss > $0.loss })
  }

  @Test func aSoftTargetConvergesToItsYT() throws {
    let e = try Self.run(
      Problem(logits: [3, 2, 1], target: 0, softTarget: [0.2, 0.3, 0.5], learningRate: 1), steps: 400)
    #expect(abs(Self.targetProbability(e) - 0.2) < 1e-4)
    #expect(screen(e).text.contains("s_T per step → y_T = 0.2000"))
  }

  @Test func aOneHotTargetAtTemperatureTwoClimbsTowardsOne() throws {
    let e = try Self.run(Problem(logits: [1, 2, 3], target: 0, temperature: 2, learningRate: 1), steps: 200)
    let h = e.state.descent.history
    #expect(zip(h, h.dropFirst()).allSatisfy { $1.targetProbability > $0.targetProbability })
    #expect(Self.targetProbability(e) > 0.9)
    let text = screen(e).text
    #expect(text.contains("s_T per step → 1") && text.contains("✓ c fell at every step"))
    #expect(text.contains("= g(Σs − 1)/τ = 0"))
  }

  /// A masked class under label smoothing gets y = ε/C but keeps s = 0: c = ∞ at every step (it does not fall), Σx
  /// moves by −η·g·m/τ per step, and s settles at s_i = y_i + m/C' on the C' unmasked classes.
  @Test func smoothingOntoAMaskedClassHasNoOptimum() throws {
    let p = Problem(logits: [1, 2, -.infinity, 3], target: 0, labelSmoothing: 0.1, learningRate: 1)
    let e = try Self.run(p, steps: 400)
    let h = e.state.descent.history
    #expect(h.allSatisfy { $0.loss == .infinity })
    let m = 0.1 / 4
    let limit = (1 - 0.1 + 0.1 / 4) + m / 3
    #expect(abs(Self.targetProbability(e) - limit) < 1e-4, "\(Self.targetProbability(e)) vs \(limit)")
    // Σx moves by exactly −η·g·m/τ per step (up to rounding).
    #expect(e.state.descent.steps == 400)
    #expect(abs((h.last!.logitSum - 6) - (-1 * m * 400)) < 1e-9)
    let text = screen(e).text
    #expect(!text.contains("✓ c fell"), "c = ∞ at every step did not fall:\n\(text)")
    #expect(!text.contains("✗ drifts"))
    #expect(text.contains("c is not finite: it cannot fall"))
    #expect(text.contains("(the masked share)"))
    #expect(text.contains("y puts 0.02500 on masked classes"))
    #expect(text.contains("s_T per step → y_T + m/C' = 0.9333"), "\(text)")
  }

  /// A one-hot target gives a masked class y = 0: nothing changes, s_T → 1 and c falls.
  @Test func aMaskedClassWithAOneHotTargetStillClimbsToOne() throws {
    let e = try Self.run(Problem(logits: [1, 2, -.infinity, 3], target: 0, learningRate: 1), steps: 30)
    let text = screen(e).text
    #expect(text.contains("s_T per step → 1") && text.contains("✓ c fell at every step"))
    #expect(!text.contains("masked classes"))
  }
}
