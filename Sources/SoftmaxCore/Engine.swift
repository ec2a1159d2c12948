import RealModule

// The one evaluation of a problem: every recurrence of `Softmax` and `CrossEntropy` written once, as two resumable
// passes over the classes, for ``Evaluation`` (which keeps every per-class value) and for a lean ``PrecisionColumn``
// (which keeps only scalars and the terms an update needs) alike.
//
// - The trace pass, in the precision's arithmetic: `z_i = x_i/τ`, the naive `e^{z_i}` and `σ = Σ e^{z_j}` left to
//   right, the overflow facts, and the online recurrence `m_j = max(m_{j−1}, z_j)`, `d_j = d_{j−1}·e^{m_{j−1}−m_j} +
//   e^{z_j−m_j}`.
// - The trusted pass, in a wider format `W`: `M = max z`, the compensated `e^{z_i − M}` and their compensated sums
//   with and without the argmax (for log-sum-exp).
// - Then the losses over the classes the target puts mass on.
//
// Both passes keep their exponentials, and their state every ``Engine/stride`` elements, in ``EngineMemory``. A run
// after a change of some logits (``EngineMemory/changes``) resumes each pass at the saved state before the first
// changed logit and computes afresh only the exponentials the change affects: the changed logits' own, the online
// terms whose running maximum changed, and every `e^{z_i − M}` when `M` changed. Every other operation is taken again
// in the same order, so every number is bit for bit what a first run gives.

/// What the engine keeps between two runs over the same classes.
struct EngineMemory: Sendable {
  /// The logits changed since the last run, in index order, with their old values.
  private(set) var changes: [LogitChange] = []
  /// Whether every term must be computed afresh (no run yet, or every `z` changed: the temperature did).
  private(set) var everything = true
  /// The trace pass's exponentials and saved states.
  var trace = TraceMemory()
  /// The trusted pass's, in its wide format.
  var wide = WideScratch.none

  /// The next run follows a change of logit `index` from `old` (nothing, when the bits are the same).
  mutating func willChange(logit index: Int, from old: Double, to new: Double) {
    changes.removeAll(keepingCapacity: true)
    if old.bitPattern != new.bitPattern { changes.append(LogitChange(index: index, old: old)) }
  }

  /// The next run follows a change of the logits from `old` to `new` (the same count).
  mutating func willChange(logits old: [Double], to new: [Double]) {
    changes.removeAll(keepingCapacity: true)
    for i in 0..<old.count where old[i].bitPattern != new[i].bitPattern {
      changes.append(LogitChange(index: i, old: old[i]))
    }
  }

  /// The next run follows a change of the logits or the temperature in which every term must be computed again.
  mutating func willChangeEverything() {
    changes.removeAll(keepingCapacity: true)
    everything = true
  }

  /// The next run follows a change that no term depends on (the target, η, g).
  mutating func willChangeNothing() { changes.removeAll(keepingCapacity: true) }

  /// The run is over: its terms are valid for the next.
  mutating func ran() { everything = false }
}

/// A logit that changed since the engine's last run.
struct LogitChange: Sendable {
  var index: Int
  var old: Double
}

/// The trace pass's state before element `b·stride`.
struct TraceCheckpoint: Sendable {
  /// The naive `σ` so far, the first index of the running maximum, and `(m, d)` of the online recurrence.
  var sigma: Double
  var best: Int
  var max: Double
  var sum: Double
}

/// What the trace pass keeps: its two exponentials per class and its saved states.
struct TraceMemory: Sendable {
  /// Naive `e^{z_i}`.
  var naive = TermArray()
  /// The online recurrence's exponential at `i`: `e^{z_i − m_{i−1}}`, or `e^{m_{i−1} − z_i}` where `z_i` is a new
  /// running maximum (unset where the step takes none: a masked class, or the first finite `z`).
  var online = TermArray()
  var checkpoints: [TraceCheckpoint] = []
}

/// What the trusted pass keeps, in its format `W`.
struct TrustedMemory<W: SoftmaxScalar>: Sendable {
  /// `e^{z_i − M}`, compensated for the rounding of `z_i − M`.
  var exps: [W] = []
  /// `s_i` in `W` (written by a full record only).
  var probabilities: [W] = []
  /// The compensated sums with and without the argmax before element `b·stride`.
  var sums: [(sum: CompensatedSum<W>, rest: CompensatedSum<W>)] = []
  /// `M` and its first index at the last run (valid when `exps` has the classes' count).
  var max = -W.infinity
  var argmax = 0
}

