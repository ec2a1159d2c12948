import SoftmaxCore
import SoftmaxText

/// A lesson step's question (`> ask:`), while it is open: the quantity is hidden (the body shows only what it is
/// computed from), the answer is typed at the bottom line, and it is judged at the digits the explorer shows.
public struct QuizQuestion: Equatable, Sendable {
  /// What is asked.
  public var quantity: Quantity
  /// The answer typed so far (held inline).
  public var typed: TextLine = ""
  /// Wrong answers given.
  public var attempts = 0
  /// Whether the right answer has been given (the worked answer is then shown).
  public var answered = false

  /// A question about `quantity`, not yet answered.
  public init(quantity: Quantity) { self.quantity = quantity }

  /// Whether `answer` is `truth` at the 4 significant digits the explorer shows: within half a unit of the 4th digit,
  /// relative (5·10⁻⁴·|truth|); an exact 0 takes |answer| ≤ 5·10⁻⁵; `inf`, `-inf` and `nan` must be typed as such.
  public static func judge(_ answer: Double, truth: Double) -> Bool {
    if truth.isNaN { return answer.isNaN }
    if truth.isInfinite { return answer == truth }
    guard answer.isFinite else { return false }
    if truth == 0 { return abs(answer) <= 5e-5 }
    return abs(answer - truth) <= 5e-4 * abs(truth)
  }

  /// The number in a typed answer (`0.2447`, `-1e-3`, `−0.5`, `inf`, `-inf`, `nan`), or nil.
  public static func parse(_ text: String) -> Double? {
    let t = text.replacingMinus.trimmed(" ")
    switch t.lowercased() {
    case "inf", "+inf": return .infinity
    case "-inf": return -.infinity
    case "nan": return .nan
    default: return Double(t)
    }
  }
}

extension String {
  /// `−` (U+2212, as the explorer writes minus) read as `-`.
  var replacingMinus: String { String(map { $0 == "−" ? "-" : $0 }) }
}

extension AppState {
  /// The question of the step shown, while it waits for its answer.
  public var openQuestion: QuizQuestion? {
    guard let q = question, !q.answered else { return nil }
    return q
  }

  /// Types, erases or confirms the answer (the body of the answer actions).
  mutating func answer(_ action: Action, current: Evaluation?) {
    guard var q = question, !q.answered else { return }
    switch action {
    case .answerInsert(let c):
      if q.typed.scalarCount < 40 { q.typed.append(TextLine(String(c))) }
    case .answerBackspace:
      if !q.typed.isEmpty { q.typed.removeLast() }
    case .answerConfirm:
      let text = String(describing: q.typed)
      guard let value = QuizQuestion.parse(text) else {
        message = StatusMessage("'\(text)' is not a number (type e.g. 0.2447, -1e-3, inf or nan)", isError: true)
        question = q
        return
      }
      let ev = current.flatMap { $0.problem == problem ? $0 : nil } ?? Evaluation(problem)
      guard let truth = try? q.quantity.value(ev: ev, selection: selection) else { return }
      if QuizQuestion.judge(value, truth: truth) {
        q.answered = true
        message = StatusMessage("✓ right: \(q.quantity.description) = \(DecimalFormat.significant(truth))")
      } else {
        q.attempts += 1
        q.typed = ""
        message = StatusMessage("✗ \(text) is not \(q.quantity.description): try again (N skips)", isError: true)
      }
    default: break
    }
    question = q
  }
}

