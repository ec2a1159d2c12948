import Foundation
import RealModule
import Testing

@testable import SoftmaxCore

/// PyTorch's `cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)` for class-index
/// targets, written the way PyTorch's own implementation composes it (`nll_loss` of `log_softmax`, plus the smoothing
/// term over the weighted log-probabilities), in Float80: the reference the batch evaluation is checked against.
enum TorchReference {
  struct Result {
    var rowLoss: [Float80]
    var loss: Float80
    var gradient: [Float80]
  }

  static func evaluate(_ p: BatchProblem) -> Result {
    let (n, c) = (p.rows, p.classes)
    let w = (p.weights ?? [Double](repeating: 1, count: c)).map { Float80($0) }
    let eps = Float80(p.labelSmoothing)
    var rowLoss = [Float80](repeating: 0, count: n)
    var gradient = [Float80](repeating: 0, count: n * c)
    var nllSum: Float80 = 0
    var smoothSum: Float80 = 0
    var divisor: Float80 = 0
    var rowNLL = [Float80](repeating: 0, count: n)
    var rowSmooth = [Float80](repeating: 0, count: n)
    for b in 0..<n where !p.isIgnored(b) {
      let x = (0..<c).map { Float80(p.logits[b * c + $0]) }
      // log s_j = (x_j − M) − log(1 + Σ_{j≠k} e^{x_j − M}) (log1p: a tiny loss keeps its relative accuracy).
      let k = x.indices.max { x[$0] < x[$1] }!
      let m = x[k]
      let rest = x.indices.reduce(Float80(0)) { $1 == k ? $0 : $0 + Float80.exp(x[$1] - m) }
      let logS = x.map { ($0 - m) - Float80.log(onePlus: rest) }
      let s = logS.map { Float80.exp($0) }
      let t = p.targets[b]
      rowNLL[b] = -w[t] * logS[t]
      // PyTorch adds the smoothing term only when ε > 0 (with ε = 0 a masked class does not make it 0·∞).
      rowSmooth[b] = eps == 0 ? 0 : -(0..<c).reduce(Float80(0)) { $0 + (w[$1] == 0 ? 0 : w[$1] * logS[$1]) }
      rowLoss[b] = (1 - eps) * rowNLL[b] + eps / Float80(c) * rowSmooth[b]
      nllSum += rowNLL[b]
      smoothSum += rowSmooth[b]
      divisor += w[t]
      let wSum = w.reduce(0, +)
      let g = p.upstream.map { Float80($0[b]) } ?? 1
      // s_T − 1 = −Σ_{j≠T} s_j: the subtraction would cancel when s_T ≈ 1.
      let others = s.indices.reduce(Float80(0)) { $1 == t ? $0 : $0 + s[$1] }
      for j in 0..<c {
        let nll = w[t] * (j == t ? -others : s[j])
        let smooth = s[j] * wSum - w[j]
        gradient[b * c + j] = g * ((1 - eps) * nll + eps / Float80(c) * smooth)
      }
    }
    let loss: Float80
    switch p.reduction {
    case .none: loss = .nan
    case .sum: loss = rowLoss.reduce(0, +)
    case .mean:
      // PyTorch: nll_loss(reduction='mean') divides by Σ w_T over rows not ignored, and so does the smoothing term.
      loss = (1 - eps) * nllSum / divisor + eps / Float80(c) * smoothSum / divisor
      for k in gradient.indices { gradient[k] /= divisor }
    }
    return Result(rowLoss: rowLoss, loss: loss, gradient: gradient)
  }
}

@Suite("Batches: PyTorch's cross_entropy semantics")
struct BatchTests {
  /// Whether `value` (rounded into `precision`) is within `ulps` units in the last place of `exact`.
  static func within(_ value: Double, _ exact: Float80, ulps: Double = 1, _ precision: Precision) -> Bool {
    if exact.isNaN { return value.isNaN }
    if exact.isInfinite { return value == Double(exact) }
    let e = Double(exact)
    return abs(value - e) <= ulps * precision.ulp(of: e) + Double(precision.facts.leastNonzero)
  }

