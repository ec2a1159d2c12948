import RealModule
import Testing

@testable import SoftmaxCore
import SoftmaxText

/// `Evaluation.update(to:)` against a fresh `Evaluation` of the same problem, bit for bit, over chains of random edits.
@Suite("Evaluation updated in place")
struct EvaluationUpdateTests {
  /// Every field of two evaluations, compared by bits (NaN equal to NaN); returns the first difference.
  static func difference(_ a: Evaluation, _ b: Evaluation) -> String? {
    func same(_ x: Double, _ y: Double) -> Bool { x.bitPattern == y.bitPattern || (x.isNaN && y.isNaN) }
    func same(_ x: [Double], _ y: [Double]) -> Bool { x.count == y.count && zip(x, y).allSatisfy { same($0, $1) } }
    let scalars: [(String, Double, Double)] = [
      ("naive.sum", a.naive.sum, b.naive.sum), ("stable.max", a.stable.max, b.stable.max),
      ("stable.sum", a.stable.sum, b.stable.sum), ("lse.max", a.logSumExp.max, b.logSumExp.max),
      ("lse.rest", a.logSumExp.rest, b.logSumExp.rest), ("lse.logSum", a.logSumExp.logSum, b.logSumExp.logSum),
      ("lse.value", a.logSumExp.value, b.logSumExp.value), ("loss", a.loss, b.loss),
      ("lossNaive", a.lossNaive, b.lossNaive),
      ("lossFromStableSoftmax", a.lossFromStableSoftmax, b.lossFromStableSoftmax),
      ("updatedLoss", a.updatedLoss, b.updatedLoss),
    ]
    for (name, x, y) in scalars where !same(x, y) { return "\(name): \(x) vs \(y)" }
    let arrays: [(String, [Double], [Double])] = [
      ("scaled", a.scaled, b.scaled), ("targetDistribution", a.targetDistribution, b.targetDistribution),
      ("naive.exps", a.naive.exps, b.naive.exps), ("naive.probabilities", a.naive.probabilities, b.naive.probabilities),
      ("stable.shifted", a.stable.shifted, b.stable.shifted), ("stable.exps", a.stable.exps, b.stable.exps),
      ("stable.probabilities", a.stable.probabilities, b.stable.probabilities),
      ("online.runningMax", a.online.runningMax, b.online.runningMax),
      ("online.runningSum", a.online.runningSum, b.online.runningSum),
      ("online.probabilities", a.online.probabilities, b.online.probabilities),
      ("logSoftmax", a.logSoftmax, b.logSoftmax), ("gradient", a.gradient, b.gradient),
      ("updatedLogits", a.updatedLogits, b.updatedLogits),
    ]
    for (name, x, y) in arrays where !same(x, y) {
      let i = x.indices.first { $0 < y.count && !same(x[$0], y[$0]) } ?? -1
      return "\(name)[\(i)] differs (counts \(x.count), \(y.count))"
    }
    if a.problem != b.problem { return "problem" }
    if a.stable.argmax != b.stable.argmax || a.logSumExp.argmax != b.logSumExp.argmax { return "argmax" }
    if a.lossNote != b.lossNote { return "lossNote: \(a.lossNote ?? "nil") vs \(b.lossNote ?? "nil")" }
    if a.stepRefusal != b.stepRefusal { return "stepRefusal: \(a.stepRefusal ?? "nil") vs \(b.stepRefusal ?? "nil")" }
    if a.overflow != b.overflow { return "overflow: \(a.overflow.diagnosis) vs \(b.overflow.diagnosis)" }
    return nil
  }

  /// A random valid problem: sizes, temperatures, smoothing, soft targets, masked classes, logits large enough to
  /// overflow the half precisions, learning rates large enough to have the step refused.
  static func randomProblem(_ rng: inout SeededRandom, classes c: Int, precision: Precision) -> Problem {
    let scale = [0.5, 3, 12, 80, 400][Int(rng.next() % 5)]
    var logits = (0..<c).map { _ in rng.nextNormal() * scale }
    if c > 1, rng.nextUnit() < 0.3 { logits[Int(rng.next() % UInt64(c))] = -.infinity }
    var p = Problem(logits: logits, target: Int(rng.next() % UInt64(c)), precision: precision)
    if rng.nextUnit() < 0.4 { p.temperature = 0.25 + rng.nextUnit() * 3 }
    let kind = rng.nextUnit()
    if kind < 0.2 {
      p.labelSmoothing = 0.1
    } else if kind < 0.3 {
      let w = (0..<c).map { _ in rng.nextUnit() }
      let total = w.reduce(0, +)
      p.softTarget = w.map { $0 / total }
      let drift = p.softTarget!.reduce(0, +) - 1
      p.softTarget![0] = max(0, p.softTarget![0] - drift)
    }
    p.upstream = rng.nextUnit() < 0.2 ? -2.5 : 1
    p.learningRate = rng.nextUnit() < 0.1 ? 1e30 : [0.1, 1, 7][Int(rng.next() % 3)]
    return p
  }

