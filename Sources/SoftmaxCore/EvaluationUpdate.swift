import RealModule

extension Evaluation {
  /// Makes this the evaluation of `newProblem` (validated, with the same number of classes and precision), writing
  /// every number into the arrays this evaluation already holds, so that an edit in the explorer allocates nothing.
  ///
  /// The numbers are bit for bit those of `Evaluation(newProblem)`: each is computed by the same operations in the same
  /// order (the tests compare every field after chains of random edits). The step loss is always computed (never
  /// deferred). Returns false and leaves `self` alone when the update cannot be done in place: a different size or
  /// precision, or from ``parallelThreshold`` classes on, where the two halves of an evaluation run side by side.
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
  /// and recomputes in place, as ``update(to:)`` does; false when the evaluation cannot be updated in place (then
  /// nothing changed).
  public mutating func update(logit i: Int, to x: Double) -> Bool {
    guard problem.classes < Evaluation.parallelThreshold else { return false }
    problem.logits[i] = x
    recompute()
    return true
  }

  /// Whether ``update(to:)`` can work in place for `newProblem`.
  private func accepts(_ newProblem: Problem) -> Bool {
    newProblem.classes == problem.classes && newProblem.precision == problem.precision
      && newProblem.classes < Evaluation.parallelThreshold
  }

  /// Recomputes every number for `problem` (whose logits have been written) in place.
  private mutating func recompute() {
    switch problem.precision {
    case .float64:
      #if arch(x86_64) || arch(i386)
        if problem.classes <= Evaluation.wideLimit {
          recompute(Double.self, Float80.self)
          return
        }
      #endif
      recompute(Double.self, Double.self)
    case .float32: recompute(Float.self, Double.self)
    case .bfloat16: recompute(BFloat16.self, Double.self)
    case .float16: recompute(Float16.self, Double.self)
    }
  }