  static func check(_ p: BatchProblem, ulps: Double = 1, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let v = try p.validated()
    let ev = BatchEvaluation(v)
    let ref = TorchReference.evaluate(v)
    for b in 0..<v.rows {
      #expect(
        within(ev.rowLoss[b], ref.rowLoss[b], ulps: ulps, v.precision),
        "row \(b): \(ev.rowLoss[b]) vs \(ref.rowLoss[b])",
        sourceLocation: sourceLocation)
    }
    #expect(
      within(ev.loss, ref.loss, ulps: ulps, v.precision), "\(ev.loss) vs \(ref.loss)", sourceLocation: sourceLocation)
    var worst = (0, 0.0)
    for k in ev.gradient.indices where !within(ev.gradient[k], ref.gradient[k], ulps: ulps, v.precision) {
      worst = (k, ev.gradient[k])
      Issue.record(
        "gradient[\(k / v.classes)][\(k % v.classes)] = \(worst.1) vs \(ref.gradient[k])",
        sourceLocation: sourceLocation)
      break
    }
  }

  /// `[[0, 0], [ln 3, 0]]` with targets `[0, 1]`: softmax rows `[1/2, 1/2]` and `[3/4, 1/4]`, losses `ln 2` and `ln 4`.
  static let small = BatchProblem(logits: [0, 0, Double.log(3), 0], rows: 2, classes: 2, targets: [0, 1])

  @Test func meanSumAndNoneByHand() throws {
    let ln2 = Double.log(2)
    var p = Self.small
    let mean = BatchEvaluation(try p.validated())
    #expect(abs(mean.softmax[2] - 0.75) <= 1e-16 && abs(mean.softmax[3] - 0.25) <= 1e-16)
    #expect(abs(mean.rowLoss[0] - ln2) <= 1e-16 && abs(mean.rowLoss[1] - 2 * ln2) <= 4e-16)
    #expect(abs(mean.loss - 1.5 * ln2) <= 4e-16)
    // mean divides every row's gradient s − e_T by N = 2.
    let expected = [-0.25, 0.25, 0.375, -0.375]
    for k in 0..<4 { #expect(abs(mean.gradient[k] - expected[k]) <= 1e-16, "\(k): \(mean.gradient[k])") }
    p.reduction = .sum
    let sum = BatchEvaluation(try p.validated())
    #expect(abs(sum.loss - 3 * ln2) <= 8e-16)
    #expect(abs(sum.gradient[2] - 0.75) <= 1e-16)
    // none with upstream gradients: the gradient of Σ g_b l_b, and the loss is the per-row losses.
    p.reduction = .none
    p.upstream = [2, -1]
    let none = BatchEvaluation(try p.validated())
    #expect(none.loss.isNaN)
    #expect(none.gradient == [-1, 1, -0.75, 0.75])
  }

  @Test func weightsDivideMeanByTheirSumNotByN() throws {
    let ln2 = Double.log(2)
    var p = Self.small
    p.weights = [1, 3]
    let ev = BatchEvaluation(try p.validated())
    // (1·ln 2 + 3·ln 4) / (1 + 3) = 7/4 ln 2; gradient rows w_T (s − e_T) / 4.
    #expect(abs(ev.loss - 1.75 * ln2) <= 4e-16)
    #expect(ev.divisor == 4)
    let expected = [-0.125, 0.125, 0.5625, -0.5625]
    for k in 0..<4 { #expect(abs(ev.gradient[k] - expected[k]) <= 1e-16, "\(k): \(ev.gradient[k])") }
    #expect(abs(ev.rowLoss[1] - 6 * ln2) <= 1e-15)
  }

  @Test func ignoredRowsHaveNoLossNoGradientAndLeaveTheDivisor() throws {
    var p = Self.small
    p.targets = [0, -100]
    let ev = BatchEvaluation(try p.validated())
    #expect(ev.ignored == [1])
    #expect(ev.rowLoss[1] == 0 && ev.gradient[2] == 0 && ev.gradient[3] == 0)
    #expect(ev.divisor == 1)
    #expect(abs(ev.loss - Double.log(2)) <= 2e-16)
    // Its softmax is still there.
    #expect(abs(ev.softmax[2] - 0.75) <= 1e-16)
    // A custom ignore index; every row ignored gives 0/0 under mean, as PyTorch does.
    p.targets = [7, 7]
    p.ignoreIndex = 7
    let all = BatchEvaluation(try p.validated())
    #expect(all.loss.isNaN && all.divisor == 0)
    #expect(all.gradient.allSatisfy { $0 == 0 })
  }

  @Test func labelSmoothingWithAndWithoutWeights() throws {
    var p = Self.small
    p.labelSmoothing = 0.2
    // No weights: y = (1 − ε) e_T + ε/C, the single-vector path's smoothing.
    let plain = BatchEvaluation(try p.validated())
    let single = Evaluation(try Problem(logits: [Double.log(3), 0], target: 1, labelSmoothing: 0.2).validated())
    #expect(abs(plain.rowLoss[1] - single.loss) <= 2e-16)
    for j in 0..<2 { #expect(abs(2 * plain.gradient[2 + j] - single.gradient[j]) <= 2e-16) }
    // Weights [1, 3], ε = 0.2, C = 2, row 1 (T = 1): 0.8·(−3 ln ¼) + 0.1·(−(ln ¾ + 3 ln ¼)) = −2.7 ln ¼ − 0.1 ln ¾.
    p.weights = [1, 3]
    let weighted = BatchEvaluation(try p.validated())
    #expect(abs(weighted.rowLoss[1] - (-2.7 * Double.log(0.25) - 0.1 * Double.log(0.75))) <= 2e-15)
    try Self.check(p)
  }

  @Test(arguments: Precision.allCases)
  func randomBatchesMatchTheReference(precision: Precision) throws {
    var rng = SeededRandom(seed: 21)
    for k in 0..<24 {
      let (n, c) = (1 + Int(rng.next() % 9), 1 + Int(rng.next() % 17))
      var logits = (0..<(n * c)).map { _ in rng.nextNormal() * (k % 4 == 0 ? 8 : 2) }
      if c > 1, k % 5 == 0 { logits[Int(rng.next() % UInt64(n)) * c] = -.infinity }
      var targets = (0..<n).map { _ in Int(rng.next() % UInt64(c)) }
      if k % 3 == 0 { targets[0] = -100 }
      // A masked target class makes an infinite loss: keep the targets unmasked here.
      for b in 0..<n where targets[b] >= 0 && logits[b * c + targets[b]] == -.infinity { targets[b] = -100 }
      let reduction = Reduction.allCases[k % 3]
      let p = BatchProblem(
        logits: logits, rows: n, classes: c, targets: targets,
        weights: k % 2 == 0 ? (0..<c).map { _ in 0.25 + rng.nextUnit() * 2 } : nil,
        upstream: reduction == .none && k % 4 == 1 ? (0..<n).map { _ in rng.nextNormal() } : nil,
        reduction: reduction, labelSmoothing: k % 4 == 2 ? 0.1 : 0, precision: precision)
      guard let v = try? p.validated() else { continue }
      // Each value is rounded once from a wide result: within an ulp of exact math on the rounded inputs.
      try Self.check(v)
    }
  }

  /// Without weights, a batch row is the single-vector path's evaluation of that row: with `sum`, its loss and
  /// gradient are the same bits, and its softmax too.
  @Test(arguments: Precision.allCases)
  func aRowIsTheSingleVectorEvaluation(precision: Precision) throws {
    var rng = SeededRandom(seed: 8)
    let (n, c) = (6, 11)
    let logits = (0..<(n * c)).map { _ in rng.nextNormal() * 4 }
    let targets = (0..<n).map { _ in Int(rng.next() % UInt64(c)) }
    for eps in [0.0, 0.1] {
      let p = try BatchProblem(
        logits: logits, rows: n, classes: c, targets: targets, reduction: .sum, labelSmoothing: eps,
        precision: precision
      ).validated()
      let ev = BatchEvaluation(p)
      for b in 0..<n {
        let row = Array(p.logits[(b * c)..<((b + 1) * c)])
        let single = Evaluation(
          try Problem(logits: row, target: targets[b], precision: precision, labelSmoothing: eps).validated())
        #expect(ev.rowLoss[b].bitPattern == single.loss.bitPattern, "\(precision) ε=\(eps) row \(b)")
        #expect(Array(ev.gradient[(b * c)..<((b + 1) * c)]) == single.gradient, "\(precision) ε=\(eps) row \(b)")
        #expect(Array(ev.softmax[(b * c)..<((b + 1) * c)]) == single.softmax, "\(precision) ε=\(eps) row \(b)")
      }
    }
  }

  /// The reduction is summed without loss: `mean` over 4,096 rows of float32 within 1 ulp of exact.
  @Test func aMeanOver4096Float32RowsIsWithinAnUlp() throws {
    let (n, c) = (4096, 64)
    var rng = SeededRandom(seed: 4)
    let logits = (0..<(n * c)).map { _ in rng.nextUnit() * 8 }
    let targets = (0..<n).map { _ in Int(rng.next() % UInt64(c)) }
    let p = try BatchProblem(logits: logits, rows: n, classes: c, targets: targets, precision: .float32).validated()
    let ev = BatchEvaluation(p)
    let ref = TorchReference.evaluate(p)
    #expect(Self.within(ev.loss, ref.loss, .float32), "\(ev.loss) vs \(ref.loss)")
  }

  @Test func badBatchesAreRefusedWithOneLine() throws {
    func message(_ p: BatchProblem) -> String? {
      do {
        _ = try p.validated()
        return nil
      } catch { return error.message }
    }
    var p = Self.small
    p.targets = [0, 2]
    #expect(message(p) == "row 1: target 2 is not a class (0…1) and not the ignore index -100")
    p = Self.small
    p.upstream = [1, 1]
    #expect(message(p)?.contains("--reduction none") == true)
    p = Self.small
    p.logits[3] = .nan
    #expect(message(p)?.hasPrefix("row 1: ") == true)
    p = Self.small
    p.weights = [1]
    #expect(message(p) == "1 class weights for 2 classes: give one weight per class")
    p = Self.small
    p.targets = [0]
    #expect(message(p) == "1 targets for 2 rows: give one class index per row")
    p = Self.small
    p.rows = 0
    #expect(message(p) == "the batch is empty: give at least one row")
  }
}
