import SoftmaxCore
import SoftmaxText
import Testing

@testable import SoftmaxTUI

/// Above 4,096 classes the Stability lab runs on four lean columns and computes the full evaluation only when it is
/// needed; what the user sees must not depend on that.
@Suite("Large vectors")
struct LargeVectorTests {
  func large(_ c: Int = Evaluation.wideLimit + 904) throws -> Explorer {
    try explorer(SeededRandom.logits(count: c, seed: 3, scale: 4), target: 17)
  }

  @Test func stabilityEditsUseLeanColumnsForEveryPrecision() throws {
    var e = try large()
    type("3", into: &e)
    type("+", into: &e)
    let comparison = try #require(e.comparison)
    #expect(comparison.problem == e.state.problem)
    for column in comparison.columns {
      #expect(try column.result.get().isLean, "\(column.precision)")
    }
    // The own column's numbers are the full evaluation's.
    let own = try #require(comparison.own)
    let full = Evaluation(e.state.problem)
    #expect(own.loss == full.loss && own.stableSum == full.stable.sum && own.overflow == full.overflow)
    for i in [0, 17, 4000, e.state.problem.classes - 1] {
      #expect(own.stableProbability(i) == full.stable.probabilities[i])
      #expect(own.runningSum(i) == full.onlineRecurrence.runningSum[i])
      #expect(own.naiveProbability(i) == full.naive.probabilities[i])
    }
    // The lab keeps no full evaluation; leaving it computes one.
    #expect(e.current == nil)
    type("1", into: &e)
    #expect(e.current?.loss == full.loss)
  }

  @Test func screensAfterTheLabShowTheSameNumbersAsWithoutIt() throws {
    var viaLab = try large()
    type("3+", into: &viaLab)
    type("1", into: &viaLab)
    var direct = try large()
    type("+", into: &direct)
    #expect(viaLab.state.problem == direct.state.problem)
    #expect(screen(viaLab).text == screen(direct).text)
    type("4", into: &viaLab)
    type("4", into: &direct)
    #expect(screen(viaLab).text == screen(direct).text)
  }

  @Test func stepAndUndoFromTheLab() throws {
    var e = try large()
    let before = e.state.problem
    type("3s", into: &e)
    #expect(e.state.problem != before)
    #expect(e.state.problem.logits == Evaluation(before).updatedLogits)
    #expect(e.state.message?.text.description.contains("stepped: loss") == true)
    #expect(screen(e).text.description.contains("Stability lab"))
    type("u", into: &e)
    #expect(e.state.problem == before)
  }

  @Test func theSumDiagnosisIsShownWholeWhenTheTableScrolls() throws {
    // 5,000 logits near 0: float16's left-to-right sum stalls far below the exact one. At 120×40 the table is a
    // scrolling window, so the diagnosis gets its wrapped lines instead of one line cut with "…".
    var e = try explorer(SeededRandom.logits(count: 5000, seed: 8, scale: 1), target: 0)
    type("3", into: &e)
    let column = try #require(e.comparison?.columns.first { $0.precision == .float16 })
    let f16 = try column.result.get()
    #expect(f16.overflow.label == "sum error")
    let text = screen(e, 120, 40).text
    #expect(text.contains("too small: each"))
    #expect(text.contains("every naive s_i inherits the error"))
  }

  @Test func labRendersTheBarsFromItsOwnColumn() throws {
    var e = try large()
    type("3+", into: &e)
    #expect(e.current == nil)
    let text = screen(e).text
    let label = Evaluation(e.state.problem).overflow.label
    #expect(text.contains("C=\(e.state.problem.classes)"))
    #expect(text.contains("naive: " + (label == "ok" ? "ok" : "⚠ " + label)))
    #expect(text.contains("Stability lab: naive"))
  }
}
