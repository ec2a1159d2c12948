import SoftmaxText
import Testing

@testable import SoftmaxCore
@testable import SoftmaxTUI

/// Randomized differential tests of the incremental lean-column update (`PrecisionColumn.update(to:)`) and of
/// `PrecisionComparison.update(to:)`: after every edit of a random chain, the updated column must be bit for bit a
/// fresh column of the same validated problem (and, sometimes, the full `Evaluation`).
/// The project's generator, seeded the way these tests want, with the draws they use.
typealias DiffRNG = SeededRandom

extension SeededRandom {
  init(_ seed: UInt64) { self.init(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ 1) }
  mutating func int(_ r: ClosedRange<Int>) -> Int { Int.random(in: r, using: &self) }
  mutating func unit() -> Double { nextUnit() }
  mutating func normal() -> Double { nextNormal() }
  mutating func chance(_ p: Double) -> Bool { nextUnit() < p }
}

#if canImport(Glibc)
  import Glibc
#endif

/// `DIFF_SCALE=n` runs n times as many random chains (default 1).
let diffScale = getenv("DIFF_SCALE").flatMap { Int(String(cString: $0)) } ?? 1

enum Diff {
  static func same(_ a: Double, _ b: Double) -> Bool { a.bitPattern == b.bitPattern || (a.isNaN && b.isNaN) }

  /// Differences between two columns (scalars, overflow report, per-class values at `indices`, running values at
  /// `runningIndices`).
  static func compare(
    _ a: PrecisionColumn, _ b: PrecisionColumn, indices: [Int], runningIndices: [Int]
  ) -> [String] {
    var out: [String] = []
    if a.problem != b.problem { out.append("problem differs") }
    if a.overflow != b.overflow {
      out.append(
        "overflow: updated \(a.overflow.label) o\(a.overflow.overflowing.prefix(4)) u\(a.overflow.underflowing.prefix(4)) s\(a.overflow.subnormal.prefix(4)) '\(a.overflow.diagnosis)' vs fresh \(b.overflow.label) o\(b.overflow.overflowing.prefix(4)) u\(b.overflow.underflowing.prefix(4)) s\(b.overflow.subnormal.prefix(4)) '\(b.overflow.diagnosis)'"
      )
    }
    let scalars: [(String, Double, Double)] = [
      ("naive σ", a.naiveSum, b.naiveSum), ("M", a.stableMax, b.stableMax), ("stable σ", a.stableSum, b.stableSum),
      ("loss", a.loss, b.loss), ("naive loss", a.lossNaive, b.lossNaive),
      ("stable-softmax loss", a.lossFromStableSoftmax, b.lossFromStableSoftmax),
    ]
    for (l, x, y) in scalars where !same(x, y) { out.append("\(l): updated \(x) fresh \(y)") }
    for i in indices {
      let pairs: [(String, Double, Double)] = [
        ("z", a.scaled(i), b.scaled(i)), ("naive e", a.naiveExp(i), b.naiveExp(i)),
        ("naive s", a.naiveProbability(i), b.naiveProbability(i)), ("shifted", a.shifted(i), b.shifted(i)),
        ("stable e", a.stableExp(i), b.stableExp(i)), ("stable s", a.stableProbability(i), b.stableProbability(i)),
        ("online s", a.onlineProbability(i), b.onlineProbability(i)),
      ]
      for (l, x, y) in pairs where !same(x, y) { out.append("\(l)[\(i)]: updated \(x) fresh \(y)") }
    }
    for i in runningIndices {
      let (x, y) = (a.running(i), b.running(i))
      if !same(x.max, y.max) || !same(x.sum, y.sum) { out.append("running[\(i)]: updated \(x) fresh \(y)") }
    }
    return out
  }

