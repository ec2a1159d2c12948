import SoftmaxCore
import Testing

@testable import SoftmaxBench

@Suite("gradcheck: the batch kernel's gradient against the exact gradient")
struct BatchGradientCheckTests {
  static let isas = KernelISA.allCases.filter(\.isSupported)

  @Test(arguments: Precision.allCases)
  func theKernelPassesInEveryPrecision(precision: Precision) {
    for isa in BatchGradientCheckTests.isas {
      for (batch, classes, seed) in [(128, 256, 0), (16, 1, 1), (9, 2, 2), (33, 7, 3), (4, 1000, 4), (64, 64, 5)] {
        let check = BatchGradientCheck(
          batch: batch, classes: classes, seed: UInt64(seed), precision: precision, isa: isa)
        let outcome = check.run()
        #expect(outcome.passed, "\(precision) \(isa) \(batch)×\(classes): \(String(describing: outcome.firstFailure))")
        #expect(outcome.checked == batch * classes)
      }
    }
  }

  /// A gradient off by 1% in one element fails in every precision, bfloat16 included, wherever the element is (the
  /// target entry and others), and whichever way it is off.
  @Test(arguments: Precision.allCases)
  func aGradientOffByOnePercentFails(precision: Precision) {
    var rng = SeededRandom(seed: 12)
    for trial in 0..<24 {
      let (batch, classes) = (8, 16)
      let row = Int(rng.next() % UInt64(batch))
      var check = BatchGradientCheck(batch: batch, classes: classes, seed: UInt64(trial), precision: precision)
      // Every other trial hits the row's target entry (the one that would cancel as s_T − 1).
      let column = trial % 2 == 0 ? check.row(row, Double.self).target : Int(rng.next() % UInt64(classes))
      check.corruption = .init(row: row, column: column, relative: trial % 3 == 0 ? -0.01 : 0.01)
      let outcome = check.run()
      #expect(outcome.failures == 1, "\(precision) trial \(trial): \(outcome.failures) failures")
      #expect(outcome.firstFailure?.row == row && outcome.firstFailure?.column == column)
    }
  }

  @Test func aSampleChecksExactlyKElementsInSeededWholeRows() {
    let check = BatchGradientCheck(batch: 1000, classes: 50, seed: 3, sample: 175)
    let plan = check.sampledElements()!
    #expect(plan.map(\.columns.count).reduce(0, +) == 175)
    #expect(plan.filter { $0.columns.count == 50 }.count == 3)
    #expect(Set(plan.map(\.row)).count == plan.count)
    #expect(plan.map(\.row) == plan.map(\.row).sorted())
    // Seeded: the same sample again, and another with another seed.
    #expect(check.sampledElements()!.map(\.row) == plan.map(\.row))
    var other = check
    other.seed = 4
    #expect(other.sampledElements()!.map(\.row) != plan.map(\.row))
    #expect(check.run().checked == 175)
    // A sample of most of the batch draws the rows left out instead.
    let most = BatchGradientCheck(batch: 10, classes: 3, sample: 28)
    #expect(most.sampledElements()!.map(\.columns.count).reduce(0, +) == 28)
    // A sample at least the batch's size checks everything.
    #expect(BatchGradientCheck(batch: 10, classes: 3, sample: 30).checksEveryElement)
  }

  @Test func theDefaultChecksEverythingUpToTheLimitAndSamplesAbove() {
    let limit = BatchGradientCheck.fullCheckLimit
    #expect(BatchGradientCheck(batch: limit / 256, classes: 256).checksEveryElement)
    let above = BatchGradientCheck(batch: limit / 256 + 1, classes: 256)
    #expect(!above.checksEveryElement)
    #expect(above.checkedCount == BatchGradientCheck.defaultSample)
    // No batch is too big: a batch whose size overflows Int is sampled like any other.
    let huge = BatchGradientCheck(batch: Int.max, classes: 300, sample: 600)
    #expect(huge.elements == nil)
    let outcome = huge.run()
    #expect(outcome.passed && outcome.checked == 600)
  }

  /// Row `r` is the same whatever the batch size, so a sample computes its rows alone.
  @Test func rowsDoNotDependOnTheBatch() {
    let small = BatchGradientCheck(batch: 10, classes: 8, seed: 9)
    let large = BatchGradientCheck(batch: 1 << 40, classes: 8, seed: 9)
    for r in 0..<10 {
      let a = small.row(r, Float.self)
      let b = large.row(r, Float.self)
      #expect(a.x == b.x && a.target == b.target && a.upstream == b.upstream)
    }
    #expect(small.row(0, Double.self).x != small.row(1, Double.self).x)
  }
}