  /// ``init(_:)``'s trusted path and traces, one class at a time, into the existing storage. The intermediate vectors
  /// of `T` are not kept: every value of `T` is exact in `Double`, so each is read back from the `Double` array it was
  /// written to. Those of `W` that are read in a later pass (the exponentials and the probabilities) are kept in
  /// `wide`.
  private mutating func recompute<T: SoftmaxScalar, W: WideScalar>(_: T.Type, _: W.Type) {
    let p = problem
    let c = p.classes
    let logits = p.logits
    var (expsW, probsW) = W.takeScratch(&wide)
    if expsW.count != c {
      expsW = [W](repeating: 0, count: c)
      probsW = [W](repeating: 0, count: c)
    }
    func narrow(_ v: W) -> Double { T(converting: v).double }

    // MARK: Trusted path, in W (see `trusted`)
    let tauW = W(rounding: p.temperature)
    @inline(__always) func zW(_ i: Int) -> W { W(rounding: logits[i]) / tauW }
    let yW = TargetEntries<W>(p.targetSpec, classes: c)
    // `Softmax.stable`.
    var k = 0
    var m = -W.infinity
    for i in 0..<c where zW(i) > m {
      m = zW(i)
      k = i
    }
    var shifted = Evaluation.take(&stable.shifted)
    var stableExps = Evaluation.take(&stable.exps)
    var stableProbabilities = Evaluation.take(&stable.probabilities)
    var sum = CompensatedSum<W>()
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
    stable = StableTrace(
      max: narrow(m), argmax: k, shifted: shifted, exps: stableExps, sum: narrow(sum.value),
      probabilities: stableProbabilities)
    // `Softmax.logSumExp(stable:)`.
    var rest = CompensatedSum<W>()
    for j in 0..<c where j != k { rest.add(expsW[j]) }
    let logSum = W.log(onePlus: rest.high) + rest.low / (1 + rest.high)
    let lseValue = m + logSum
    logSumExp = LogSumExp(
      max: narrow(m), argmax: k, rest: narrow(rest.value), logSum: narrow(logSum), value: narrow(lseValue))
    // `Softmax.logSoftmax`.
    var logS = Evaluation.take(&logSoftmax)
    for i in 0..<c { logS[i] = narrow((zW(i) - m) - logSum) }
    logSoftmax = logS
    // `CrossEntropy.stableLoss`.
    var gap = CompensatedSum<W>()
    var mass = CompensatedSum<W>()
    for i in 0..<c where yW[i] != 0 {
      let (d, err) = twoSum(m, -zW(i))
      gap.add(yW[i] * d)
      gap.add(yW[i] * err)
      mass.add(yW[i])
    }
    loss = narrow(gap.high + (gap.low + mass.value * logSum))
    // `CrossEntropy.accurateGradient`, rounded once into T.
    let gW = W(rounding: p.upstream)
    var grad = Evaluation.take(&gradient)
    for n in 0..<c {
      let yn = yW[n]
      var diff = probsW[n] - yn
      if yn >= 0.5 {
        var others = CompensatedSum<W>()
        for j in 0..<c where j != n { others.add(probsW[j]) }
        diff = (1 - yn) - others.value
      }
      grad[n] = T(converting: gW * diff / tauW).double
    }
    // The step `x − η·∇`, rounded once into T.
    let tau = T(rounding: p.temperature)
    let eta = W(rounding: p.learningRate)
    var stepped = Evaluation.take(&updatedLogits)
    var refusal: String? = nil
    for n in 0..<c {
      let xn = T(rounding: logits[n])
      let gn = T(rounding: grad[n])
      let next = T(converting: W(converting: xn) - eta * W(converting: gn))
      stepped[n] = next.double
      if xn.isFinite && !next.isFinite && refusal == nil {
        refusal = Evaluation.refusalMessage(logit: n, x: xn.double, gradient: gn.double, precision: p.precision)
      }
    }
    if refusal == nil, (0..<c).contains(where: { T(rounding: stepped[$0]) / tau == .infinity }) {
      refusal = Evaluation.scaledRefusalMessage(p.precision)
    }
    if refusal == nil {
      let after = Evaluation.streamingLoss(count: c) {
        W(converting: T(rounding: stepped[$0])) / tauW
      } y: {
        yW[$0]
      }
      stepLoss = .value(T(converting: after).double)
    } else {
      stepLoss = .value(.nan)
    }
    gradient = grad
    updatedLogits = stepped
    stepRefusal = refusal

    // MARK: Traces, in T (see `traces`)
    let y = TargetEntries<T>(p.targetSpec, classes: c)
    var z = Evaluation.take(&scaled)
    var target = Evaluation.take(&targetDistribution)
    for i in 0..<c {
      let x = T(rounding: logits[i])
      z[i] = (tau == 1 ? x : x / tau).double
      target[i] = y[i].double
    }
    // `Softmax.naive`.
    var naiveExps = Evaluation.take(&naive.exps)
    var naiveProbabilities = Evaluation.take(&naive.probabilities)
    var naiveSum: T = 0
    for i in 0..<c {
      let e = T.exp(T(rounding: z[i]))
      naiveSum += e
      naiveExps[i] = e.double
    }
    for i in 0..<c { naiveProbabilities[i] = (T(rounding: naiveExps[i]) / naiveSum).double }
    // `Softmax.online`.
    var runningMax = Evaluation.take(&online.runningMax)
    var runningSum = Evaluation.take(&online.runningSum)
    var onlineProbabilities = Evaluation.take(&online.probabilities)
    var om = -T.infinity
    var od: T = 0
    for j in 0..<c {
      let zj = T(rounding: z[j])
      if zj > om {
        od = (om == -T.infinity ? 0 : od * T.exp(om - zj)) + 1
        om = zj
      } else if zj != -T.infinity {
        od += T.exp(zj - om)
      }
      runningMax[j] = om.double
      runningSum[j] = od.double
    }
    for i in 0..<c { onlineProbabilities[i] = (T.exp(T(rounding: z[i]) - om) / od).double }
    online = OnlineTrace(runningMax: runningMax, runningSum: runningSum, probabilities: onlineProbabilities)
    // `CrossEntropy.lossFromProbabilities` with the naive softmax, and with the stable one rounded into T.
    var lossN: T = 0
    var lossS: T = 0
    for i in 0..<c where y[i] != 0 {
      lossN -= y[i] * T.log(T(rounding: naiveProbabilities[i]))
    }
    for i in 0..<c where y[i] != 0 {
      lossS -= y[i] * T.log(T(converting: probsW[i]))
    }
    lossNaive = Double(lossN)
    lossFromStableSoftmax = Double(lossS)
    // `OverflowReport.Scan(z:naive:precision:)`, in the old report's index arrays.
    var scan = OverflowReport.Scan(reusing: &overflow)
    let leastNormal = p.precision.facts.leastNormal
    var kz = 0
    var zk = -T.infinity
    for i in 0..<c {
      scan.add(index: i, z: z[i], exp: naiveExps[i], leastNormal: leastNormal)
      if T(rounding: z[i]) > zk {
        zk = T(rounding: z[i])
        kz = i
      }
    }
    scan.sum = naiveSum.double
    scan.largest = (zk.double, naiveExps[kz])
    overflow = OverflowReport(
      scan, count: c, z: { z[$0] }, precision: p.precision,
      exactLogSum: p.temperature == 1 ? lseValue.double : nil)
    lossNote = nil
    for i in 0..<c where y[i] != 0 && T(rounding: z[i]) == -.infinity {
      lossNote = Evaluation.maskedTargetNote(i)
      break
    }
    naive = NaiveTrace(exps: naiveExps, sum: Double(naiveSum), probabilities: naiveProbabilities)
    scaled = z
    targetDistribution = target
    wide = W.scratch(expsW, probsW)
  }

  /// The array, moved out of `storage` (left empty) so that it is held once and can be written in place.
  @inline(__always)
  private static func take<E>(_ storage: inout [E]) -> [E] {
    var taken: [E] = []
    swap(&taken, &storage)
    return taken
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