  /// A lean column against the full evaluation of the same problem.
  static func compare(_ a: PrecisionColumn, _ e: Evaluation, indices: [Int]) -> [String] {
    var out: [String] = []
    if a.overflow != e.overflow { out.append("overflow vs Evaluation") }
    let scalars: [(String, Double, Double)] = [
      ("naive σ", a.naiveSum, e.naive.sum), ("M", a.stableMax, e.stable.max), ("stable σ", a.stableSum, e.stable.sum),
      ("loss", a.loss, e.loss), ("naive loss", a.lossNaive, e.lossNaive),
      ("stable-softmax loss", a.lossFromStableSoftmax, e.lossFromStableSoftmax),
    ]
    for (l, x, y) in scalars where !same(x, y) { out.append("\(l): column \(x) evaluation \(y)") }
    for i in indices {
      let pairs: [(String, Double, Double)] = [
        ("z", a.scaled(i), e.scaled[i]), ("naive e", a.naiveExp(i), e.naive.exps[i]),
        ("naive s", a.naiveProbability(i), e.naive.probabilities[i]), ("shifted", a.shifted(i), e.stable.shifted[i]),
        ("stable e", a.stableExp(i), e.stable.exps[i]), ("stable s", a.stableProbability(i), e.stable.probabilities[i]),
        ("m", a.runningMax(i), e.online.runningMax[i]), ("d", a.runningSum(i), e.online.runningSum[i]),
        ("online s", a.onlineProbability(i), e.online.probabilities[i]),
      ]
      for (l, x, y) in pairs where !same(x, y) { out.append("\(l)[\(i)]: column \(x) evaluation \(y)") }
    }
    return out
  }

  /// Indices worth checking after editing `edited`: every edited index and its neighbours, the ends, checkpoint
  /// edges, argmaxes, and random ones.
  static func indices(c: Int, edited: [Int], rng: inout DiffRNG, extra: [Int] = []) -> (all: [Int], running: [Int]) {
    let stride = PrecisionColumn.checkpointStride
    var s = Set<Int>([0, 1, 2, c - 2, c - 1, c / 2] + extra)
    for i in edited { for d in -2...2 { s.insert(i + d) } }
    var r = s
    for b in Swift.stride(from: 0, to: c, by: stride) { for d in [-1, 0, 1] { r.insert(b + d) } }
    for i in edited {
      let b = i / stride * stride
      for j in [b - 1, b, b + 1, b + stride - 1, b + stride, b + 2 * stride - 1] { r.insert(j) }
    }
    for _ in 0..<40 {
      s.insert(rng.int(0...(c - 1)))
      r.insert(rng.int(0...(c - 1)))
    }
    let ok = { (i: Int) in i >= 0 && i < c }
    return (s.filter(ok).sorted(), r.filter(ok).sorted())
  }
}

/// Random edits of a logit vector, aimed at the update's branches.
struct Editor {
  var precision: Precision

  func huge(_ rng: inout DiffRNG) -> Double {
    switch precision {
    case .float16: return [11.5, 12, 60_000, 65_504, 65_519, 70_000, -70_000][rng.int(0...6)]
    case .bfloat16, .float32: return [89, 90, 1e30, 3e38, 1e39, -1e39][rng.int(0...5)]
    case .float64: return [710, 800, 1e300][rng.int(0...2)]
    }
  }

  func tiny(_ rng: inout DiffRNG) -> Double {
    switch precision {
    case .float16: return [-9, -10, -16, -17, -18, -30][rng.int(0...5)]
    case .bfloat16, .float32: return [-88, -90, -100, -103, -110][rng.int(0...4)]
    case .float64: return [-708, -740, -746, -800][rng.int(0...3)]
    }
  }