/// Where an engine keeps its trusted pass's memory, whichever its wide format.
enum WideScratch: Sendable {
  case none
  case double(TrustedMemory<Double>)
  #if arch(x86_64) || arch(i386)
    case float80(TrustedMemory<Float80>)
  #endif
}

/// A format the trusted pass computes in, with its place in ``WideScratch``.
protocol WideScalar: SoftmaxScalar {
  /// The memory kept for this format (moved out, leaving `.none`), or an empty one.
  static func take(_ scratch: inout WideScratch) -> TrustedMemory<Self>
  static func scratch(_ memory: TrustedMemory<Self>) -> WideScratch
}

extension Double: WideScalar {
  static func take(_ scratch: inout WideScratch) -> TrustedMemory<Double> {
    defer { scratch = .none }
    if case .double(let m) = scratch { return m }
    return TrustedMemory()
  }
  static func scratch(_ memory: TrustedMemory<Double>) -> WideScratch { .double(memory) }
}

#if arch(x86_64) || arch(i386)
  extension Float80: WideScalar {
    static func take(_ scratch: inout WideScratch) -> TrustedMemory<Float80> {
      defer { scratch = .none }
      if case .float80(let m) = scratch { return m }
      return TrustedMemory()
    }
    static func scratch(_ memory: TrustedMemory<Float80>) -> WideScratch { .float80(memory) }
  }
#endif

/// Where the trace pass writes its per-class values: every array (``Evaluation``) or none (a lean column).
protocol TraceRecord: Sendable, EmptyInitializable {
  /// Sizes the arrays for `count` classes (arrays of that size are kept, to be written over).
  mutating func prepare(count: Int)
  /// Class `i`'s `z`, naive `e^z`, and `(m_i, d_i)` after its online step, all values of the precision.
  mutating func record(_ i: Int, z: Double, exp: Double, max: Double, sum: Double)
  /// The probabilities, once `σ` and the final `(m, d)` are known.
  mutating func finish<A: LeanArithmetic>(sigma: A.Value, max: A.Value, sum: A.Value, _: A.Type)
}

/// Where the trusted pass writes: every per-class value and the gradient step (``Evaluation``), or nothing.
protocol TrustedRecord: Sendable, EmptyInitializable {
  mutating func prepare(count: Int)
  /// A term computed afresh: `z_i − M` and `e^{z_i − M}` in `W`, for precision `T`.
  mutating func term<T: SoftmaxScalar, W: SoftmaxScalar>(_ i: Int, shifted: W, exp: W, _: T.Type)
  /// Everything that needs the finished sums.
  mutating func finish<T: SoftmaxScalar, W: WideScalar>(
    _ sums: Engine.Sums<W>, memory: inout TrustedMemory<W>, problem: Problem, logits: UnsafeBufferPointer<Double>,
    _: T.Type)
}

/// The record of a lean column: nothing per class.
struct NoRecord: TraceRecord, TrustedRecord {
  init() {}
  func prepare(count: Int) {}
  @inline(__always) func record(_ i: Int, z: Double, exp: Double, max: Double, sum: Double) {}
  func finish<A: LeanArithmetic>(sigma: A.Value, max: A.Value, sum: A.Value, _: A.Type) {}
  @inline(__always) func term<T: SoftmaxScalar, W: SoftmaxScalar>(_ i: Int, shifted: W, exp: W, _: T.Type) {}
  func finish<T: SoftmaxScalar, W: WideScalar>(
    _ sums: Engine.Sums<W>, memory: inout TrustedMemory<W>, problem: Problem, logits: UnsafeBufferPointer<Double>,
    _: T.Type
  ) {}
}

/// The engine: the two passes, the losses, and the overflow report.
enum Engine {
  /// Elements between two saved states: a resumed pass starts at most this many elements before the first change,
  /// and a lean column's running value replays at most this many steps.
  static let stride = 128  // a power of two (the passes test `i & (stride − 1)`)

  /// The trusted pass's result.
  struct Sums<W: SoftmaxScalar>: Sendable {
    /// `M = max z` and its first index.
    var max = -W.infinity
    var argmax = 0
    /// `Σ e^{z_j − M}` and `Σ_{j≠argmax} e^{z_j − M}`, compensated.
    var sum = CompensatedSum<W>()
    var rest = CompensatedSum<W>()
    /// `log(1 + rest)`, computed so that a `rest` far below ε keeps its relative accuracy (see ``LogSumExp``).
    var logSum: W = 0
  }

