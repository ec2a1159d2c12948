import RealModule

extension Evaluation {
  /// Makes this the evaluation of `newProblem` (validated, with the same number of classes and precision), writing
  /// every number into the arrays this evaluation already holds, so that an update allocates nothing.
  ///
  /// The numbers are bit for bit those of `Evaluation(newProblem)`: each is computed by the same operations in the same
  /// order (the tests compare every field after chains of random edits). The step loss is always computed (never
  /// deferred). From ``parallelThreshold`` classes the two halves run side by side, as in ``init(_:)``. Returns false
  /// and leaves `self` alone when the update cannot be done in place: a different size or precision.
  public mutating func update(to newProblem: Problem) -> Bool {
    guard accepts(newProblem) else { return false }
    // The evaluation keeps its own copy of the logits, written over in place: sharing the caller's array would make
    // the caller's next edit copy it. (When the caller's array is this copy, there is nothing to write.)
    var own = Evaluation.take(&problem.logits)
    let same = own.withUnsafeBufferPointer { a in
      newProblem.logits.withUnsafeBufferPointer { a.baseAddress == $0.baseAddress }
    }
    if !same {
      for i in 0..<own.count { own[i] = newProblem.logits[i] }
    }
    problem = newProblem
    problem.logits = own
    recompute()
    return true
  }

  /// Sets logit `i` to `x` (already validated for this problem's precision, see ``Problem/validatedLogit(_:at:)``)
  /// and recomputes in place, as ``update(to:)`` does.
  public mutating func update(logit i: Int, to x: Double) {
    problem.logits[i] = x
    recompute()
  }

  /// Whether ``update(to:)`` can work in place for `newProblem`.
  private func accepts(_ newProblem: Problem) -> Bool {
    newProblem.classes == problem.classes && newProblem.precision == problem.precision
  }

  /// Recomputes every number for `problem` (whose logits have been written) in place.
  private mutating func recompute() {
    /// Takes the evaluation over for the recomputation, so that its arrays are held once.
    struct Recompute: PrecisionBody {
      let evaluation: UnsafeMutablePointer<Evaluation>
      func callAsFunction<T: PrecisionScalar>(_: T.Type) {
        if evaluation.pointee.problem.classes <= Evaluation.wideLimit {
          evaluation.pointee.recompute(T.self, T.Wide.self)
        } else {
          evaluation.pointee.recompute(T.self, Double.self)
        }
      }
    }
    let precision = problem.precision
    // Through a pointer: a copy of the evaluation would make every array it holds be copied on its first write.
    withUnsafeMutablePointer(to: &self) { precision.open(Recompute(evaluation: $0)) }
  }

  /// ``init(_:)``'s trusted path and traces, one class at a time, into the existing storage; side by side from
  /// ``parallelThreshold`` classes, as in ``init(_:)``. The intermediate vectors of `T` are not kept: every value of
  /// `T` is exact in `Double`, so each is read back from the `Double` array it was written to. Those of `W` that are
  /// read in a later pass (the exponentials and the probabilities) are kept in `wide`.
  private mutating func recompute<T: SoftmaxScalar, W: WideScalar>(_: T.Type, _: W.Type) {
    let p = problem
    let c = p.classes
    var trusted = TrustedPass<T, W>(
      problem: p, shifted: Evaluation.take(&stable.shifted), stableExps: Evaluation.take(&stable.exps),
      stableProbabilities: Evaluation.take(&stable.probabilities), expsW: [], probsW: [],
      logSoftmax: Evaluation.take(&logSoftmax), gradient: Evaluation.take(&gradient),
      stepped: Evaluation.take(&updatedLogits))
    // Moved straight into the pass, so that the pass holds them once.
    (trusted.expsW, trusted.probsW) = W.takeScratch(&wide)
    if trusted.expsW.count != c {
      trusted.expsW = [W](repeating: 0, count: c)
      trusted.probsW = [W](repeating: 0, count: c)
    }
    var traces = TracePass<T>(
      problem: p, z: Evaluation.take(&scaled), target: Evaluation.take(&targetDistribution),
      naiveExps: Evaluation.take(&naive.exps), naiveProbabilities: Evaluation.take(&naive.probabilities),
      runningMax: Evaluation.take(&online.runningMax), runningSum: Evaluation.take(&online.runningSum),
      onlineProbabilities: Evaluation.take(&online.probabilities), scan: OverflowReport.Scan(reusing: &overflow))
    Parallel.both(&trusted, &traces, concurrently: c >= Evaluation.parallelThreshold)
    func narrow(_ v: W) -> Double { T(converting: v).double }

    stable = StableTrace(
      max: narrow(trusted.m), argmax: trusted.k, shifted: trusted.shifted, exps: trusted.stableExps,
      sum: narrow(trusted.sum.value), probabilities: trusted.stableProbabilities)
    logSumExp = LogSumExp(
      max: narrow(trusted.m), argmax: trusted.k, rest: narrow(trusted.rest.value), logSum: narrow(trusted.logSum),
      value: narrow(trusted.lseValue))
    logSoftmax = trusted.logSoftmax
    loss = narrow(trusted.loss)
    gradient = trusted.gradient
    updatedLogits = trusted.stepped
    refusal = trusted.refusal
    stepLoss = .value(trusted.stepLoss)

    // `CrossEntropy.lossFromProbabilities` with the stable softmax rounded into T (needs both passes).
    let y = TargetEntries<T>(p.targetSpec, classes: c)
    var lossS: T = 0
    for i in 0..<c where y[i] != 0 {
      lossS -= y[i] * T.log(T(converting: trusted.probsW[i]))
    }
    lossFromStableSoftmax = Double(lossS)
    lossNaive = Double(traces.lossNaive)
    online = OnlineTrace(
      runningMax: traces.runningMax, runningSum: traces.runningSum, probabilities: traces.onlineProbabilities)
    let z = traces.z
    overflow = OverflowReport(
      traces.scan, count: c, z: { z[$0] }, precision: p.precision,
      exactLogSum: p.temperature == 1 ? trusted.lseValue.double : nil)
    maskedTarget = nil
    for i in 0..<c where y[i] != 0 && z[i] == -.infinity {
      maskedTarget = i
      break
    }
    naive = NaiveTrace(exps: traces.naiveExps, sum: Double(traces.naiveSum), probabilities: traces.naiveProbabilities)
    overflow.judgeAccuracy(naiveLoss: lossNaive, loss: loss)
    scaled = traces.z
    targetDistribution = traces.target
    wide = W.scratch(trusted.expsW, trusted.probsW)
  }