  /// Applies one random edit to `x` and returns the edited indices.
  func edit(_ x: inout [Double], _ rng: inout DiffRNG) -> [Int] {
    let c = x.count
    let stride = PrecisionColumn.checkpointStride
    func argmax() -> Int {
      var k = 0
      for i in 0..<c where x[i] > x[k] { k = i }
      return k
    }
    func maxValue() -> Double { x.max() ?? 0 }
    func pick() -> Int {
      switch rng.int(0...9) {
      case 0: return 0
      case 1: return c - 1
      case 2: return min(c - 1, rng.int(0...(c / stride)) * stride)
      case 3: return max(0, min(c - 1, rng.int(1...(c / stride + 1)) * stride - 1))
      case 4: return argmax()
      case 5: return min(c - 1, (c - 1) / stride * stride + rng.int(0...((c - 1) % stride)))  // last block
      default: return rng.int(0...(c - 1))
      }
    }
    func value(_ i: Int) -> Double {
      let m = maxValue()
      switch rng.int(0...17) {
      case 0: return m  // tie with the max (first index wins)
      case 1: return m + [0.001, 0.5, 2, 1e-9][rng.int(0...3)]
      case 2: return m - [0.001, 0.5, 2][rng.int(0...2)]
      case 3: return -.infinity
      case 4: return huge(&rng)
      case 5: return tiny(&rng)
      case 6: return x[i].isFinite ? x[i] + rng.normal() * 0.01 : rng.normal()
      case 7: return [0.1, 0.5, 1, 1.0001, 0.3, 2.0009765625][rng.int(0...5)]  // rounds in some precisions, not others
      case 8: return x[i]  // no change
      case 9: return x[i].isFinite ? -x[i] : 0
      case 10: return 0
      case 11: return -0.0
      default: return rng.normal() * [1.0, 3, 10][rng.int(0...2)]
      }
    }
    var edited: [Int] = []
    let mode = rng.int(0...15)
    if mode == 0 {
      // Many logits (> 64: the comparison's fallback).
      let n = rng.int(60...200)
      for _ in 0..<n {
        let i = rng.int(0...(c - 1))
        x[i] = rng.normal() * 3
        edited.append(i)
      }
    } else if mode == 1 {
      // The argmax lowered: the max moves earlier or later.
      let k = argmax()
      x[k] = rng.chance(0.5) ? x[k] - 3 : -.infinity
      edited.append(k)
    } else if mode == 2 {
      // A tie created before or after the current argmax.
      let k = argmax()
      let i = rng.chance(0.5) ? rng.int(0...k) : rng.int(k...(c - 1))
      x[i] = x[k]
      edited.append(i)
    } else if mode == 3 {
      // Two edits around a checkpoint.
      let b = min(c - 1, max(1, rng.int(1...(c / stride)) * stride))
      x[b - 1] = value(b - 1)
      x[b] = value(b)
      edited += [b - 1, b]
    } else {
      let n = rng.chance(0.7) ? 1 : rng.int(2...6)
      for _ in 0..<n {
        let i = pick()
        x[i] = value(i)
        edited.append(i)
      }
    }
    return edited
  }
}

@Suite struct LeanColumnUpdateDifferentialTests {
  static func base(c: Int, variant: Int, precision: Precision, rng: inout DiffRNG) -> Problem {
    var logits: [Double]
    switch variant % 4 {
    case 0: logits = (0..<c).map { _ in rng.normal() * 3 }
    case 1: logits = (0..<c).map { _ in Double(rng.int(-4...4)) }  // many ties
    case 2: logits = (0..<c).map { _ in rng.normal() * (precision == .float16 ? 4 : 40) }
    default:
      logits = (0..<c).map { _ in rng.chance(0.1) ? -.infinity : rng.normal() }
      logits[rng.int(0...(c - 1))] = 1
    }
    var p = Problem(logits: logits, target: rng.int(0...(c - 1)), precision: precision)
    switch variant % 5 {
    case 1: p.temperature = 0.7
    case 2: p.labelSmoothing = 0.1
    case 3:
      var q = [Double](repeating: 0, count: c)
      let picks = [0, c - 1, 127, 128, c / 2, rng.int(0...(c - 1))]
      for i in picks { q[min(i, c - 1)] += 1 }
      let s = q.reduce(0, +)
      p.softTarget = q.map { $0 / s }
    case 4:
      p.temperature = 2.5
      p.labelSmoothing = 0.05
    default: break
    }
    return p
  }