/// The worked answer of a question: the formula with the numbers substituted, and the derivation step it comes from.
public enum WorkedAnswer {
  /// The worked answer of `q` in `ev`: the formula with its numbers, then the step it comes from.
  public static func lines(_ q: Quantity, _ ev: Evaluation, selection: Int) -> [String] {
    let f = { (x: Double) in DecimalFormat.significant(x) }
    let p = ev.problem
    let value = (try? q.value(ev: ev, selection: selection)).map(f) ?? "?"
    let y = ev.targetDistribution
    switch q {
    case .softmax(let i):
      return [
        "s_\(i) = e^{z_\(i) − M} / Σ_j e^{z_j − M} = \(f(ev.stable.exps[i])) / \(f(ev.stable.sum)) = \(value)",
        "(Derivation step 1: softmax, with M = max z = \(f(ev.stable.max)) subtracted)",
      ]
    case .gradient(let i):
      let g = p.upstream == 1 ? "" : "\(f(p.upstream))·"
      return [
        "∂l/∂x_\(i) = \(g)(s_\(i) − y_\(i)) = \(g)(\(f(ev.softmax[i])) − \(f(y[i]))) = \(value)",
        "(Derivation step 5: the chain rule collapses to s_n − δ_Tn\(p.temperature == 1 ? "" : ", divided by τ"))",
      ]
    case .loss:
      return [
        "c = LSE(z) − z_T = \(f(ev.logSumExp.value)) − \(f(ev.scaled[p.target])) = \(value)",
        "(Derivation step 4: c = −log s_T, computed as log-sum-exp minus the target's logit)",
      ]
    case .jacobian(let i, let n):
      let form = i == n ? "s_\(i)(1 − s_\(i))" : "−s_\(i) s_\(n)"
      return [
        "∂s_\(i)/∂x_\(n) = \(form) = \(value)   (s_\(i) = \(f(ev.softmax[i])), s_\(n) = \(f(ev.softmax[n])))",
        "(Derivation step 2: the quotient rule gives s_i δ_in − s_i s_n)",
      ]
    case .logSoftmax(let i):
      return [
        "log s_\(i) = z_\(i) − LSE(z) = \(f(ev.scaled[i])) − \(f(ev.logSumExp.value)) = \(value)",
        "(log-sum-exp: no softmax is taken, so nothing underflows)",
      ]
    case .sigmaNaive:
      return ["σ = Σ_j e^{z_j} (naive, in \(p.precision.rawValue)) = \(value)", "(Derivation step 1: σ = 1_j e^{x_j})"]
    default:
      return ["\(q) = \(value)"]
    }
  }
}

/// A quiz: random small vectors and a question of each kind in turn, reproducible from its seed.
public enum QuizGenerator {
  /// The kinds asked, in turn.
  static func question(_ k: Int, classes c: Int, target t: Int, rng: inout SeededRandom) -> Quantity {
    let i = Int(rng.next() % UInt64(c))
    let n = Int(rng.next() % UInt64(c))
    switch k % 5 {
    case 0: return .softmax(i)
    case 1: return .gradient(i)
    case 2: return .loss
    case 3: return .jacobian(i, n)
    default: return .gradient(t)
    }
  }

  /// `count` questions (1…100) from `seed`: the same seed gives the same quiz.
  public static func lesson(seed: UInt64, count: Int) -> Lesson {
    var rng = SeededRandom(seed: seed)
    var steps: [Lesson.Step] = []
    for k in 0..<Swift.max(1, Swift.min(100, count)) {
      let c = 2 + Int(rng.next() % 3)
      let logits = (0..<c).map { _ in Double(Int(rng.next() % 13) - 6) / 2 }
      let t = Int(rng.next() % UInt64(c))
      let q = question(k, classes: c, target: t, rng: &rng)
      let text =
        "What is \(q) for x = [\(logits.map { TextLine(compact: $0).description }.joined(separator: ", "))] "
        + "with target T = \(t)? Work it out and type it: 4 significant digits are enough."
      steps.append(
        Lesson.Step(
          title: "Question \(k + 1)", text: text,
          setup: Lesson.Setup(problem: Problem(logits: logits, target: t)), ask: q))
    }
    return Lesson(label: "Quiz", title: "Quiz (seed \(seed))", steps: steps)
  }
}

/// The body while a question is open: what the quantity is computed from, and nothing that gives it away.
enum QuizView {
  static func render(
    _ state: AppState, _ q: QuizQuestion, into buf: inout Buffer, body: Rect, context ctx: RenderContext
  ) {
    buf.fill(body, with: .blank)
    buf.box(body, title: "Question: what is \(q.quantity.description)?", context: ctx, titleStyle: ctx.target)
    var out = PanelText(Rect(x: body.x + 2, y: body.y + 1, width: body.width - 3, height: body.height - 2))
    let p = state.problem
    let ev = Evaluation(p)
    let f = { (x: Double) in DecimalFormat.significant(x) }
    out.line(
      ctx.text("x = [\(p.logits.map(f).joined(separator: ", "))]   T = \(p.target)   \(p.precision.rawValue)"), .plain,
      into: &buf)
    if p.temperature != 1 || p.labelSmoothing != 0 || p.upstream != 1 {
      out.line(
        ctx.text("τ = \(f(p.temperature))   ε = \(f(p.labelSmoothing))   g = \(f(p.upstream))"), .plain, into: &buf)
    }
    out.line("", .plain, into: &buf)
    // The givens: the softmax for a gradient or a Jacobian entry (the step the question is about), nothing more.
    switch q.quantity {
    case .gradient, .jacobian, .loss:
      out.line(ctx.text("given s = [\(ev.softmax.map(f).joined(separator: ", "))]"), .plain, into: &buf)
    default:
      out.line(ctx.text("work it out from the logits"), ctx.muted, into: &buf)
    }
    out.line("", .plain, into: &buf)
    out.line(ctx.text("your answer: \(q.typed)_   (Enter judges it; N skips)"), ctx.target, into: &buf)
  }
}
