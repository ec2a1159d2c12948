import RealModule
import SoftmaxCore

/// `softmax-lab gradcheck`: the fused batch kernel's gradient against the exact gradient, element by element.
///
/// Each row `r` of the batch has standard normal logits, a uniform target `T_r` and an upstream gradient `g_r`
/// uniform in (0, 1] (the article's PyTorch check: `torch.rand` logits and `dldc`), all rounded into the precision.
/// The gradient under test is ``BatchSoftmax``'s fused kernel, `g·(s_n − δ_nT)`, as `bench` times it. The reference is
/// the same formula computed in a wider format from the same rounded inputs (`Float80` for float64 on x86, `Double`
/// for the others): the max-subtracted softmax with compensated sums, and `−Σ_{j≠T} s_j` for the target entry, so
/// nothing cancels. Against that reference the kernel is within a few ulps in float32 and float64 (it rounds a handful
/// of times) and within half an ulp plus a few `Float` ulps in float16 and bfloat16 (computed in `Float`, rounded
/// once); the tolerance says exactly that, so a gradient off by 1% fails in every precision, bfloat16 included.
///
/// Cost: each checked row is generated and run through the kernel and the reference alone (row `r` has its own seeded
/// generator), so the work is that of the rows holding a checked element, whatever the batch size. Up to
/// ``fullCheckLimit`` elements every element is checked; above it a seeded sample of ``defaultSample`` elements
/// (whole rows, see ``sampledElements()``), unless `sample` says how many.
public struct BatchGradientCheck: Sendable {
  /// Rows `N` (any positive count: only the rows holding checked elements are computed).
  public var batch: Int
  /// Classes `C` per row, at most ``maximumClasses``.
  public var classes: Int
  /// The seed of the batch and of the sample.
  public var seed: UInt64
  public var precision: Precision
  /// How many elements to check: nil for the default (every element up to ``fullCheckLimit``, else
  /// ``defaultSample``); at least the batch's size means every element.
  public var sample: Int?
  /// Testing: a gradient that is wrong in one element.
  public var corruption: Corruption?
  /// The kernel copy to check.
  public var isa: KernelISA
  /// A given batch to check instead of a random one (its shape must be `batch × classes`).
  public var given: Given?

  /// A batch from outside: the logits row by row, a class index per row and (nil: all 1) an upstream gradient per
  /// row, each rounded into the precision when the check runs.
  public struct Given: Sendable, Equatable {
    public var logits: [Double]
    public var targets: [Int]
    public var upstream: [Double]?
    public init(logits: [Double], targets: [Int], upstream: [Double]? = nil) {
      (self.logits, self.targets, self.upstream) = (logits, targets, upstream)
    }
  }

  /// One element of the gradient replaced by `(1 + relative)·exact`, rounded into the precision: what a formula off
  /// by that fraction would give. Used to show that the check fails for a wrong gradient.
  public struct Corruption: Sendable, Equatable {
    public var row: Int
    public var column: Int
    public var relative: Double
    public init(row: Int, column: Int, relative: Double) {
      (self.row, self.column, self.relative) = (row, column, relative)
    }
  }

  /// The largest batch (`N·C` elements) checked whole by default: about two seconds in a debug build on one core
  /// (1024 × 1024), a tenth of that in a release build.
  public static let fullCheckLimit = 1 << 20

  /// The largest `C`: the lab's limit on one vector.
  public static let maximumClasses = NumberListParser.maximumCount

  /// The default sample above ``fullCheckLimit``: ``fullCheckLimit`` elements, the work of the largest full check.
  public static let defaultSample = fullCheckLimit

  public init(
    batch: Int, classes: Int, seed: UInt64 = 0, precision: Precision = .float64, sample: Int? = nil,
    corruption: Corruption? = nil, isa: KernelISA = .selected
  ) {
    (self.batch, self.classes, self.seed, self.precision) = (batch, classes, seed, precision)
    (self.sample, self.corruption, self.isa) = (sample, corruption, isa)
  }

  /// `N·C`, or nil when it overflows `Int`.
  public var elements: Int? {
    let (n, overflow) = batch.multipliedReportingOverflow(by: classes)
    return overflow ? nil : n
  }

  /// How many elements are checked.
  public var checkedCount: Int {
    let wanted: Int
    if let sample {
      wanted = sample
    } else if let total = elements, total <= BatchGradientCheck.fullCheckLimit {
      wanted = total
    } else {
      wanted = BatchGradientCheck.defaultSample
    }
    return elements.map { Swift.min(wanted, $0) } ?? wanted
  }