  @Test(arguments: Precision.allCases)
  func randomEditChainsMatchAFreshColumn(precision: Precision) throws {
    var failures: [String] = []
    var cases = 0
    var updates = 0
    for c in [4097, 4100, 4224, 5000] {
      for variant in 0..<(5 * diffScale) {
        var rng = DiffRNG(UInt64(c * 131 + variant * 7 + Precision.allCases.firstIndex(of: precision)! * 100_003))
        let base = Self.base(c: c, variant: variant, precision: precision, rng: &rng)
        guard var problem = try? base.validated() else { continue }
        var given = base
        var column = PrecisionColumn(problem)
        #expect(column.isLean)
        let editor = Editor(precision: precision)
        for step in 0..<25 {
          let edited = editor.edit(&given.logits, &rng)
          guard let validated = try? given.validated() else {
            // Refused (e.g. float16 cannot hold it): the column stays; go on from the last valid logits.
            given.logits = problem.logits
            continue
          }
          let address = column.stableTermsAddress
          column.update(to: validated)
          problem = validated
          cases += 1
          if column.isUpdate {
            updates += 1
          } else {
            failures.append("\(precision) C=\(c) v\(variant) s\(step): not an update")
          }
          if column.stableTermsAddress != address {
            failures.append("\(precision) C=\(c) v\(variant) s\(step): storage not reused")
          }
          let fresh = PrecisionColumn(validated)
          let (idx, run) = Diff.indices(c: c, edited: edited, rng: &rng)
          var diffs = Diff.compare(column, fresh, indices: idx, runningIndices: run)
          if step % 8 == 7 {
            diffs += Diff.compare(fresh, Evaluation(validated), indices: idx).map { "fresh vs Evaluation: " + $0 }
          }
          if !diffs.isEmpty {
            failures.append(
              "\(precision) C=\(c) variant \(variant) step \(step) edited \(edited.prefix(8)): \(diffs.prefix(4))")
          }
        }
      }
    }
    print(
      "lean update chains \(precision): \(cases) updates compared (\(updates) in place), \(failures.count) failures")
    #expect(failures.isEmpty, "\(failures.count) failures: \(failures.prefix(6))")
  }

  /// Every index compared, with `running(i)` at every index, for a few targeted edits.
  @Test(arguments: Precision.allCases)
  func exhaustiveIndicesAfterTargetedEdits(precision: Precision) throws {
    var failures: [String] = []
    var cases = 0
    for c in [4097, 4224, 4351] {
      var rng = DiffRNG(UInt64(c) &+ 17)
      for variant in 0..<5 {
        let base = LeanColumnUpdateDifferentialTests.base(c: c, variant: variant, precision: precision, rng: &rng)
        guard var problem = try? base.validated() else { continue }
        var column = PrecisionColumn(problem)
        let m = problem.logits.max()!
        let k = problem.logits.firstIndex(of: m)!
        let edits: [(String, (inout [Double]) -> Void)] = [
          ("tie at 0", { $0[0] = m }),
          ("untie 0", { $0[0] = m - 1 }),
          ("tie after argmax", { $0[c - 1] = m }),
          ("new max at 129", { $0[129] = m + 1 }),
          ("max at 129 lowered", { $0[129] = -5 }),
          ("masked argmax", { $0[k] = -.infinity }),
          ("unmask", { $0[k] = m }),
          ("new max in last block", { $0[c - 1] = m + 3 }),
          ("argmax back before", { $0[c - 1] = -1 }),
          (
            "edit 127 and 128",
            { x in
              x[127] = m + 0.5
              x[128] = m + 0.25
            }
          ),
          ("mask everything in block 1 but one", { x in for i in 128..<256 where i != 200 { x[i] = -.infinity } }),
          ("unmask block 1", { x in for i in 128..<256 { x[i] = 0.25 } }),
          ("mask index 0", { $0[0] = -.infinity }),
          ("max at 0", { $0[0] = m + 2 }),
        ]
        for (label, edit) in edits {
          var given = problem
          edit(&given.logits)
          guard let validated = try? given.validated() else { continue }
          column.update(to: validated)
          problem = validated
          cases += 1
          let fresh = PrecisionColumn(validated)
          let all = Array(0..<c)
          var diffs = Diff.compare(column, fresh, indices: all, runningIndices: all)
          diffs += Diff.compare(fresh, Evaluation(validated), indices: Array(stride(from: 0, to: c, by: 7)))
            .map { "fresh vs Evaluation: " + $0 }
          if !diffs.isEmpty { failures.append("\(precision) C=\(c) v\(variant) \(label): \(diffs.prefix(4))") }
        }
      }
    }
    print("exhaustive \(precision): \(cases) cases, \(failures.count) failures")
    #expect(failures.isEmpty, "\(failures.count) failures: \(failures.prefix(6))")
  }
}

