import SoftmaxCore
import Testing

@testable import SoftmaxTUI

/// An updated comparison (lean columns updated in place) must show exactly what a fresh one shows.
@Suite struct PrecisionComparisonUpdateTests {
  func same(_ a: Double, _ b: Double) -> Bool { a.bitPattern == b.bitPattern || (a.isNaN && b.isNaN) }

  func expectSame(
    _ a: PrecisionComparison, _ b: PrecisionComparison, _ name: String,
    sourceLocation: SourceLocation = #_sourceLocation
  ) {
    #expect(a.problem == b.problem, "\(name)", sourceLocation: sourceLocation)
    #expect(a.rounding.map(\.changed) == b.rounding.map(\.changed), "\(name)", sourceLocation: sourceLocation)
    #expect(a.rounding.map(\.first) == b.rounding.map(\.first), "\(name)", sourceLocation: sourceLocation)
    let c = b.problem.classes
    for (x, y) in zip(a.columns, b.columns) {
      let label = "\(name) \(y.precision)"
      switch (x.result, y.result) {
      case (.failure(let e), .failure(let f)):
        #expect(e.message == f.message, "\(label)", sourceLocation: sourceLocation)
      case (.success(let u), .success(let v)):
        #expect(u.problem == v.problem, "\(label): problem", sourceLocation: sourceLocation)
        #expect(u.overflow == v.overflow, "\(label): overflow", sourceLocation: sourceLocation)
        for (s, t) in [
          (u.naiveSum, v.naiveSum), (u.stableMax, v.stableMax), (u.stableSum, v.stableSum), (u.loss, v.loss),
          (u.lossNaive, v.lossNaive), (u.lossFromStableSoftmax, v.lossFromStableSoftmax),
        ] {
          #expect(same(s, t), "\(label): \(s) vs \(t)", sourceLocation: sourceLocation)
        }
        for i in [0, 1, 127, 128, 2049, c / 2, c - 2, c - 1] {
          #expect(same(u.naiveProbability(i), v.naiveProbability(i)), "\(label) [\(i)]", sourceLocation: sourceLocation)
          #expect(
            same(u.stableProbability(i), v.stableProbability(i)), "\(label) [\(i)]", sourceLocation: sourceLocation)
          #expect(same(u.runningSum(i), v.runningSum(i)), "\(label) [\(i)]", sourceLocation: sourceLocation)
          #expect(
            same(u.onlineProbability(i), v.onlineProbability(i)), "\(label) [\(i)]", sourceLocation: sourceLocation)
        }
      default:
        Issue.record("\(label): one column failed, the other did not", sourceLocation: sourceLocation)
      }
    }
  }

  @Test func editsMatchAFreshComparison() throws {
    let c = Evaluation.parallelThreshold + 300
    var problem = try Problem(
      logits: SeededRandom.logits(count: c, seed: 4, scale: 3), target: 9, precision: .float32
    ).validated()
    var comparison = PrecisionComparison(problem)
    let edits: [(String, (inout Problem) -> Void)] = [
      ("one logit", { $0.logits[c / 2] += 0.5 }),
      ("back", { $0.logits[c / 2] -= 0.5 }),
      ("raise the max", { $0.logits[300] = 40 }),
      ("float16 cannot hold it", { $0.logits[5] = 70_000 }),
      ("float16 can again", { $0.logits[5] = 1 }),
      ("masked", { $0.logits[c - 1] = -.infinity }),
      ("several", { p in for i in stride(from: 0, to: c, by: 1000) { p.logits[i] -= 1 } }),
      ("temperature", { $0.temperature = 0.5 }),
      ("edit at τ = 0.5", { $0.logits[7] += 3 }),
      ("target", { $0.target = 3 }),
      ("smoothing", { $0.labelSmoothing = 0.1 }),
      ("edit with smoothing", { $0.logits[c - 5] = 2 }),
    ]
    for (label, edit) in edits {
      edit(&problem)
      problem = try problem.validated()
      comparison.update(to: problem)
      expectSame(comparison, PrecisionComparison(problem), label)
    }
  }

  @Test func roundingCountsFollowTheEdits() throws {
    // float16 rounds 0.1 and 1.0001 but not 0.5 or 1; compare with counting afresh for a few edit patterns.
    let before: [Double] = [0.5, 0.1, 1, 1.0001, 0.5, 0.1]
    let cases: [[Int: Double]] = [[1: 0.5], [1: 0.5, 5: 0.5], [0: 0.1], [2: 0.1, 3: 1], [1: 0.5, 3: 1, 5: 1], [:]]
    for edit in cases {
      var after = before
      for (i, x) in edit { after[i] = x }
      let rounded = after.map(Precision.float16.round)
      let old = before.indices.filter { Precision.float16.round(before[$0]) != before[$0] }
      let fresh = after.indices.filter { rounded[$0] != after[$0] }
      let count = PrecisionComparison.updatedCount(
        (old.count, old.first), given: after, rounded: rounded, before: before, at: edit.keys.sorted(),
        precision: .float16)
      #expect(count.changed == fresh.count && count.first == fresh.first, "\(edit)")
    }
  }

  @Test func anEditThatMasksOrOverflowsIsValidatedWhole() throws {
    let p = Problem(logits: [1, 2, 3, 4], target: 1)
    // An edit that masks a class or does not fit the precision goes through the full validation.
    let half = try Problem(logits: [1, 2, 3, 4], target: 1, precision: .float16).validated()
    var q = p
    q.logits[0] = -.infinity
    #expect(PrecisionComparison.revalidated(half, from: q, at: [0]) == nil)
    q.logits[0] = 70_000
    #expect(PrecisionComparison.revalidated(half, from: q, at: [0]) == nil)
    q.logits[0] = 1.0001
    var expected = q
    expected.precision = .float16
    #expect(PrecisionComparison.revalidated(half, from: q, at: [0]) == (try expected.validated()))
  }
}