  /// The array, moved out of `storage` (left empty) so that it is held once and can be written in place.
  @inline(__always)
  private static func take<E>(_ storage: inout [E]) -> [E] {
    var taken: [E] = []
    swap(&taken, &storage)
    return taken
  }
}

/// The trusted path of ``Evaluation/update(to:)`` in W (see `Evaluation.trusted`), writing into arrays it holds.
private struct TrustedPass<T: SoftmaxScalar, W: WideScalar>: ParallelJob {
  let problem: Problem
  var shifted: [Double]
  var stableExps: [Double]
  var stableProbabilities: [Double]
  var expsW: [W]
  var probsW: [W]
  var logSoftmax: [Double]
  var gradient: [Double]
  var stepped: [Double]
  var m = -W.infinity
  var k = 0
  var sum = CompensatedSum<W>()
  var rest = CompensatedSum<W>()
  var logSum: W = 0
  var lseValue: W = 0
  var loss: W = 0
  var refusal: StepRefusal? = nil
  var stepLoss = Double.nan

  mutating func run() {
    let p = problem
    let c = p.classes
    // Through a pointer: the two passes share this array, and retaining it in their loops would make them
    // fight over its reference count.
    p.logits.withUnsafeBufferPointer { logits in
      func narrow(_ v: W) -> Double { T(converting: v).double }
      let tauW = W(rounding: p.temperature)
      @inline(__always) func zW(_ i: Int) -> W { W(rounding: logits[i]) / tauW }
      let yW = TargetEntries<W>(p.targetSpec, classes: c)
      // `Softmax.stable`.
      for i in 0..<c where zW(i) > m {
        m = zW(i)
        k = i
      }
      for i in 0..<c {
        let (d, err) = twoSum(zW(i), -m)
        let e = expCompensated(d, err)
        shifted[i] = narrow(d)
        expsW[i] = e
        stableExps[i] = narrow(e)
        sum.add(e)
      }
      for i in 0..<c {
        probsW[i] = sum.divide(expsW[i])
        stableProbabilities[i] = narrow(probsW[i])
      }
      // `Softmax.logSumExp(stable:)`.
      for j in 0..<c where j != k { rest.add(expsW[j]) }
      logSum = W.log(onePlus: rest.high) + rest.low / (1 + rest.high)
      lseValue = m + logSum
      // `Softmax.logSoftmax`.
      for i in 0..<c { logSoftmax[i] = narrow((zW(i) - m) - logSum) }
      // `CrossEntropy.stableLoss`.
      var gap = CompensatedSum<W>()
      var mass = CompensatedSum<W>()
      for i in 0..<c where yW[i] != 0 {
        let (d, err) = twoSum(m, -zW(i))
        gap.add(yW[i] * d)
        gap.add(yW[i] * err)
        mass.add(yW[i])
      }
      loss = gap.high + (gap.low + mass.value * logSum)
      // `CrossEntropy.accurateGradient`, rounded once into T.
      let gW = W(rounding: p.upstream)
      for n in 0..<c {
        let yn = yW[n]
        var diff = probsW[n] - yn
        if yn >= 0.5 {
          var others = CompensatedSum<W>()
          for j in 0..<c where j != n { others.add(probsW[j]) }
          diff = (1 - yn) - others.value
        }
        gradient[n] = T(converting: gW * diff / tauW).double
      }
      // The step `x − η·∇`, rounded once into T, and the loss after it.
      let tau = T(rounding: p.temperature)
      let eta = W(rounding: p.learningRate)
      for n in 0..<c {
        let xn = T(rounding: logits[n])
        let gn = T(rounding: gradient[n])
        let next = T(converting: W(converting: xn) - eta * W(converting: gn))
        stepped[n] = next.double
        if xn.isFinite && !next.isFinite && refusal == nil {
          refusal = .logit(n, x: xn.double, gradient: gn.double, precision: p.precision)
        }
      }
      if refusal == nil, (0..<c).contains(where: { T(rounding: stepped[$0]) / tau == .infinity }) {
        refusal = .scaled(p.precision)
      }
      if refusal == nil {
        let after = Evaluation.streamingLoss(count: c) {
          W(converting: T(rounding: stepped[$0])) / tauW
        } y: {
          yW[$0]
        }
        stepLoss = T(converting: after).double
      }
    }
  }
}