  /// Whether every element is checked.
  public var checksEveryElement: Bool { elements.map { checkedCount >= $0 } ?? false }

  /// The tolerance of one element: `|got − exact| ≤ relative·|exact| + absolute`.
  public struct Tolerance: Sendable, Equatable {
    /// `4ε` for float64 and float32 (the kernel rounds a few times), `ε/2 + 16ε_float32` for float16 and bfloat16
    /// (half an ulp for the one rounding from `Float`, plus the `Float` computation).
    public var relative: Double
    /// For results near or below the least normal: 4 (float64, float32) or 1 (float16, bfloat16) times the least
    /// nonzero magnitude.
    public var absolute: Double
    /// How `relative` is made, e.g. `4ε` or `ε/2 + 16ε_float32`.
    public var formula: String

    public init(_ precision: Precision) {
      let facts = precision.facts
      switch precision {
      case .float64, .float32:
        relative = 4 * facts.ulpOfOne
        absolute = 4 * facts.leastNonzero
        formula = "4ε"
      case .float16, .bfloat16:
        relative = facts.ulpOfOne / 2 + 16 * Double(Float.ulpOfOne)
        absolute = facts.leastNonzero
        formula = "ε/2 + 16ε_float32"
      }
    }

    public func bound(_ exact: Double) -> Double { relative * abs(exact) + absolute }
  }

  /// One checked element.
  public struct Element: Sendable, Equatable {
    public var row: Int
    public var column: Int
    /// The kernel's gradient (or the corrupted one).
    public var value: Double
    /// The reference, rounded to `Double` (exact for every precision but float64, where it is the `Float80` value
    /// rounded once).
    public var exact: Double
    /// `|value − exact|`, computed in the wide format.
    public var error: Double
    /// `error / |exact|` (0 when both are 0, inf when only `exact` is).
    public var relativeError: Double
    /// The element's bound, `relative·|exact| + absolute`.
    public var bound: Double
    public var passes: Bool { error <= bound }
    /// `error / bound`.
    public var ratio: Double { error / bound }
  }

  /// What a check found.
  public struct Outcome: Sendable, Equatable {
    public var checked: Int
    public var failures: Int
    /// The element with the largest relative error among those whose exact value is at least the least normal (below
    /// it the result is subnormal and held to the absolute part of the tolerance).
    public var worstRelative: Element?
    /// How many checked elements have a subnormal exact value (nonzero, below the least normal).
    public var subnormal: Int
    /// The element with the largest `error / bound`.
    public var worstRatio: Element?
    /// The first failing element in row order.
    public var firstFailure: Element?
    public var tolerance: Tolerance
    /// Per checked row, its element with the largest `error / bound`.
    public var rowWorst: [Element] = []
    public var passed: Bool { failures == 0 }
  }

  /// Runs the check.
  public func run() -> Outcome {
    precondition(
      batch >= 1 && (1...BatchGradientCheck.maximumClasses).contains(classes), "BatchGradientCheck: bad shape")
    switch precision {
    case .float64:
      #if arch(x86_64) || arch(i386)
        return run(Double.self, wide: Float80.self, kernel: BatchGradientCheck.doubleKernel)
      #else
        return run(Double.self, wide: Double.self, kernel: BatchGradientCheck.doubleKernel)
      #endif
    case .float32: return run(Float.self, wide: Double.self, kernel: BatchGradientCheck.floatKernel)
    case .bfloat16:
      return run(BFloat16.self, wide: Double.self) { x, rows, t, g, isa in
        BatchGradientCheck.halfKernel(.bfloat16, x.map(\.bitPattern), rows, t, g.map(\.bitPattern), isa)
          .map { BFloat16(bitPattern: $0) }
      }
    case .float16:
      return run(Float16.self, wide: Double.self) { x, rows, t, g, isa in
        BatchGradientCheck.halfKernel(.float16, x.map(\.bitPattern), rows, t, g.map(\.bitPattern), isa)
          .map { Float16(bitPattern: $0) }
      }
    }
  }

  /// The kernel over `rows` rows: logits, targets, upstream gradients → gradient.
  typealias Kernel<T> = (_ x: [T], _ rows: Int, _ targets: [Int], _ upstream: [T], _ isa: KernelISA) -> [T]

