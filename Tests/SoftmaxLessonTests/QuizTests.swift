import SoftmaxCore
import Testing

@testable import SoftmaxLesson
@testable import SoftmaxTUI

/// Questions: judged at the shown digits, hidden until answered, worked answers shown; the quiz is reproducible.
@Suite struct QuizTests {
  @Test func answersAreJudgedAtTheShownDigits() {
    let truth = -0.9099664357095
    #expect(QuizQuestion.judge(-0.9100, truth: truth))
    #expect(QuizQuestion.judge(-0.91, truth: truth))
    #expect(!QuizQuestion.judge(-0.9106, truth: truth))
    #expect(!QuizQuestion.judge(0.9100, truth: truth))
    #expect(QuizQuestion.judge(4.248e-18, truth: 4.248354255291589e-18))
    #expect(!QuizQuestion.judge(0, truth: 4.248354255291589e-18))
    #expect(
      QuizQuestion.judge(0, truth: 0) && QuizQuestion.judge(4e-5, truth: 0) && !QuizQuestion.judge(1e-4, truth: 0))
    #expect(QuizQuestion.judge(.infinity, truth: .infinity) && !QuizQuestion.judge(1e308, truth: .infinity))
    #expect(QuizQuestion.judge(.nan, truth: .nan) && !QuizQuestion.judge(0, truth: .nan))
    #expect(QuizQuestion.parse("−0.5") == -0.5 && QuizQuestion.parse("-inf") == -.infinity)
    #expect(QuizQuestion.parse("0.5.5") == nil)
  }

  static func lessonExplorer(_ text: String) throws -> Explorer {
    let file = try LessonParser.parse(Array(text.utf8)).get()
    var start = AppState(problem: try Problem(logits: [1, 2, 3]).validated())
    start.lesson = file.lesson
    var e = Explorer(state: start)
    e.perform(.tourNext)
    return e
  }

  @Test func aQuestionHidesItsQuantityJudgesAndThenShowsTheWorkedAnswer() throws {
    var e = try Self.lessonExplorer(
      "## Q\n```state\nlogits: [1, 2, 3]\ntarget: 0\n```\nWhat is it?\n> ask: gradient[0]\n")
    let t = HeadlessTerminal(
      width: 100, height: 30,
      script: HeadlessTerminal.typing("0.91\n") + [.wait(10)] + HeadlessTerminal.typing("-0.9100\n"))
    let open = HeadlessTerminal(width: 100, height: 30, script: [])
    var unanswered = e
    _ = unanswered.run(on: open, export: { _ in StatusMessage("") })
    // While open: the question and the givens, and no −0.9100 anywhere (the gradient table is not drawn).
    #expect(open.text.contains("Question: what is gradient[0]?"))
    #expect(open.text.contains("given s = [0.09003, 0.2447, 0.6652]"))
    #expect(!open.text.contains("0.9100"), "\(open.text)")
    _ = e.run(on: t, export: { _ in StatusMessage("") })
    #expect(e.state.question?.answered == true)
    #expect(e.state.question?.attempts == 1)
    #expect(e.state.quizResults == [0: false])
    #expect(t.text.contains("∂l/∂x_0 = (s_0 − y_0) = (0.09003 − 1.000) = −0.9100"), "\(t.text)")
    #expect(t.text.contains("Derivation step 5"))
    #expect(t.text.contains("✓ right: gradient[0] = −0.9100"))
    // Now the explorer's own screen is back, gradient and all.
    #expect(t.text.contains("−0.9100 "))
  }

  @Test func aWrongAnswerSaysSoAndARightOneAtTheFirstTryScores() throws {
    var e = try Self.lessonExplorer(
      "## A\n```state\nlogits: [0, 0]\n```\n> ask: softmax[1]\n\n## B\n> ask: loss\n")
    for c in "2\n" { e.handle(.key(c == "\n" ? .enter : .character(c))) }
    #expect(e.state.message?.text == "✗ 2 is not softmax[1]: try again (N skips)")
    for c in "0.5\n" { e.handle(.key(c == "\n" ? .enter : .character(c))) }
    e.handle(.key(.character("N")))
    // ln 2 = 0.6931…: right at the first try.
    for c in "0.6931\n" { e.handle(.key(c == "\n" ? .enter : .character(c))) }
    #expect(e.state.quizResults == [0: false, 1: true])
    e.handle(.key(.character("N")))
    #expect(e.state.message?.text == "lesson finished — score 1/2 right at the first try; q quits")
    // Letters that are not part of a number are the explorer's keys, not the answer's: q still quits.
    var f = try Self.lessonExplorer("## A\n> ask: loss\n")
    let goesOn = f.handle(.key(.character("q")))
    #expect(!goesOn)
  }

  @Test func theSameSeedGivesTheSameQuizAndEveryQuestionChecks() {
    let a = QuizGenerator.lesson(seed: 42, count: 10)
    #expect(a == QuizGenerator.lesson(seed: 42, count: 10))
    #expect(a != QuizGenerator.lesson(seed: 43, count: 10))
    #expect(a.steps.count == 10)
    #expect(
      a.steps.prefix(4).map(\.ask).map { q -> String in
        switch q {
        case .softmax?: "softmax"
        case .gradient?: "gradient"
        case .loss?: "loss"
        case .jacobian?: "jacobian"
        default: "?"
        }
      } == ["softmax", "gradient", "loss", "jacobian"])
    for step in a.steps {
      #expect((try? step.setup.state()) != nil)
      let ev = Evaluation(try! step.setup.problem.validated())
      #expect((try? step.ask!.value(ev: ev, selection: 0)) != nil)
    }
  }
}