  /// One random edit of a problem, validated (or nil when the edit is refused in this precision).
  static func edit(_ p: Problem, _ rng: inout SeededRandom) -> Problem? {
    var q = p
    let c = p.classes
    switch rng.next() % 6 {
    case 0, 1: q.logits[Int(rng.next() % UInt64(c))] += rng.nextNormal() * 4
    case 2: for _ in 0..<3 { q.logits[Int(rng.next() % UInt64(c))] = rng.nextNormal() * 30 }
    case 3: if q.softTarget == nil { q.target = Int(rng.next() % UInt64(c)) }
    case 4:
      q.temperature = rng.nextUnit() < 0.5 ? 1 : 0.5 + rng.nextUnit()
      q.learningRate = rng.nextUnit() < 0.2 ? 1e30 : 0.3
    default: q.logits[Int(rng.next() % UInt64(c))] = rng.nextUnit() < 0.5 ? -.infinity : 0
    }
    return try? q.validated()
  }

  @Test(arguments: Precision.allCases)
  func chainsOfEditsMatchFreshEvaluations(precision: Precision) throws {
    var rng = SeededRandom(seed: 0x5EED_0000 + UInt64(precision.hashValue & 0xFF))
    var updates = 0
    for (c, chains) in [(1, 4), (2, 8), (3, 12), (7, 8), (64, 6), (257, 3), (4096, 1), (4097, 1)] {
      for _ in 0..<chains {
        guard var p = try? Self.randomProblem(&rng, classes: c, precision: precision).validated() else { continue }
        var ev = Evaluation(p)
        for _ in 0..<6 {
          guard let q = Self.edit(p, &rng) else { continue }
          p = q
          let inPlace = ev.update(to: p)
          #expect(inPlace)
          updates += 1
          if let d = Self.difference(ev, Evaluation(p)) {
            Issue.record("\(precision) C=\(c): \(d)")
            return
          }
        }
      }
    }
    #expect(updates >= 150, "too few valid edits: \(updates)")
  }

  @Test func refusesWhatItCannotUpdateInPlace() throws {
    let p = try Problem(logits: [1, 2, 3], target: 1).validated()
    var ev = Evaluation(p)
    var other = p
    other.precision = .float32
    let otherPrecision = ev.update(to: try other.validated())
    let otherSize = ev.update(to: try Problem(logits: [1, 2, 3, 4]).validated())
    #expect(!otherPrecision && !otherSize)
    #expect(Self.difference(ev, Evaluation(p)) == nil, "a refused update changed the evaluation")
  }

  /// From `parallelThreshold` classes the two halves of an update run side by side.
  @Test(arguments: [Precision.float64, .float16])
  func largeVectorsUpdatedSideBySide(precision: Precision) throws {
    var p = try Problem(
      logits: SeededRandom.logits(count: Evaluation.parallelThreshold + 3, seed: 9, scale: 4), target: 5,
      precision: precision
    ).validated()
    var ev = Evaluation(p)
    for (i, x) in [(5, 30.0), (0, -.infinity), (100, 2)] {
      p.logits[i] = x
      p = try p.validated()
      let inPlace = ev.update(to: p)
      #expect(inPlace)
      let d = Self.difference(ev, Evaluation(p))
      #expect(d == nil, "\(d ?? "")")
    }
  }

  /// The evaluation keeps its own logits: the problem it was given can be edited in place afterwards.
  @Test func keepsItsOwnLogits() throws {
    var p = try Problem(logits: [1, 2, 3], target: 1).validated()
    var ev = Evaluation(p)
    p.logits[0] = 4
    let inPlace = ev.update(to: p)
    #expect(inPlace)
    p.logits[0] = 5
    #expect(ev.problem.logits == [4, 2, 3])
  }
}
