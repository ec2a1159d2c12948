import SoftmaxCore

/// A built-in example for the Stability lab: a vector, a precision, and a sentence on what it shows.
public struct Preset: Sendable {
  public var name: String
  public var lesson: String
  public var problem: Problem
  /// The Stability lab section the preset opens on: the one that shows what it is about.
  public var section: StabilitySection = .naive

  /// The presets, in the order `P` cycles through them.
  public static let all: [Preset] = [
    Preset(
      name: "overflow",
      lesson:
        "e^{1002} is far past float64's 709.78: naive softmax gives inf/inf = NaN; subtracting M = 1002 fixes it.",
      problem: Problem(logits: [1000, 1001, 1002], target: 2)),
    Preset(
      name: "underflow",
      lesson: "every e^{x_i} rounds to 0, so naive σ = 0 and 0/0 = NaN; after the shift one term is exactly 1.",
      problem: Problem(logits: [-1000, -1001, -1002], target: 0)),
    Preset(
      name: "float16 at small logits", lesson: "float16 overflows above ln 65504 ≈ 11.09: e^{12} is already inf.",
      problem: Problem(logits: [10, 11, 12], target: 2, precision: .float16)),
    Preset(
      name: "sum overflow",
      lesson: "each e^{11} = 59874 fits float16, but their sum 119748 does not: s = finite/inf = 0.",
      problem: Problem(logits: [11, 11], target: 0, precision: .float16)),
    Preset(
      name: "loss underflow",
      lesson: "s_0 = e^{-200} underflows float32, so −log s_0 = inf; log-sum-exp gives the loss 200.",
      problem: Problem(logits: [0, 200], target: 0, precision: .float32), section: .loss),
    Preset(
      name: "tiny loss",
      lesson: "c = log(1 + e^{-40}) ≈ 4.248e-18: LSE − x_T rounds to 0, log1p of the off-target mass keeps it.",
      problem: Problem(logits: [40, 0], target: 0), section: .loss),
    Preset(
      name: "masked class", lesson: "x_1 = −∞ masks class 1: its probability is exactly 0 and it gets no gradient.",
      problem: Problem(logits: [0, -.infinity], target: 0)),
    Preset(
      name: "low temperature",
      lesson: "τ = 0.05 turns [1, 2, 3] into z = [20, 40, 60]: nearly one-hot, and the Jacobian scales by 1/τ.",
      problem: Problem(logits: [1, 2, 3], target: 2, temperature: 0.05)),
    Preset(
      name: "GPT-2 vocabulary",
      lesson: "50,257 classes: the views window the vector and the Jacobian; nothing C² is ever built.",
      problem: Problem(logits: SeededRandom.logits(count: 50_257, seed: 2, scale: 3), target: 464)),
  ]

  /// The presets' problems validated once, so that a frame can tell whether the problem on screen is still a preset's
  /// without validating it again (nil where a preset fails validation, which the tests rule out).
  static let validated: [Problem?] = all.map { try? $0.problem.validated() }
}
