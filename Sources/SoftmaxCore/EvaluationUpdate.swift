import RealModule

extension Evaluation {
  /// Makes this the evaluation of `newProblem` (validated, with the same number of classes and precision), writing
  /// every number into the arrays this evaluation already holds, so that an update allocates nothing.
  ///
  /// The numbers are bit for bit those of `Evaluation(newProblem)`: the engine recomputes only the exponentials the
  /// change affects and takes every other operation again in the same order (the tests compare every field after
  /// chains of random edits). The step loss is always computed (never deferred). Returns false and leaves `self` alone
  /// when the update cannot be done in place: a different size or precision.
  public mutating func update(to newProblem: Problem) -> Bool {
    guard newProblem.classes == problem.classes, newProblem.precision == problem.precision else { return false }
    if newProblem.temperature.bitPattern != problem.temperature.bitPattern {
      memory.willChangeEverything()
    } else {
      memory.willChange(logits: problem.logits, to: newProblem.logits)
    }
    // The evaluation keeps its own copy of the logits, written over in place: sharing the caller's array would make
    // the caller's next edit copy it. (When the caller's array is this copy, there is nothing to write.)
    var own = take(&problem.logits)
    let same = own.withUnsafeBufferPointer { a in
      newProblem.logits.withUnsafeBufferPointer { a.baseAddress == $0.baseAddress }
    }
    if !same {
      for i in 0..<own.count { own[i] = newProblem.logits[i] }
    }
    problem = newProblem
    problem.logits = own
    recompute(deferStepLoss: false)
    return true
  }

  /// Sets logit `i` to `x` (already validated for this problem's precision, see ``Problem/validatedLogit(_:at:)``)
  /// and recomputes in place, as ``update(to:)`` does.
  public mutating func update(logit i: Int, to x: Double) {
    memory.willChange(logit: i, from: problem.logits[i], to: x)
    problem.logits[i] = x
    recompute(deferStepLoss: false)
  }

  /// Gives this evaluation the target and knobs of `settings` (validated, with this evaluation's logits, class count
  /// and precision) and recomputes in place, as ``update(to:)`` does: with the same temperature every exponential is
  /// kept and only the losses, gradient and step change; a new temperature changes every `z`. Returns false and leaves
  /// `self` alone for a different size or precision.
  public mutating func update(settingsOf settings: Problem) -> Bool {
    guard settings.classes == problem.classes, settings.precision == problem.precision else { return false }
    if settings.temperature.bitPattern == problem.temperature.bitPattern {
      memory.willChangeNothing()
    } else {
      memory.willChangeEverything()
    }
    let own = take(&problem.logits)
    problem = settings
    problem.logits = own  // this evaluation's own copy, unchanged
    recompute(deferStepLoss: false)
    return true
  }

  /// Sets every logit to those of `logits` (validated for this problem's precision, the same count), nothing else
  /// changing, and recomputes in place: a gradient step, which moves every logit, so every term is computed again.
  public mutating func update(logits: [Double]) {
    precondition(logits.count == problem.classes, "a step keeps the class count")
    memory.willChangeEverything()
    for i in 0..<logits.count { problem.logits[i] = logits[i] }
    recompute(deferStepLoss: false)
  }

  /// Runs the engine for `problem` (whose logits have been written, and the change noted in `memory`) in place.
  mutating func recompute(deferStepLoss: Bool) {
    /// Takes the evaluation over for the run, so that its arrays are held once.
    struct Recompute: PrecisionBody {
      let evaluation: UnsafeMutablePointer<Evaluation>
      let deferStepLoss: Bool
      func callAsFunction<T: PrecisionScalar>(_: T.Type) {
        if evaluation.pointee.problem.classes <= Evaluation.wideLimit {
          evaluation.pointee.recompute(T.self, T.Wide.self, deferStepLoss: deferStepLoss)
        } else {
          evaluation.pointee.recompute(T.self, Double.self, deferStepLoss: deferStepLoss)
        }
      }
    }
    let precision = problem.precision
    // Through a pointer: a copy of the evaluation would make every array it holds be copied on its first write.
    withUnsafeMutablePointer(to: &self) { precision.open(Recompute(evaluation: $0, deferStepLoss: deferStepLoss)) }
  }