  /// One row of the batch: its logits, target and upstream gradient, rounded into `T`.
  func row<T: SoftmaxScalar>(_ r: Int, _: T.Type) -> (x: [T], target: Int, upstream: T) {
    if let given {
      let x = (0..<classes).map { T(rounding: given.logits[r * classes + $0]) }
      return (x, given.targets[r], T(rounding: given.upstream?[r] ?? 1))
    }
    var rng = BatchGradientCheck.generator(seed: seed, row: r)
    let x = (0..<classes).map { _ in T(rounding: rng.nextNormal()) }
    let target = Int(rng.next() % UInt64(classes))
    var g = T(rounding: 1 - rng.nextUnit())  // (0, 1]
    if g == 0 { g = T.leastNonzeroMagnitude }
    return (x, target, g)
  }

  /// Row `r`'s own generator, so that any row can be made without the ones before it.
  static func generator(seed: UInt64, row: Int) -> SeededRandom {
    var mix = SeededRandom(seed: seed ^ 0x6A09_E667_F3BC_C908)
    mix.state &+= UInt64(truncatingIfNeeded: row) &* 0xD1B5_4A32_D192_ED03
    return SeededRandom(seed: mix.next())
  }

  /// The checked elements, by row (columns ascending); nil means every element. A sample of `K` elements is every
  /// element of `⌊K/C⌋` seeded random rows and `K mod C` seeded random elements of one more: a row costs the same to
  /// compute whether one of its elements is checked or all of them, so this checks the most elements for the work.
  func sampledElements() -> [(row: Int, columns: [Int])]? {
    if checksEveryElement { return nil }
    var rng = SeededRandom(seed: seed ^ 0xBB67_AE85_84CA_A73B)
    let k = checkedCount
    let (whole, part) = k.quotientAndRemainder(dividingBy: classes)
    let rows = BatchGradientCheck.distinct(whole + (part > 0 ? 1 : 0), of: batch, &rng)
    var plan = rows.map { (row: $0, columns: Array(0..<classes)) }
    if part > 0 {
      // The partial row: the last one drawn (draws are in random order), with `part` random columns.
      let last = rows.firstIndex(of: rows.last!)!
      plan[last].columns = BatchGradientCheck.distinct(part, of: classes, &rng).sorted()
    }
    return plan.sorted { $0.row < $1.row }
  }

  /// `k` distinct values of `0..<n` in the order drawn (by rejection, or by drawing the ones left out when `k > n/2`).
  static func distinct(_ k: Int, of n: Int, _ rng: inout SeededRandom) -> [Int] {
    var chosen = Set<Int>()
    var order: [Int] = []
    if k > n / 2 {
      var excluded = Set<Int>()
      while excluded.count < n - k { excluded.insert(Int(rng.next() % UInt64(n))) }
      order = (0..<n).filter { !excluded.contains($0) }
      order.shuffle(using: &rng)
      return order
    }
    while order.count < k {
      let i = Int(rng.next() % UInt64(n))
      if chosen.insert(i).inserted { order.append(i) }
    }
    return order
  }

  private func run<T: SoftmaxScalar, W: SoftmaxScalar>(_: T.Type, wide: W.Type, kernel: Kernel<T>) -> Outcome {
    let tolerance = Tolerance(precision)
    var outcome = Outcome(
      checked: 0, failures: 0, worstRelative: nil, subnormal: 0, worstRatio: nil, firstFailure: nil,
      tolerance: tolerance)
    let plan = sampledElements()
    let leastNormal = precision.facts.leastNormal
    let rowsToCheck = plan?.map(\.row) ?? Array(0..<batch)
    let chunkRows = Swift.max(1, (1 << 14) / classes)
    var start = 0
    while start < rowsToCheck.count {
      let chunk = Array(rowsToCheck[start..<Swift.min(rowsToCheck.count, start + chunkRows)])
      let made = chunk.map { row($0, T.self) }
      var gradient = kernel(made.flatMap(\.x), chunk.count, made.map(\.target), made.map(\.upstream), isa)
      for (k, r) in chunk.enumerated() {
        let columns = plan?[start + k].columns ?? Array(0..<classes)
        let exact = BatchGradientCheck.reference(made[k].x, target: made[k].target, upstream: made[k].upstream, W.self)
        var rowWorst: Element?
        defer { if let rowWorst { outcome.rowWorst.append(rowWorst) } }
        for n in columns {
          let e = exact[n]
          if let c = corruption, c.row == r, c.column == n {
            gradient[k * classes + n] = T(converting: e * W(rounding: 1 + c.relative))
          }
          let got = W(converting: gradient[k * classes + n])
          let error = abs(got - e).double
          let element = Element(
            row: r, column: n, value: got.double, exact: e.double, error: error,
            relativeError: relative(error, to: e.double), bound: tolerance.bound(e.double))
          outcome.checked += 1
          if !element.passes {
            outcome.failures += 1
            if outcome.firstFailure == nil { outcome.firstFailure = element }
          }
          if abs(element.exact) < leastNormal {
            if element.exact != 0 { outcome.subnormal += 1 }
          } else if outcome.worstRelative.map({ !(element.relativeError <= $0.relativeError) }) ?? true {
            outcome.worstRelative = element
          }
          if outcome.worstRatio.map({ !(element.ratio <= $0.ratio) }) ?? true { outcome.worstRatio = element }
          if rowWorst.map({ !(element.ratio <= $0.ratio) }) ?? true { rowWorst = element }
        }
      }
      start += chunk.count
    }
    return outcome
  }