@Suite struct PrecisionComparisonUpdateDifferentialTests {
  static func compare(_ a: PrecisionComparison, _ b: PrecisionComparison, edited: [Int], rng: inout DiffRNG)
    -> [String]
  {
    var out: [String] = []
    if a.problem != b.problem { out.append("problem") }
    if a.rounding.map(\.changed) != b.rounding.map(\.changed) || a.rounding.map(\.first) != b.rounding.map(\.first) {
      out.append("rounding: updated \(a.rounding) fresh \(b.rounding)")
    }
    let c = b.problem.classes
    let (idx, run) = Diff.indices(c: c, edited: edited, rng: &rng)
    for (x, y) in zip(a.columns, b.columns) {
      switch (x.result, y.result) {
      case (.failure(let e), .failure(let f)):
        if e.message != f.message { out.append("\(y.precision): '\(e.message)' vs '\(f.message)'") }
      case (.success(let u), .success(let v)):
        out += Diff.compare(u, v, indices: idx, runningIndices: run).map { "\(y.precision): " + $0 }
      default:
        out.append("\(y.precision): one failed, one did not")
      }
    }
    return out
  }

  @Test func randomEditChainsMatchAFreshComparison() throws {
    var failures: [String] = []
    var cases = 0
    for c in [4097, 4100, 4224, 5000, Evaluation.parallelThreshold + 130] {
      for seed in 0..<(3 * diffScale) {
        var rng = DiffRNG(UInt64(c * 7 + seed))
        let own = Precision.allCases[seed % 4]
        var problem = LeanColumnUpdateDifferentialTests.base(c: c, variant: seed, precision: own, rng: &rng)
        // Given values that round differently in the narrow formats.
        for i in 0..<c where problem.logits[i].isFinite && rng.chance(0.5) { problem.logits[i] += 1e-5 * rng.normal() }
        var comparison = PrecisionComparison(problem)
        let editor = Editor(precision: .float16)
        let steps = c > 8192 ? 10 : 22
        for step in 0..<steps {
          var edited: [Int] = []
          switch rng.int(0...19) {
          case 0: problem.precision = Precision.allCases[rng.int(0...3)]
          case 1: problem.temperature = [1, 0.7, 2.5][rng.int(0...2)]
          case 2: problem.labelSmoothing = problem.softTarget == nil ? [0, 0.1][rng.int(0...1)] : 0
          default: edited = editor.edit(&problem.logits, &rng)
          }
          comparison.update(to: problem)
          cases += 1
          let diffs = Self.compare(comparison, PrecisionComparison(problem), edited: edited, rng: &rng)
          if !diffs.isEmpty {
            failures.append("C=\(c) seed \(seed) step \(step) edited \(edited.prefix(8)): \(diffs.prefix(4))")
          }
        }
      }
    }
    print("comparison chains: \(cases) updates compared, \(failures.count) failures")
    #expect(failures.isEmpty, "\(failures.count) failures: \(failures.prefix(6))")
  }

  /// Above `wideLimit`, an edit of one logit, or of the target and knobs (temperature included), updates each lean
  /// column in its own storage
  /// (two per thread): every column, the rounding counts and the reference losses must be a fresh comparison's.
  @Test func leanColumnsUpdatedInPlaceMatchFreshOnes() throws {
    var failures: [String] = []
    var (inPlace, refused) = (0, 0)
    for c in [Evaluation.wideLimit + 1, 4224, Evaluation.parallelThreshold + 130] {
      for seed in 0..<(2 * diffScale) {
        var rng = DiffRNG(UInt64(c * 17 + seed))
        let own = Precision.allCases[(seed + c) % 4]
        var given = LeanColumnUpdateDifferentialTests.base(c: c, variant: seed, precision: own, rng: &rng)
        for i in 0..<c where given.logits[i].isFinite && rng.chance(0.5) { given.logits[i] += 1e-5 * rng.normal() }
        guard var problem = try? given.validated() else { continue }
        var comparison = PrecisionComparison(problem)
        if seed % 2 == 0 { comparison.computeExactLosses() }
        let editor = Editor(precision: .float16)
        for step in 0..<10 {
          var next = problem
          var edited: [Int] = []
          switch rng.int(0...6) {
          case 0: if next.softTarget == nil { next.target = rng.int(0...(c - 1)) }
          case 1: next.labelSmoothing = next.softTarget == nil ? [0, 0.1, 0.3][rng.int(0...2)] : 0
          case 2: next.learningRate = [0.1, 3][rng.int(0...1)]
          case 3: next.temperature = [1, 0.7, 2.5][rng.int(0...2)]
          default:
            var logits = problem.logits
            guard let i = editor.edit(&logits, &rng).first else { continue }
            next.logits[i] = logits[i]
            edited = [i]
          }
          guard let validated = try? next.validated(), validated != problem else { continue }
          problem = validated
          // The message the explorer would send: what the step changed.
          let change: ProblemChange = edited.first.map { .logit($0) } ?? .settings
          if let small = PrecisionComparison.SmallChange(change), comparison.updateLeanInPlace(small, to: problem) {
            inPlace += 1
          } else {
            refused += 1
            comparison.update(to: problem, change: change)
            if seed % 2 == 0 { comparison.computeExactLosses() }
          }
          var fresh = PrecisionComparison(problem)
          if seed % 2 == 0 { fresh.computeExactLosses() }
          var diffs = Self.compare(comparison, fresh, edited: edited, rng: &rng)
          if comparison.exactLosses?.map({ $0?.bitPattern }) != fresh.exactLosses?.map({ $0?.bitPattern }) {
            diffs.append("exact losses")
          }
          if !diffs.isEmpty { failures.append("C=\(c) seed \(seed) step \(step) \(edited): \(diffs.prefix(4))") }
        }
      }
    }
    #expect(failures.isEmpty, "\(failures.count) failures: \(failures.prefix(6))")
    #expect(inPlace >= 30, "\(inPlace) updated in place, \(refused) refused")
  }