  /// A run's scalars (values of the precision held as `Double`, except where said).
  struct Result: Sendable {
    /// Naive `σ`, and the online recurrence's final `(m, d)`.
    var naiveSum: Double
    var onlineMax: Double
    var onlineSum: Double
    /// `M`, its first index, and the compensated sum's parts, in the trusted format (widened to `Double`).
    var wideMax: Double
    var argmax: Int
    var sumHigh: Double
    var sumLow: Double
    /// Rounded into the precision: `M`, `Σ e^{z_j − M}`, `Σ_{j≠argmax} e^{z_j − M}`, `log(1 + rest)`, `LSE`.
    var max: Double
    var sum: Double
    var rest: Double
    var logSum: Double
    var logSumExp: Double
    /// `LSE` in the trusted format, widened to `Double` (not rounded into the precision).
    var exactLogSum: Double
    /// The stable loss, `−Σ y_i log s_i` with the naive and with the stable softmax.
    var loss: Double
    var lossNaive: Double
    var lossFromStableSoftmax: Double
    /// The first masked class the target puts mass on.
    var maskedTarget: Int?
    var overflow: OverflowReport
  }

  /// Runs both passes for `problem` over `memory`, writing per-class values into the records, side by side when
  /// `concurrently` and the problem is large. `lists` holds the previous overflow report's index lists (their storage
  /// is reused).
  static func run<T: PrecisionScalar, W: WideScalar, TR: TraceRecord, WR: TrustedRecord>(
    _ problem: Problem, memory: inout EngineMemory, lists: OverflowReport.Scan, trace traceRecord: inout TR,
    trusted trustedRecord: inout WR, concurrently: Bool, _: T.Type, _: W.Type
  ) -> Result {
    typealias A = T.Lean
    let c = problem.classes
    // Everything is moved into the passes (and back), so that each array is held once and written in place.
    var trace = TracePass<A, TR>(
      problem: problem, changes: memory.changes, everything: memory.everything, memory: take(&memory.trace),
      scan: lists, record: take(&traceRecord))
    var trusted = TrustedPass<T, W, WR>(
      problem: problem, changes: memory.changes, everything: memory.everything, memory: W.take(&memory.wide),
      record: take(&trustedRecord))
    Parallel.both(&trace, &trusted, concurrently: concurrently && c >= Evaluation.parallelThreshold)
    traceRecord = take(&trace.record)
    trustedRecord = take(&trusted.record)
    memory.trace = take(&trace.memory)
    let sums = trusted.sums

    // The losses visit the classes with y_i ≠ 0 in index order (only T for a one-hot target): `CrossEntropy.
    // lossFromProbabilities` with the naive and the stable softmax (in T), and `CrossEntropy.stableLoss` (in W).
    let sigmaT = T(rounding: A.double(trace.sigma))
    let yT = TargetEntries<T>(problem.targetSpec, classes: c)
    let yW = TargetEntries<W>(problem.targetSpec, classes: c)
    let tauW = W(rounding: problem.temperature)
    var stableLoss = StableLossSum<W>()
    var cNaive: T = 0
    var cStable: T = 0
    var maskedTarget: Int? = nil
    var largestExp = 0.0
    A.Value.withStored(memory.trace.naive) { naive in
      trusted.memory.exps.withUnsafeBufferPointer { exps in
        problem.logits.withUnsafeBufferPointer { logits in
          func visit(_ i: Int) {
            let y = yT[i]
            if y != 0 {
              cNaive -= y * T.log(T(rounding: A.double(A.Value.load(naive[i]))) / sigmaT)
              cStable -= y * T.log(T(converting: sums.sum.divide(exps[i])))
              if maskedTarget == nil, logits[i] == -.infinity { maskedTarget = i }
            }
            let w = yW[i]
            if w != 0 { stableLoss.add(w, max: sums.max, z: W(rounding: logits[i]) / tauW) }
          }
          if let t = yT.oneHot {
            visit(t)
          } else {
            for i in 0..<c { visit(i) }
          }
        }
      }
      largestExp = A.double(A.Value.load(naive[trace.best]))
    }
    let lossW = stableLoss.loss(logSum: sums.logSum)
    memory.wide = W.scratch(take(&trusted.memory))
    memory.ran()

    func narrow(_ v: W) -> Double { T(converting: v).double }
    var scan = take(&trace.scan)
    scan.sum = sigmaT.double
    scan.largest = (A.double(trace.m), largestExp)
    let tauA = A.round(problem.temperature)
    let lse = sums.max + sums.logSum
    var overflow = problem.logits.withUnsafeBufferPointer { logits in
      OverflowReport(
        scan, count: c, z: { A.double(TracePass<A, TR>.z(logits[$0], tauA)) }, precision: problem.precision,
        exactLogSum: problem.temperature == 1 ? lse.double : nil)
    }
    let loss = narrow(lossW)
    let lossNaive = cNaive.double
    overflow.judgeAccuracy(naiveLoss: lossNaive, loss: loss)
    return Result(
      naiveSum: sigmaT.double, onlineMax: A.double(trace.m), onlineSum: A.double(trace.d),
      wideMax: sums.max.double, argmax: sums.argmax, sumHigh: sums.sum.high.double, sumLow: sums.sum.low.double,
      max: narrow(sums.max), sum: narrow(sums.sum.value), rest: narrow(sums.rest.value), logSum: narrow(sums.logSum),
      logSumExp: narrow(lse), exactLogSum: lse.double, loss: loss, lossNaive: lossNaive,
      lossFromStableSoftmax: cStable.double, maskedTarget: maskedTarget, overflow: overflow)
  }
}

