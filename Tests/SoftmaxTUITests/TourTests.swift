import SoftmaxCore
import SoftmaxLesson
import Testing

@testable import SoftmaxTUI

/// Every tour lesson's claim, checked on the lesson's own state after the key it tells the user to press; and the
/// tour's keys never collide with a lesson's (issue 12 defect 8). Every preset opens on what it is about (defect 13).
@Suite("Tour lessons say what is true")
struct TourTests {
  /// The explorer at lesson `k`, reached through the tour's own key.
  static func lesson(_ k: Int) -> Explorer {
    var start = AppState(problem: try! Problem(logits: [1, 2, 3]).validated())
    start.lesson = BuiltInLessons.tour.lesson
    var e = Explorer(state: start)
    e.perform(.tourNext)  // what `softmax-lab tour` does
    for _ in 0..<k {
      // A step that waits for its key (t in lesson 2, s in lesson 7) gets it first, as a user following the tour would.
      if let step = e.state.tourStep, let key = e.state.lesson?.steps[step].press { e.handle(.key(key)) }
      e.handle(.key(.character("N")))
    }
    #expect(e.state.tourStep == k)
    return e
  }

  static func press(_ keys: String, _ e: inout Explorer) {
    for ch in keys { e.handle(.key(.character(ch))) }
  }

  @Test func everyLessonHasAClaimTest() {
    // One test below per lesson: adding a lesson without one fails here.
    #expect(BuiltInLessons.tour.lesson.steps.count == 11)
  }

  @Test func theTourKeysAreCapitalsAndNoLessonKeyIsTaken() {
    var e = Self.lesson(7)  // the Descent lesson, whose own key n takes one step
    #expect(e.state.screen == .descent)
    Self.press("n", &e)
    #expect(e.state.tourStep == 7, "n must step the descent, not advance the tour")
    #expect(e.state.descent.steps == 1)
    Self.press("B", &e)
    #expect(e.state.tourStep == 6)
    // Every key a lesson names is free of the tour's N and B.
    for step in BuiltInLessons.tour.lesson.steps {
      #expect(!step.text.contains("press N") && !step.text.contains("press B"))
    }
  }