  /// Up to `wideLimit` classes the lab's columns are full evaluations, updated in their own arrays after an edit of one
  /// logit or of the knobs (with the explorer's evaluation, the own column): every column, the rounding counts and the
  /// reference losses must be a fresh comparison's, and the explorer's evaluation its own column's.
  @Test func smallComparisonsUpdatedInPlaceMatchFreshOnes() throws {
    var failures: [String] = []
    var (inPlace, rebuilt) = (0, 0)
    for c in [1, 2, 3, 64, 300, Evaluation.wideLimit] {
      for seed in 0..<(c > 1000 ? 4 : 8) {
        var rng = DiffRNG(UInt64(c * 31 + seed))
        let own = Precision.allCases[seed % 4]
        var given = LeanColumnUpdateDifferentialTests.base(c: c, variant: seed, precision: own, rng: &rng)
        for i in 0..<c where given.logits[i].isFinite && rng.chance(0.5) { given.logits[i] += 1e-5 * rng.normal() }
        guard var problem = try? given.validated() else { continue }
        var (first, comparison) = PrecisionComparison.evaluate(problem)
        var current: Evaluation? = first
        comparison.computeExactLosses()
        for step in 0..<(c > 1000 ? 4 : 10) {
          var next = problem
          var edited: [Int] = []
          var several = false
          switch rng.int(0...9) {
          case 0: next.temperature = [1, 0.7, 2.5][rng.int(0...2)]
          case 1: next.learningRate = [0.1, 3, 1e30][rng.int(0...2)]
          case 2: next.labelSmoothing = next.softTarget == nil ? [0, 0.1][rng.int(0...1)] : 0
          case 3: if next.softTarget == nil { next.target = rng.int(0...(c - 1)) }
          case 4:
            // Two logits: rebuilt, not updated.
            for _ in 0..<2 { next.logits[rng.int(0...(c - 1))] = rng.normal() * 5 }
            several = true
          default:
            let i = rng.int(0...(c - 1))
            next.logits[i] = [-Double.infinity, 0, rng.normal() * 3 + 1e-5 * rng.normal(), 1e5, 70000][rng.int(0...4)]
            edited = [i]
          }
          guard let validated = try? next.validated(), validated != problem else { continue }
          problem = validated
          let change: ProblemChange = several ? .logits : edited.first.map { .logit($0) } ?? .settings
          if let small = PrecisionComparison.SmallChange(change),
            comparison.updateInPlace(small, to: problem, own: &current)
          {
            inPlace += 1
          } else {
            rebuilt += 1
            let (e, fresh) = PrecisionComparison.evaluate(problem)
            (current, comparison) = (e, fresh)
            comparison.computeExactLosses()
          }
          var (freshEvaluation, fresh) = PrecisionComparison.evaluate(problem)
          fresh.computeExactLosses()
          var diffs = Self.compare(comparison, fresh, edited: edited, rng: &rng)
          if comparison.exactLosses?.map({ $0?.bitPattern }) != fresh.exactLosses?.map({ $0?.bitPattern }) {
            diffs.append(
              "exact losses \(String(describing: comparison.exactLosses)) vs \(String(describing: fresh.exactLosses))")
          }
          if let current {
            diffs += Diff.compare(
              PrecisionColumn(current), PrecisionColumn(freshEvaluation), indices: Array(0..<c),
              runningIndices: Array(0..<c)
            )
            .map { "own evaluation: " + $0 }
            for (name, x, y) in [
              ("gradient", current.gradient, freshEvaluation.gradient),
              ("updatedLogits", current.updatedLogits, freshEvaluation.updatedLogits),
              ("logSoftmax", current.logSoftmax, freshEvaluation.logSoftmax),
            ] where !zip(x, y).allSatisfy({ Diff.same($0, $1) }) {
              diffs.append("own evaluation: \(name)")
            }
            if !Diff.same(current.updatedLoss, freshEvaluation.updatedLoss) {
              diffs.append("own evaluation: step loss")
            }
          } else {
            diffs.append("the explorer's evaluation is gone")
          }
          if !diffs.isEmpty { failures.append("C=\(c) seed \(seed) step \(step): \(diffs.prefix(4))") }
        }
      }
    }
    #expect(failures.isEmpty, "\(failures.count) failures: \(failures.prefix(6))")
    #expect(inPlace >= 100 && rebuilt >= 10, "\(inPlace) updated in place, \(rebuilt) rebuilt")
  }

