import SoftmaxCore
import SoftmaxText

/// A guided lesson in the explorer, like vimtutor: each step sets up a state and says what to look at.
public enum Tour {
  /// One lesson step.
  public struct Step: Sendable {
    public var title: String
    public var text: String
    public var screen: Screen
    public var problem: Problem
    /// Row to select and Jacobian cell to point at (nil: the target).
    public var selection: Int?
    public var cursor: (i: Int, n: Int)?
    /// The Stability lab section to open on (nil: the first).
    public var section: StabilitySection? = nil
  }

  /// The lesson, from what softmax does to the log-sum-exp fix.
  public static let steps: [Step] = [
    Step(
      title: "What softmax does",
      text: "Softmax turns logits x into probabilities s_i = e^{x_i} / Σ_j e^{x_j}: all positive, summing to 1. "
        + "The bars are s. Select a row with j/k and press + or − to nudge its logit: every bar moves, not just that one.",
      screen: .explore, problem: Problem(logits: [1, 2, 3], target: 0)),
    Step(
      title: "The loss",
      text: "Cross-entropy with target T is c = −log s_T. Here T = 0 and s_0 ≈ 0.09, so c ≈ 2.41. "
        + "Select row 2 and press t: the target becomes the likeliest class and the loss drops to about 0.41.",
      screen: .explore, problem: Problem(logits: [1, 2, 3], target: 0)),
    Step(
      title: "The Jacobian",
      text:
        "∂s_i/∂x_n = s_i δ_in − s_i s_n. On the diagonal it is s_i(1 − s_i) > 0 (blue); off it, −s_i s_n < 0 (red). "
        + "Move the cell cursor with H J K L and read the formula with your numbers in the inspector.",
      screen: .explore, problem: Problem(logits: [1, 2, 3], target: 0), cursor: (1, 1)),
    Step(
      title: "Rows sum to zero",
      text: "Raising one logit takes probability from the others: each row of J sums to 0 and J is symmetric. "
        + "The inspector shows the row sum (zero up to rounding) and the mirrored entry ∂s_n/∂x_i.",
      screen: .explore, problem: Problem(logits: [0.5, -1, 2, 1], target: 2), cursor: (0, 2)),
    Step(
      title: "The gradient",
      text: "The chain rule collapses to ∂c/∂x_n = s_n − δ_Tn: every logit gets a gradient, because σ couples them. "
        + "The target's is s_T − 1 < 0, the others' s_n > 0, and together they sum to 0.",
      screen: .explore, problem: Problem(logits: [1, 2, 3], target: 0)),
    Step(
      title: "The derivation, with your numbers",
      text: "Screen 2 walks σ, the quotient rule, ∂c/∂s_i = −δ_iT/s_T and the chain rule, substituting the current "
        + "numbers. ←/→ change n, ↑/↓ change i. The last step checks chain rule, closed form and finite difference agree.",
      screen: .derivation, problem: Problem(logits: [1, 2, 3], target: 0)),
    Step(
      title: "One gradient step",
      text: "Press s to take x ← x − η∇ with η = 0.1: the target's logit rises, the others fall, the loss goes down, "
        + "and Σx stays the same because the gradient sums to 0. Press u to undo.",
      screen: .explore, problem: Problem(logits: [1, 2, 3], target: 0)),
    Step(
      title: "Gradient descent",
      text: "Screen 4 repeats the step. Press space to run or pause, n for one step, r to reset, < and > for speed. "
        + "With label smoothing ε = 0.1 the optimum is s = y (s_T → 0.9333, not 1). Press l and set η = 50: "
        + "a step jumps past the optimum and the loss rises (▲). With a one-hot target it cannot: every step "
        + "moves each z_j − z_T down, so the loss falls at any η.",
      screen: .descent, problem: Problem(logits: [1, 2, 3], target: 0, labelSmoothing: 0.1, learningRate: 1)),
    Step(
      title: "Overflow",
      text:
        "Shift invariance lets us add a constant to every logit, but the naive formula disagrees: e^{1002} overflows "
        + "float64 (above 709.78), σ = inf and inf/inf = NaN. Subtracting M = max x gives the same s as for [1, 2, 3].",
      screen: .stability, problem: Problem(logits: [1000, 1001, 1002], target: 2)),
    Step(
      title: "Overflow at small logits",
      text: "In float16 the largest finite value is 65504, so e^x overflows above about 11.09. Here each e^{11} is "
        + "finite, yet their sum is not: naive s = finite/inf = 0. Press p to cycle the precision and compare.",
      screen: .stability, problem: Problem(logits: [11, 11], target: 0, precision: .float16)),
    Step(
      title: "The log-sum-exp fix",
      text: "Even the stable s_0 = e^{−200} rounds to 0 in float32, so −log s_0 = inf. Computing c = LSE(x) − x_T "
        + "directly gives 200. And for [40, 0] in float64, log1p keeps a loss of 4.2e−18 that LSE − x_T rounds to 0.",
      screen: .stability, problem: Problem(logits: [0, 200], target: 0, precision: .float32), section: .loss),
  ]

  /// Sets up step `index` in `state` (clamped; past the end the tour finishes) and returns what that changed.
  @discardableResult
  public static func go(to index: Int, in state: inout AppState) -> ProblemChange {
    guard index < steps.count else {
      state.tourStep = nil
      state.message = StatusMessage("tour finished — keep exploring, or q to quit")
      return .none
    }
    let k = Swift.max(0, index)
    let step = steps[k]
    guard let problem = try? step.problem.validated() else { return .none }
    let keep = (state.width, state.height)
    state = AppState(problem: problem)
    (state.width, state.height) = keep
    state.screen = step.screen
    state.tourStep = k
    if let r = step.selection { state.selection = r }
    if let section = step.section { state.stabilitySection = section }
    if let c = step.cursor {
      state.cursorI = c.i
      state.cursorN = c.n
    }
    return .problem
  }
}

/// The lesson box drawn over the lower part of the screen during the tour.
enum TourOverlay {
  /// `atTop`: over the upper part instead (the Derivation screen keeps its check, step 5, at the bottom).
  static func render(step: Int, into buf: inout Buffer, body: Rect, context ctx: RenderContext, atTop: Bool = false) {
    guard Tour.steps.indices.contains(step) else { return }
    let s = Tour.steps[step]
    let width = body.width
    let text = ctx.text(TextLine(s.text))
    var count = 0
    wrap(text, width: width - 4) { _ in count += 1 }
    let height = Swift.min(body.height, count + 3)
    let r = Rect(x: body.x, y: atTop ? body.y : body.maxY - height, width: width, height: height)
    buf.fill(r, with: .blank)
    buf.box(r, title: "Tour \(step + 1)/\(Tour.steps.count): \(s.title)", context: ctx, titleStyle: ctx.target)
    var out = PanelText(Rect(x: r.x + 2, y: r.y + 1, width: r.width - 3, height: r.height - 2))
    wrap(text, width: width - 4) { out.line($0, .plain, into: &buf) }
    let nav = ctx.text(" N next · B back · q quit ")
    buf.write(nav, x: r.maxX - nav.scalarCount - 2, y: r.maxY - 1, style: ctx.muted, clip: r)
  }
}