  private mutating func recompute<T: PrecisionScalar, W: WideScalar>(_: T.Type, _: W.Type, deferStepLoss: Bool) {
    stepLoss = .value(.nan)  // a deferred step loss holds the stepped logits: let it go before they are written
    var trace = TraceArrays(
      z: take(&scaled), target: take(&targetDistribution), naiveExps: take(&naive.exps),
      naiveProbabilities: take(&naive.probabilities), runningMax: take(&online.runningMax),
      runningSum: take(&online.runningSum), onlineProbabilities: take(&online.probabilities))
    var trusted = TrustedArrays(
      shifted: take(&stable.shifted), exps: take(&stable.exps), probabilities: take(&stable.probabilities),
      logSoftmax: take(&logSoftmax), gradient: take(&gradient), stepped: take(&updatedLogits),
      deferStepLoss: deferStepLoss)
    let r = Engine.run(
      problem, memory: &memory, lists: OverflowReport.Scan(lists: &overflow), trace: &trace, trusted: &trusted,
      concurrently: true, T.self, W.self)
    // The target distribution in T, written after the run (only the losses need it within).
    let y = TargetEntries<T>(problem.targetSpec, classes: problem.classes)
    for i in 0..<problem.classes { trace.target[i] = y[i].double }

    scaled = take(&trace.z)
    targetDistribution = take(&trace.target)
    naive = NaiveTrace(
      exps: take(&trace.naiveExps), sum: r.naiveSum, probabilities: take(&trace.naiveProbabilities))
    online = OnlineTrace(
      runningMax: take(&trace.runningMax), runningSum: take(&trace.runningSum),
      probabilities: take(&trace.onlineProbabilities))
    stable = StableTrace(
      max: r.max, argmax: r.argmax, shifted: take(&trusted.shifted), exps: take(&trusted.exps), sum: r.sum,
      probabilities: take(&trusted.probabilities))
    logSumExp = LogSumExp(max: r.max, argmax: r.argmax, rest: r.rest, logSum: r.logSum, value: r.logSumExp)
    logSoftmax = take(&trusted.logSoftmax)
    loss = r.loss
    lossNaive = r.lossNaive
    lossFromStableSoftmax = r.lossFromStableSoftmax
    maskedTarget = r.maskedTarget
    gradient = take(&trusted.gradient)
    updatedLogits = take(&trusted.stepped)
    refusal = trusted.refusal
    stepLoss = trusted.stepLoss
    overflow = r.overflow
  }
}

/// The trace pass's per-class arrays of an ``Evaluation`` (values of the precision, held as `Double`).
struct TraceArrays: TraceRecord {
  var z: [Double] = []
  var target: [Double] = []
  var naiveExps: [Double] = []
  var naiveProbabilities: [Double] = []
  var runningMax: [Double] = []
  var runningSum: [Double] = []
  var onlineProbabilities: [Double] = []

  mutating func prepare(count: Int) {
    guard z.count != count else { return }
    for keyPath in [
      \Self.z, \.target, \.naiveExps, \.naiveProbabilities, \.runningMax, \.runningSum, \.onlineProbabilities,
    ] {
      self[keyPath: keyPath] = [Double](repeating: 0, count: count)
    }
  }

  @inline(__always)
  mutating func record(_ i: Int, z zi: Double, exp: Double, max: Double, sum: Double) {
    z[i] = zi
    naiveExps[i] = exp
    runningMax[i] = max
    runningSum[i] = sum
  }

  mutating func finish<A: LeanArithmetic>(sigma: A.Value, max m: A.Value, sum d: A.Value, _: A.Type) {
    // `Softmax.naive`'s and `Softmax.online`'s probabilities.
    for i in z.indices {
      naiveProbabilities[i] = A.double(A.round(A.round(naiveExps[i]) / sigma))
      onlineProbabilities[i] = A.double(A.round(A.exp(A.round(A.round(z[i]) - m)) / d))
    }
  }
}