  /// The rounding counts after edits that make a logit start or stop rounding, in every column.
  @Test func roundingCountsAfterRandomEdits() throws {
    var failures: [String] = []
    var cases = 0
    for seed in 0..<(10 * diffScale) {
      var rng = DiffRNG(UInt64(1000 + seed))
      let c = 4097 + seed
      // Mostly values every format holds, a few that round.
      var problem = Problem(
        logits: (0..<c).map { _ in rng.chance(0.995) ? Double(rng.int(-8...8)) / 4 : 0.1 }, target: 0,
        precision: [.float64, .float32][seed % 2])
      var comparison = PrecisionComparison(problem)
      for step in 0..<30 {
        let n = rng.int(1...4)
        var edited: [Int] = []
        for _ in 0..<n {
          let first = comparison.rounding.compactMap(\.first).min() ?? 0
          let i = rng.chance(0.5) ? first : (rng.chance(0.3) ? max(0, first - rng.int(0...3)) : rng.int(0...(c - 1)))
          problem.logits[i] =
            [0.1, 0.5, 1.0001, 1, -.infinity, 70_000, 1e39, 2.0009765625, 1.00000001][rng.int(0...8)]
          edited.append(i)
        }
        comparison.update(to: problem)
        cases += 1
        let diffs = PrecisionComparisonUpdateDifferentialTests.compare(
          comparison, PrecisionComparison(problem), edited: edited, rng: &rng)
        if !diffs.isEmpty { failures.append("seed \(seed) step \(step) edited \(edited): \(diffs.prefix(3))") }
      }
    }
    print("rounding chains: \(cases) updates compared, \(failures.count) failures")
    #expect(failures.isEmpty, "\(failures.count) failures: \(failures.prefix(6))")
  }

  /// The columns' storage is reused: an update allocates no new term arrays (no accidental copy).
  @Test func updateReusesTheColumnsStorage() throws {
    let c = Evaluation.parallelThreshold + 5
    var rng = DiffRNG(3)
    var problem = Problem(logits: (0..<c).map { _ in rng.normal() }, target: 1, precision: .float32)
    var comparison = PrecisionComparison(problem)
    func addresses(_ p: PrecisionComparison) -> [UnsafeRawPointer?] {
      p.columns.map { col -> UnsafeRawPointer? in
        guard case .success(let column) = col.result else { return nil }
        return column.stableTermsAddress
      }
    }
    for _ in 0..<5 {
      let before = addresses(comparison)
      problem.logits[rng.int(0...(c - 1))] = rng.normal()
      comparison.update(to: problem)
      let after = addresses(comparison)
      #expect(before == after, "storage moved: \(before) → \(after)")
      for col in comparison.columns {
        if case .success(let column) = col.result { #expect(column.isUpdate, "\(col.precision)") }
      }
    }
  }
}