/// The value moved out of `storage`, which is left empty: held once, it can be written in place.
@inline(__always)
func take<V: EmptyInitializable>(_ storage: inout V) -> V {
  var taken = V()
  swap(&taken, &storage)
  return taken
}

/// A type whose empty value ``take(_:)`` leaves behind.
protocol EmptyInitializable { init() }
extension Array: EmptyInitializable {}
extension TraceMemory: EmptyInitializable {}
extension TrustedMemory: EmptyInitializable {}
extension EngineMemory: EmptyInitializable {}
extension OverflowReport.Scan: EmptyInitializable {}

/// The trace pass (see ``Engine``) in the precision's arithmetic `A`.
struct TracePass<A: LeanArithmetic, Record: TraceRecord>: ParallelJob {
  typealias V = A.Value
  let problem: Problem
  let changes: [LogitChange]
  let everything: Bool
  var memory: TraceMemory
  var scan: OverflowReport.Scan
  var record: Record
  /// Naive `σ`, the first index of `max z`, and the online recurrence's `(m, d)`.
  var sigma: V = 0
  var best = 0
  var m = -V.infinity
  var d: V = 0

  /// `z = x/τ` in `A` (`x/1` is `x`).
  @inline(__always) static func z(_ x: Double, _ tau: V) -> V {
    let r = A.round(x)
    return tau == 1 ? r : A.round(r / tau)
  }

  mutating func run() {
    let c = problem.classes
    let stride = Engine.stride
    let first = everything ? 0 : Swift.min(changes.first?.index ?? c, c - 1)
    // Nothing before the first changed logit changes: resume from the last saved state before it.
    let block = first / stride < memory.checkpoints.count ? first / stride : 0
    let start = block * stride
    let tau = A.round(problem.temperature)
    let leastNormal = problem.precision.facts.leastNormal
    // The scan's lists are in index order: keep the entries before `start`.
    Self.cut(&scan.overflowing, before: start)
    Self.cut(&scan.underflowing, before: start)
    Self.cut(&scan.subnormal, before: start)
    scan.largestOverflow = -.infinity
    if block > 0 {
      let saved = memory.checkpoints[block]
      (sigma, best, m, d) = (A.round(saved.sigma), saved.best, A.round(saved.max), A.round(saved.sum))
      for i in scan.overflowing {
        scan.largestOverflow = Swift.max(scan.largestOverflow, A.double(Self.z(problem.logits[i], tau)))
      }
    }
    var checkpoints = take(&memory.checkpoints)
    checkpoints.removeSubrange(block...)
    checkpoints.reserveCapacity(c / stride + 1)
    var terms = take(&memory)
    terms.naive.prepare(count: c, V.self)
    terms.online.prepare(count: c, V.self)
    record.prepare(count: c)
    let logits = problem.logits
    logits.withUnsafeBufferPointer { logits in
      terms.withBuffers(V.self) { naive, online in
        // The previous problem's running maximum m_{i−1}, to tell which online terms are still valid (the same as m
        // up to `start`).
        var mOld = m
        var next = 0
        for i in start..<c {
          // The state before element i, every `stride` elements.
          if i & (stride - 1) == 0 {
            checkpoints.append(TraceCheckpoint(sigma: A.double(sigma), best: best, max: A.double(m), sum: A.double(d)))
          }
          let zi = Self.z(logits[i], tau)
          var isNew = everything
          var ziOld = zi
          if !everything, next < changes.count, changes[next].index == i {
            isNew = true
            ziOld = Self.z(changes[next].old, tau)
            next += 1
          }
          // `Softmax.naive`'s term and sum.
          let e: V
          if isNew {
            e = A.exp(zi)
            naive[i] = V.store(e)
          } else {
            e = V.load(naive[i])
          }
          sigma = A.round(sigma + e)
          scan.add(index: i, z: A.double(zi), exp: A.double(e), leastNormal: leastNormal)
          // The online step of `Softmax.online`, operation by operation. Its exponential depends only on z_i and
          // m_{i−1} (which also decide the branch): when neither changed, the kept one is the one it would compute.
          let keep = !isNew && m == mOld
          if zi > m {
            if m == -V.infinity {
              d = A.round(0 + 1)
            } else {
              let f: V
              if keep {
                f = V.load(online[i])
              } else {
                f = A.exp(A.round(m - zi))
                online[i] = V.store(f)
              }
              d = A.round(A.round(d * f) + 1)
            }
            m = zi
            best = i
          } else if zi != -V.infinity {
            let t: V
            if keep {
              t = V.load(online[i])
            } else {
              t = A.exp(A.round(zi - m))
              online[i] = V.store(t)
            }
            d = A.round(d + t)
          }
          if ziOld > mOld { mOld = ziOld }
          record.record(i, z: A.double(zi), exp: A.double(e), max: A.double(m), sum: A.double(d))
        }
      }
    }
    record.finish(sigma: sigma, max: m, sum: d, A.self)
    memory = take(&terms)
    memory.checkpoints = take(&checkpoints)
  }