  /// `g·(s_n − δ_nT)` in `W` from logits in `T`: max-subtracted softmax with compensated sums (as the lab's trusted
  /// path computes it), and `−g·Σ_{j≠T} s_j` for the target.
  static func reference<T: SoftmaxScalar, W: SoftmaxScalar>(_ x: [T], target: Int, upstream: T, _: W.Type) -> [W] {
    let z = x.map { W(converting: $0) }
    let s = Softmax.stable(z).probabilities
    var y = [W](repeating: 0, count: z.count)
    y[target] = 1
    return CrossEntropy.accurateGradient(probabilities: s, target: y, temperature: 1, upstream: W(converting: upstream))
  }

  /// The buffers of one fused batch call: `x` and the per-row `t` and `g` in, the gradient out (filled with `blank`
  /// first, so an element the kernel skips reads as NaN). `fused` receives them as `(x, t, g, loss, gradient)`.
  static func runKernel<T>(
    _ x: [T], _ rows: Int, _ t: [Int], _ g: [T], blank: T,
    _ fused: (
      UnsafeBufferPointer<T>, UnsafeBufferPointer<Int>, UnsafeBufferPointer<T>, UnsafeMutableBufferPointer<T>,
      UnsafeMutableBufferPointer<T>
    ) -> Void
  ) -> [T] {
    var out = [T](repeating: blank, count: x.count)
    var loss = [T](repeating: blank, count: rows)
    x.withUnsafeBufferPointer { xp in
      t.withUnsafeBufferPointer { tp in
        g.withUnsafeBufferPointer { gp in
          loss.withUnsafeMutableBufferPointer { lp in
            out.withUnsafeMutableBufferPointer { op in fused(xp, tp, gp, lp, op) }
          }
        }
      }
    }
    return out
  }

  static func doubleKernel(_ x: [Double], _ rows: Int, _ t: [Int], _ g: [Double], _ isa: KernelISA) -> [Double] {
    runKernel(x, rows, t, g, blank: .nan) {
      BatchSoftmax.fused(
        $0, rows: rows, classes: x.count / rows, targets: $1, upstream: $2, loss: $3, gradient: $4, isa: isa)
    }
  }

  static func floatKernel(_ x: [Float], _ rows: Int, _ t: [Int], _ g: [Float], _ isa: KernelISA) -> [Float] {
    runKernel(x, rows, t, g, blank: .nan) {
      BatchSoftmax.fused(
        $0, rows: rows, classes: x.count / rows, targets: $1, upstream: $2, loss: $3, gradient: $4, isa: isa)
    }
  }

  static func halfKernel(
    _ format: HalfFormat, _ x: [UInt16], _ rows: Int, _ t: [Int], _ g: [UInt16], _ isa: KernelISA
  ) -> [UInt16] {
    let classes = x.count / rows
    let workspace = BatchWorkspace(capacity: classes)
    return runKernel(x, rows, t, g, blank: 0x7E00) {
      BatchSoftmax.fused(
        format, $0, rows: rows, classes: classes, targets: $1, upstream: $2, loss: $3, gradient: $4,
        workspace: workspace, isa: isa)
    }
  }
}

/// `x / |reference|`, with `0/0 = 0` and `x/0 = inf` (as core's evaluation measures it).
private func relative(_ x: Double, to reference: Double) -> Double {
  if x == 0 { return 0 }
  return reference == 0 ? .infinity : x / abs(reference)
}