/// The traces of ``Evaluation/update(to:)`` in T (see `Evaluation.traces`), writing into arrays it holds.
private struct TracePass<T: SoftmaxScalar>: ParallelJob {
  let problem: Problem
  var z: [Double]
  var target: [Double]
  var naiveExps: [Double]
  var naiveProbabilities: [Double]
  var runningMax: [Double]
  var runningSum: [Double]
  var onlineProbabilities: [Double]
  var scan: OverflowReport.Scan
  var naiveSum: T = 0
  var lossNaive: T = 0

  mutating func run() {
    let p = problem
    let c = p.classes
    // Through a pointer: the two passes share this array, and retaining it in their loops would make them
    // fight over its reference count.
    p.logits.withUnsafeBufferPointer { logits in
      let tau = T(rounding: p.temperature)
      let y = TargetEntries<T>(p.targetSpec, classes: c)
      for i in 0..<c {
        let x = T(rounding: logits[i])
        z[i] = (tau == 1 ? x : x / tau).double
        target[i] = y[i].double
      }
      // `Softmax.naive`.
      for i in 0..<c {
        let e = T.exp(T(rounding: z[i]))
        naiveSum += e
        naiveExps[i] = e.double
      }
      for i in 0..<c { naiveProbabilities[i] = (T(rounding: naiveExps[i]) / naiveSum).double }
      // `Softmax.online`.
      var m = -T.infinity
      var d: T = 0
      for j in 0..<c {
        let zj = T(rounding: z[j])
        if zj > m {
          d = (m == -T.infinity ? 0 : d * T.exp(m - zj)) + 1
          m = zj
        } else if zj != -T.infinity {
          d += T.exp(zj - m)
        }
        runningMax[j] = m.double
        runningSum[j] = d.double
      }
      for i in 0..<c { onlineProbabilities[i] = (T.exp(T(rounding: z[i]) - m) / d).double }
      // `CrossEntropy.lossFromProbabilities` with the naive softmax.
      for i in 0..<c where y[i] != 0 {
        lossNaive -= y[i] * T.log(T(rounding: naiveProbabilities[i]))
      }
      // `OverflowReport.Scan(z:naive:precision:)`.
      let leastNormal = p.precision.facts.leastNormal
      var k = 0
      var zk = -T.infinity
      for i in 0..<c {
        scan.add(index: i, z: z[i], exp: naiveExps[i], leastNormal: leastNormal)
        if T(rounding: z[i]) > zk {
          zk = T(rounding: z[i])
          k = i
        }
      }
      scan.sum = naiveSum.double
      scan.largest = (zk.double, naiveExps[k])
    }
  }
}

/// Where an evaluation keeps the per-class values of its wide format between updates.
enum WideScratch: Sendable {
  case none
  case double(exps: [Double], probabilities: [Double])
  #if arch(x86_64) || arch(i386)
    case float80(exps: [Float80], probabilities: [Float80])
  #endif
}

/// A format the trusted path computes in, with its place in ``WideScratch``.
protocol WideScalar: SoftmaxScalar {
  /// The arrays kept for this format (moved out, leaving `.none`), or empty ones.
  static func takeScratch(_ scratch: inout WideScratch) -> (exps: [Self], probabilities: [Self])
  static func scratch(_ exps: [Self], _ probabilities: [Self]) -> WideScratch
}

extension Double: WideScalar {
  static func takeScratch(_ scratch: inout WideScratch) -> (exps: [Double], probabilities: [Double]) {
    defer { scratch = .none }
    if case .double(let e, let p) = scratch { return (e, p) }
    return ([], [])
  }
  static func scratch(_ exps: [Double], _ probabilities: [Double]) -> WideScratch {
    .double(exps: exps, probabilities: probabilities)
  }
}

#if arch(x86_64) || arch(i386)
  extension Float80: WideScalar {
    static func takeScratch(_ scratch: inout WideScratch) -> (exps: [Float80], probabilities: [Float80]) {
      defer { scratch = .none }
      if case .float80(let e, let p) = scratch { return (e, p) }
      return ([], [])
    }
    static func scratch(_ exps: [Float80], _ probabilities: [Float80]) -> WideScratch {
      .float80(exps: exps, probabilities: probabilities)
    }
  }
#endif