/// The trusted pass's per-class arrays of an ``Evaluation`` (rounded into the precision, held as `Double`), and the
/// gradient step.
struct TrustedArrays: TrustedRecord {
  var shifted: [Double] = []
  var exps: [Double] = []
  var probabilities: [Double] = []
  var logSoftmax: [Double] = []
  var gradient: [Double] = []
  var stepped: [Double] = []
  /// Compute the loss after the step when it is first read, not in the pass.
  var deferStepLoss = false
  var refusal: StepRefusal? = nil
  var stepLoss = StepLoss.value(.nan)

  mutating func prepare(count: Int) {
    guard shifted.count != count else { return }
    for keyPath in [\Self.shifted, \.exps, \.probabilities, \.logSoftmax, \.gradient, \.stepped] {
      self[keyPath: keyPath] = [Double](repeating: 0, count: count)
    }
  }

  @inline(__always)
  mutating func term<T: SoftmaxScalar, W: SoftmaxScalar>(_ i: Int, shifted d: W, exp e: W, _: T.Type) {
    shifted[i] = T(converting: d).double
    exps[i] = T(converting: e).double
  }

  /// The probabilities, log-softmax, gradient and step (`Softmax.stable`, `Softmax.logSoftmax`,
  /// `CrossEntropy.accurateGradient` in W, each rounded once into T), and the loss after the step.
  mutating func finish<T: SoftmaxScalar, W: WideScalar>(
    _ sums: Engine.Sums<W>, memory: inout TrustedMemory<W>, problem p: Problem, logits: UnsafeBufferPointer<Double>,
    _: T.Type
  ) {
    let c = logits.count
    func narrow(_ v: W) -> Double { T(converting: v).double }
    let tauW = W(rounding: p.temperature)
    if memory.probabilities.count != c { memory.probabilities = [W](repeating: 0, count: c) }
    for i in 0..<c {
      let s = sums.sum.divide(memory.exps[i])
      memory.probabilities[i] = s
      probabilities[i] = narrow(s)
      logSoftmax[i] = narrow((W(rounding: logits[i]) / tauW - sums.max) - sums.logSum)
    }
    // `CrossEntropy.accurateGradient`, rounded once into T.
    let yW = TargetEntries<W>(p.targetSpec, classes: c)
    let gW = W(rounding: p.upstream)
    memory.probabilities.withUnsafeBufferPointer { probs in
      for n in 0..<c { gradient[n] = T(converting: gW * CrossEntropy.difference(probs, yW[n], at: n) / tauW).double }
    }
    // The step `x − η·∇`, rounded once into T (a finite logit must stay finite), and the loss after it.
    let tau = T(rounding: p.temperature)
    let eta = W(rounding: p.learningRate)
    refusal = nil
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
    guard refusal == nil else {
      stepLoss = .value(.nan)
      return
    }
    if deferStepLoss {
      let step = stepped
      stepLoss = .deferred(Deferred(now: false) { Self.stepLoss(p, step, T.self, W.self) })
    } else {
      stepLoss = .value(Self.stepLoss(p, stepped, T.self, W.self))
    }
  }

  /// The stable loss at the stepped logits, in W, rounded once into T.
  private static func stepLoss<T: SoftmaxScalar, W: SoftmaxScalar>(
    _ p: Problem, _ stepped: [Double], _: T.Type, _: W.Type
  ) -> Double {
    let tauW = W(rounding: p.temperature)
    let yW = TargetEntries<W>(p.targetSpec, classes: stepped.count)
    return stepped.withUnsafeBufferPointer { stepped in
      T(
        converting: Evaluation.streamingLoss(count: stepped.count) {
          W(rounding: stepped[$0]) / tauW
        } y: {
          yW[$0]
        }
      )
      .double
    }
  }
}