  /// Every key each lesson tells the user to press does that lesson's thing in the lesson's state, never the tour's;
  /// and N and B are the tour's in every lesson.
  @Test func everyKeyALessonNamesIsTheLessonsOwn() {
    let named: [Int: [Key]] = [
      0: [.character("j"), .character("k"), .character("+"), .character("-")],
      1: [.character("j"), .character("t")],
      2: [.character("H"), .character("J"), .character("K"), .character("L")],
      5: [.left, .right, .up, .down],
      6: [.character("s"), .character("u")],
      7: [.character(" "), .character("n"), .character("r"), .character("<"), .character(">"), .character("l")],
      9: [.character("p")],
    ]
    for k in BuiltInLessons.tour.lesson.steps.indices {
      let e = Self.lesson(k)
      for key in named[k] ?? [] {
        let action = KeyMap.action(for: key, in: e.state)
        #expect(
          action != nil && action != .tourNext && action != .tourBack, "lesson \(k + 1): \(key) → \(action as Any)")
      }
      #expect(KeyMap.action(for: .character("N"), in: e.state) == .tourNext)
      #expect(KeyMap.action(for: .character("B"), in: e.state) == .tourBack)
    }
  }

  /// Lesson 8's other keys: space runs (and pauses), r resets to the start.
  @Test func lesson8SpaceRunsAndRResets() {
    var e = Self.lesson(7)
    Self.press(" ", &e)
    #expect(e.state.descent.running)
    Self.press("n", &e)
    Self.press(" ", &e)
    #expect(!e.state.descent.running)
    Self.press("r", &e)
    #expect(e.state.descent.steps == 0 && e.state.tourStep == 7)
  }

  @Test func lesson1EveryBarMoves() {
    var e = Self.lesson(0)
    let before = e.evaluation.softmax
    #expect(abs(before.reduce(0, +) - 1) < 1e-15 && before.allSatisfy { $0 > 0 })
    Self.press("j+", &e)
    let after = e.evaluation.softmax
    for i in before.indices { #expect(after[i] != before[i], "s_\(i) did not move") }
  }

  @Test func lesson2TheLoss() {
    var e = Self.lesson(1)
    let ev = e.evaluation
    #expect(abs(ev.softmax[0] - 0.09) < 0.005)  // "s_0 ≈ 0.09"
    #expect(abs(ev.loss - 2.41) < 0.005)  // "c ≈ 2.41"
    Self.press("jjt", &e)
    #expect(e.state.problem.target == 2)
    #expect(abs(e.evaluation.loss - 0.41) < 0.005)  // "drops to about 0.41"
  }

  @Test func lesson3TheJacobianSigns() {
    let e = Self.lesson(2)
    let ev = e.evaluation
    for i in 0..<3 {
      for n in 0..<3 { #expect(i == n ? ev.jacobian(i, n) > 0 : ev.jacobian(i, n) < 0) }
    }
    #expect(e.state.cursorI == 1 && e.state.cursorN == 1)
    #expect(screen(e).text.contains("∂s_1/∂x_1"))
  }

  @Test func lesson4RowsSumToZeroAndJIsSymmetric() {
    let e = Self.lesson(3)
    // "The inspector shows the row sum and the mirrored entry ∂s_n/∂x_i" (cursor i = 0, n = 2).
    let text = screen(e).text
    #expect(text.contains("row sum Σ_n = 0") && text.contains("symmetric: ∂s_2/∂x_0"), "\(text)")
    let ev = e.evaluation
    let c = ev.problem.classes
    for i in 0..<c {
      var sum = 0.0
      for n in 0..<c {
        sum += ev.jacobian(i, n)
        #expect(ev.jacobian(i, n) == ev.jacobian(n, i))
      }
      #expect(abs(sum) < 1e-15)
    }
  }

  @Test func lesson5TheGradient() {
    let ev = Self.lesson(4).evaluation
    let t = ev.problem.target
    for n in 0..<3 {
      #expect(ev.gradient[n] == ev.softmax[n] - (n == t ? 1 : 0))
      #expect(n == t ? ev.gradient[n] < 0 : ev.gradient[n] > 0)
    }
    #expect(abs(ev.gradient.reduce(0, +)) < 1e-15)
  }

  @Test func lesson6TheChecksAgree() {
    var e = Self.lesson(5)
    // "←/→ change n, ↑/↓ change i."
    let (i, n) = (e.state.cursorI, e.state.cursorN)
    e.handle(.key(.right))
    e.handle(.key(.down))
    #expect(e.state.cursorN == n + 1 && e.state.cursorI == i + 1)
    e.handle(.key(.left))
    e.handle(.key(.up))
    #expect(e.state.cursorN == n && e.state.cursorI == i)
    #expect(e.state.screen == .derivation)
    #expect(e.evaluation.gradientCheck(0).verdict == .agrees)
    #expect(screen(e).text.contains("✓ all three agree"))
  }

  @Test func lesson7OneStep() {
    var e = Self.lesson(6)
    let before = e.evaluation
    Self.press("s", &e)
    let x0 = before.problem.logits
    let x1 = e.state.problem.logits
    #expect(x1[0] > x0[0] && x1[1] < x0[1] && x1[2] < x0[2])
    #expect(e.evaluation.loss < before.loss)
    #expect(abs(x1.reduce(0, +) - x0.reduce(0, +)) < 1e-14)
    Self.press("u", &e)
    #expect(e.state.problem.logits == x0)
  }

  /// "With label smoothing … η = 50: a step jumps past the optimum and the loss rises. With a one-hot target it
  /// cannot."
  @Test func lesson8TheOvershootHappensAndOnlyWithSmoothing() {
    var e = Self.lesson(7)
    let y = e.evaluation.targetDistribution
    #expect(abs(y[0] - 0.9333) < 5e-5)  // "s_T → 0.9333"
    Self.press("l", &e)
    for _ in 0..<10 { e.handle(.key(.backspace)) }
    Self.press("50", &e)
    e.handle(.key(.enter))
    #expect(e.state.problem.learningRate == 50)
    for _ in 0..<12 { Self.press("n", &e) }
    let run = e.state.descent.history
    let rose = zip(run, run.dropFirst()).contains { $1.loss > $0.loss }
    #expect(rose, "the loss never rose at η = 50 with ε = 0.1")
    let text = screen(e, 80, 24).text
    #expect(text.contains("✗ c rose") && text.contains("▲"), "the rise is not marked (▲):\n\(text)")
    #expect(screen(e).text.contains("s_T per step → y_T = 0.9333"))
    // One-hot: every step lowers each z_j − z_T, so the loss falls at any η.
    var oneHot = Explorer(
      problem: try! Problem(logits: [1, 2, 3], target: 0, learningRate: 50).validated())
    oneHot.perform(.showScreen(.descent))
    for _ in 0..<12 { oneHot.perform(.descentStep) }
    let h = oneHot.state.descent.history
    #expect(h.count >= 2 && !zip(h, h.dropFirst()).contains { $1.loss > $0.loss })
  }

  @Test func lesson9Overflow() throws {
    let e = Self.lesson(8)
    let ev = e.evaluation
    #expect(ev.naive.sum == .infinity && ev.naive.probabilities.contains { $0.isNaN })
    let small = Evaluation(try Problem(logits: [1, 2, 3], target: 2).validated())
    for i in 0..<3 { #expect(abs(ev.softmax[i] - small.softmax[i]) < 1e-15) }
  }

  @Test func lesson10OverflowAtSmallLogits() {
    var e = Self.lesson(9)
    let ev = e.evaluation
    #expect(ev.problem.precision == .float16)
    #expect(ev.naive.exps.allSatisfy { $0.isFinite } && ev.naive.sum == .infinity)
    #expect(ev.naive.probabilities.allSatisfy { $0 == 0 })
    Self.press("p", &e)
    #expect(e.state.problem.precision == .float64)
  }

  @Test func lesson11LogSumExp() throws {
    let e = Self.lesson(10)
    let ev = e.evaluation
    #expect(ev.problem.precision == .float32)
    #expect(ev.softmax[0] == 0 && ev.lossFromStableSoftmax == .infinity)
    #expect(abs(ev.loss - 200) < 1e-4)
    // It opens on the loss section, where the 200 is.
    #expect(e.state.stabilitySection == .loss)
    #expect(screen(e, 80, 24).text.contains("200.0"))
    let tiny = Evaluation(try Problem(logits: [40, 0], target: 0).validated())
    #expect(abs(tiny.loss - 4.2e-18) < 0.05e-18)
  }

  /// Each preset opens on the section that shows what it is about (loss underflow and tiny loss: the loss).
  @Test(arguments: Array(Preset.all.indices))
  func everyPresetOpensOnItsSubject(k: Int) throws {
    var e = Explorer(problem: try Problem(logits: [1, 2, 3]).validated())
    for _ in 0...k { e.handle(.key(.character("P"))) }
    #expect(e.state.presetIndex == k)
    let text = screen(e, 80, 24).text
    let subject: [String] = [
      "NaN", "NaN", "inf↑", "0↓", "200.0", "4.248e-18", "e^{x_1}", "s_2", "50257",
    ]
    if k == 4 || k == 5 {  // the loss section, with its exact column, is what is on screen
      #expect(e.state.stabilitySection == .loss && text.contains("exact (Float80)"))
    }
    if k == 6 {  // masked: s_1 is exactly 0 and gets no gradient
      #expect(e.evaluation.softmax[1] == 0 && e.evaluation.gradient[1] == 0)
    }
    #expect(text.contains(subject[k]), "preset \(k) (\(Preset.all[k].name)) does not show \(subject[k]):\n\(text)")
  }
}