  /// Drops the entries from `start` on of an ascending list of indices, in place.
  static func cut(_ indices: inout [Int], before start: Int) {
    if let k = indices.firstIndex(where: { $0 >= start }) { indices.removeSubrange(k...) }
  }
}

/// The trusted pass (see ``Engine``) in `W`, for precision `T`.
struct TrustedPass<T: SoftmaxScalar, W: WideScalar, Record: TrustedRecord>: ParallelJob {
  let problem: Problem
  let changes: [LogitChange]
  let everything: Bool
  var memory: TrustedMemory<W>
  var record: Record
  var sums = Engine.Sums<W>()

  mutating func run() {
    let c = problem.classes
    let stride = Engine.stride
    let tauW = W(rounding: problem.temperature)
    let logits = problem.logits
    logits.withUnsafeBufferPointer { logits in
      @inline(__always) func z(_ i: Int) -> W { W(rounding: logits[i]) / tauW }
      // `Softmax.argmax`: the first largest z.
      for i in 0..<c where z(i) > sums.max {
        sums.max = z(i)
        sums.argmax = i
      }
      let m = sums.max
      let k = sums.argmax
      record.prepare(count: c)
      // With M the same, the terms of unchanged logits are kept and the sums resume before the first changed term,
      // or before the old or the new argmax if it moved (the index left out of `rest`); otherwise every term is
      // computed again.
      let kept = !everything && memory.exps.count == c && memory.max == m && memory.max.sign == m.sign
      if memory.exps.count != c { memory.exps = [W](repeating: 0, count: c) }
      @inline(__always) func compute(_ i: Int) {
        // `Softmax.stable`'s term: e^{z_i − M} for the exact difference.
        let (d, e) = Softmax.shiftedExp(z(i), m)
        memory.exps[i] = e
        record.term(i, shifted: d, exp: e, T.self)
      }
      if kept {
        for change in changes { compute(change.index) }
      } else {
        for i in 0..<c { compute(i) }
      }
      let first = changes.first?.index ?? c
      let resumeAt = Swift.min(k == memory.argmax ? first : Swift.min(first, k, memory.argmax), c - 1)
      let block = kept && resumeAt / stride < memory.sums.count ? resumeAt / stride : 0
      if block > 0 { (sums.sum, sums.rest) = memory.sums[block] }
      memory.sums.removeSubrange(block...)
      memory.sums.reserveCapacity(c / stride + 1)
      for i in (block * stride)..<c {
        if i & (stride - 1) == 0 { memory.sums.append((sums.sum, sums.rest)) }
        // `Softmax.stable`'s sum, and `Softmax.logSumExp(stable:)`'s.
        let e = memory.exps[i]
        sums.sum.add(e)
        if i != k { sums.rest.add(e) }
      }
      sums.logSum = sums.rest.logOnePlus
      memory.max = m
      memory.argmax = k
      record.finish(sums, memory: &memory, problem: problem, logits: logits, T.self)
    }
  }
}
