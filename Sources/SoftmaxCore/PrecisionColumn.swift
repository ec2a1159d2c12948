import RealModule

/// One precision's account of a problem, for comparing precisions: naive, max-subtracted and online softmax value by
/// value, their sums and maxima, the three losses and the overflow report.
///
/// Up to ``Evaluation/wideLimit`` classes a column is a full ``Evaluation``. Above that it is *lean*: one pass keeps
/// only the scalars (sums, maxima, losses, the overflow report) and every ``checkpointStride``-th state of the online
/// recurrence, and a per-class value is recomputed when it is asked for, by the same operations in the same order as
/// ``Evaluation`` — so the numbers are identical, without the dozen `C`-long arrays a full evaluation keeps
/// (131,072 classes: about 1 MB for the rounded logits instead of ~14 MB per precision). A lean column also keeps its
/// three exponentials per class (2–3 MB at that size), so that ``update(to:)`` after an edit of a few logits
/// recomputes only the exponentials the edit affects.
public struct PrecisionColumn: Sendable {
  /// The problem validated in this column's precision (logits rounded into it).
  public private(set) var problem: Problem
  /// How naive softmax fares in this precision.
  public private(set) var overflow: OverflowReport
  /// Naive `σ = Σ e^{z_j}`, summed left to right in the precision.
  public let naiveSum: Double
  /// `M = max z` of the max-subtracted softmax.
  public let stableMax: Double
  /// `Σ e^{z_j − M}`.
  public let stableSum: Double
  /// The stable loss (log-sum-exp form).
  public let loss: Double
  /// `−Σ y_i log s_i` with the naive softmax.
  public let lossNaive: Double
  /// `−Σ y_i log s_i` with the max-subtracted softmax.
  public let lossFromStableSoftmax: Double

  private(set) var storage: Storage
  /// A lean column's per-class exponentials, kept for ``updating(_:to:)`` (`nil` for a full evaluation).
  private(set) var terms: LeanTerms?
  /// Whether this column was updated from the previous one's terms rather than computed afresh (tests).
  private(set) var isUpdate = false

  enum Storage: Sendable {
    case full(Evaluation)
    case lean(Lean)
  }

  /// The state the lean column keeps (`W = Double` for the trusted path, as ``Evaluation`` uses above its limit).
  struct Lean: Sendable {
    /// Naive `σ` (a value of the precision).
    var naiveSum: Double
    /// `M` and the compensated `Σ e^{z_j − M}` in `W`.
    var max: Double
    var sumHigh: Double
    var sumLow: Double
    /// Final `m_C`, `d_C` of the online recurrence, and its state before every `checkpointStride`-th element.
    var onlineMax: Double
    var onlineSum: Double
    var checkpoints: [(max: Double, sum: Double)]
    /// The rest of both passes' state before every `checkpointStride`-th element, where an update resumes them.
    var resume: [Resume]
    /// The argmax of `z` in `W` (excluded from the second compensated sum).
    var k: Int

    /// Nothing kept (a column whose state has been moved out for an update).
    static let empty = Lean(
      naiveSum: 0, max: 0, sumHigh: 0, sumLow: 0, onlineMax: 0, onlineSum: 0, checkpoints: [], resume: [], k: 0)
  }

  /// Pass 1's naive sum and argmaxes, and pass 2's compensated sums, before element `i·checkpointStride`.
  struct Resume: Sendable {
    var sigma: Double
    var best: Int
    var k: Int
    var mW: Double
    var sum = CompensatedSum<Double>()
    var rest = CompensatedSum<Double>()
  }

  /// Elements between two saved states of the online recurrence: a running value costs at most this many steps.
  public static let checkpointStride = 128  // a power of two (the lean pass tests `i & (stride − 1)`)

  /// A column read off a full evaluation (the problem's own precision, or small problems).
  public init(_ evaluation: Evaluation) {
    problem = evaluation.problem
    overflow = evaluation.overflow
    naiveSum = evaluation.naive.sum
    stableMax = evaluation.stable.max
    stableSum = evaluation.stable.sum
    loss = evaluation.loss
    lossNaive = evaluation.lossNaive
    lossFromStableSoftmax = evaluation.lossFromStableSoftmax
    storage = .full(evaluation)
    terms = nil
  }

  /// Whether this column is a full ``Evaluation`` (not lean).
  public var isFull: Bool {
    if case .full = storage { return true }
    return false
  }

  /// The full evaluation behind this column (nil for a lean column), handed over: the column is used up, so that the
  /// evaluation is held once and ``Evaluation/update(to:)`` can work in its arrays.
  public consuming func takeEvaluation() -> Evaluation? {
    guard case .full(let evaluation) = storage else { return nil }
    return evaluation
  }

  /// The column of a problem validated in its precision: a full evaluation up to ``Evaluation/wideLimit`` classes,
  /// lean above.
  public init(_ problem: Problem) {
    if problem.classes <= Evaluation.wideLimit {
      self.init(Evaluation(problem))
    } else {
      self.init(lean: problem)
    }
  }

  /// `problem` validated in `precision` and its column, or why that precision cannot hold it.
  public static func validating(_ problem: Problem, in precision: Precision) -> Result<PrecisionColumn, InputError> {
    var p = problem
    p.precision = precision
    do throws(InputError) {
      return .success(PrecisionColumn(try p.validated(roundedFrom: problem.precision)))
    } catch {
      return .failure(error)
    }
  }

  /// A lean column whatever the size (tests compare it with the full evaluation). Its trusted path is in `Double`,
  /// as ``Evaluation``'s is except for float64 up to ``Evaluation/wideLimit`` classes (`Float80` there).
  init(lean problem: Problem) {
    var terms = LeanTerms()
    var none: Previous? = nil
    self.init(lean: problem, previous: &none, terms: &terms)
  }

  /// Makes this the column of `problem` (validated in its precision), reusing what it computed for its previous
  /// problem when the two differ only in some logits (same precision, class count, temperature and target, above
  /// ``Evaluation/wideLimit`` classes, and this column lean). Then only the changed logits' exponentials are
  /// recomputed, plus those of the online recurrence whose running maximum changed, plus every trusted `e^{z_i − M}`
  /// when `M` changed; the sums, the overflow scan and the recurrence are rerun over the kept terms with the same
  /// operations in the same order, so every number is bit for bit a fresh column's. The
  /// per-class storage is reused in place when nothing else holds this column. Anything else builds it afresh.
  public mutating func update(to problem: Problem) { update(to: problem, anySize: false) }

  /// ``update(to:)``; `anySize` lets a lean column of any size be updated (tests).
  mutating func update(to problem: Problem, anySize: Bool) {
    guard anySize || problem.classes > Evaluation.wideLimit, case .lean(let lean) = storage,
      self.problem.precision == problem.precision, self.problem.classes == problem.classes,
      self.problem.temperature.bitPattern == problem.temperature.bitPattern,
      self.problem.targetSpec == problem.targetSpec, var taken = terms.take()
    else {
      terms = nil  // let the old storage go first
      self = PrecisionColumn(problem)
      return
    }
    storage = .lean(.empty)
    let lists = OverflowReport.Scan(lists: &overflow)
    var previous: Previous? = Previous(
      before: .logits(self.problem.logits), lean: consume lean, lists: consume lists)
    self = PrecisionColumn(lean: problem, previous: &previous, terms: &taken)
  }

  /// `problem` validated in `precision` and `old`, taken out of its variable, updated to it (see ``update(to:)``; a
  /// new column when `old` is `nil`), or why that precision cannot hold it.
  public static func validating(
    _ problem: Problem, in precision: Precision, updating old: inout PrecisionColumn?
  ) -> Result<PrecisionColumn, InputError> {
    var p = problem
    p.precision = precision
    do throws(InputError) {
      let validated = try p.validated(roundedFrom: problem.precision)
      guard var column = old.take() else { return .success(PrecisionColumn(validated)) }
      column.update(to: validated)
      return .success(column)
    } catch {
      old = nil
      return .failure(error)
    }
  }

  /// What an update needs of the column it replaces, besides its terms. Its arrays are taken over (emptied and
  /// refilled), so that an update in place allocates nothing.
  struct Previous {
    /// The logits before: all of them, or the one that changed (the rest are the new problem's).
    enum Before {
      case logits([Double])
      case one(index: Int, value: Double)
      /// Every `z` changed (the temperature did): every term is computed again, in the kept storage.
      case all
    }
    var before: Before
    var lean: Lean
    /// The previous overflow report's index lists.
    var lists: OverflowReport.Scan
  }

  /// The logits before an update, as pass 1 reads them.
  enum BeforeView {
    case logits(UnsafeBufferPointer<Double>)
    case one(index: Int, value: Double)
    case all
  }

  /// The lean column of `problem`; `previous` (the column it replaces) says which of the terms in
  /// `taken` are still valid (none without it). The terms are moved out of `taken`, so that their storage is
  /// overwritten in place when nothing else holds it.
  private init(lean problem: Problem, previous: inout Previous?, terms taken: inout LeanTerms) {
    /// Through pointers, so that the previous column and the terms are moved, not copied.
    struct LeanColumn: PrecisionBody {
      let problem: Problem
      let previous: UnsafeMutablePointer<Previous?>
      let taken: UnsafeMutablePointer<LeanTerms>
      func callAsFunction<T: PrecisionScalar>(_: T.Type) -> PrecisionColumn {
        PrecisionColumn(lean: problem, &previous.pointee, &taken.pointee, T.self, T.Lean.self)
      }
    }
    self = withUnsafeMutablePointer(to: &previous) { previous in
      withUnsafeMutablePointer(to: &taken) { taken in
        problem.precision.open(LeanColumn(problem: problem, previous: previous, taken: taken))
      }
    }
  }

  /// Whether the per-class values are recomputed on demand.
  public var isLean: Bool {
    if case .lean = storage { return true }
    return false
  }

  private init<T: SoftmaxScalar, A: LeanArithmetic>(
    lean problem: Problem, _ previous: inout Previous?, _ taken: inout LeanTerms, _: T.Type,
    _: A.Type
  ) {
    typealias W = Double
    typealias V = A.Value
    self.problem = problem
    let c = problem.classes
    let tau = T(rounding: problem.temperature)
    let tauW = W(rounding: problem.temperature)
    let tauIsOne = problem.temperature == 1
    let logits = problem.logits
    @inline(__always) func z(_ i: Int) -> T {
      let x = T(rounding: logits[i])
      return tau == 1 ? x : x / tau
    }
    var terms = LeanTerms()
    swap(&terms, &taken)
    let before = previous?.before
    let oldMax = previous?.lean.max
    let oldK = previous?.lean.k ?? 0
    // Nothing before the first changed logit changes: both passes resume from the last saved state before it.
    let firstChange: Int = {
      switch before {
      case nil, .all?: return 0
      case .one(let i, let value)?: return value.bitPattern != logits[i].bitPattern ? i : c
      case .logits(let oldLogits)?:
        return logits.withUnsafeBufferPointer { new in
          oldLogits.withUnsafeBufferPointer { old in
            for i in 0..<c where old[i].bitPattern != new[i].bitPattern { return i }
            return c
          }
        }
      }
    }()
    let stride = Self.checkpointStride
    var initial = PassOne<V>()
    // The previous column's lists are taken over and cut back (their storage is reused), and so is the list of
    // changed indices.
    swap(&initial.changed, &terms.changed)
    initial.changed.removeAll(keepingCapacity: true)
    // Pass 2 may resume at the block pass 1 resumes at: its sums there are saved before pass 1 writes that entry.
    let isUpdate = previous != nil
    var savedAtBlock: (resume: Resume, checkpoint: (max: Double, sum: Double))? = nil
    if previous != nil {
      let resumes = firstChange >= stride
      let block = resumes ? Swift.min(firstChange, c - 1) / stride : 0
      let start = block * stride
      if resumes { savedAtBlock = (previous!.lean.resume[block], previous!.lean.checkpoints[block]) }
      initial.checkpoints = Self.taken(&previous!.lean.checkpoints, keeping: block)
      initial.resume = Self.taken(&previous!.lean.resume, keeping: block)
      swap(&initial.scan, &previous!.lists)
      // The scan's lists are in index order: keep the entries before `start`.
      Self.cut(&initial.scan.overflowing, before: start)
      Self.cut(&initial.scan.underflowing, before: start)
      Self.cut(&initial.scan.subnormal, before: start)
    }
    previous = nil
    if let (saved, checkpoint) = savedAtBlock {
      let block = Swift.min(firstChange, c - 1) / stride
      let start = block * stride
      initial.start = start
      initial.sigma = A.round(saved.sigma)
      initial.best = saved.best
      initial.m = A.round(checkpoint.max)
      initial.bestZ = initial.m
      initial.d = A.round(checkpoint.sum)
      initial.k = saved.k
      initial.mW = saved.mW
      for i in initial.scan.overflowing {
        let x = A.round(logits[i])
        let zi = tauIsOne ? x : A.round(x / A.round(problem.temperature))
        initial.scan.largestOverflow = Swift.max(initial.scan.largestOverflow, A.double(zi))
      }
    }
    terms.prepare(count: c, V.self)

    // Pass 1, in the precision's arithmetic A (T's own, or float16 carried in Float): naive sum and overflow facts,
    // the argmax of z, the online recurrence. Exponentials are taken from `terms` where still valid.
    var one = logits.withUnsafeBufferPointer { logits in
      terms.withBuffers(V.self) { naive, online in
        switch before {
        case .logits(let oldLogits)?:
          return oldLogits.withUnsafeBufferPointer {
            Self.pass1(problem, logits, before: .logits($0), naive: naive, online: online, from: &initial, A.self)
          }
        case .one(let i, let value)?:
          return Self.pass1(
            problem, logits, before: .one(index: i, value: value), naive: naive, online: online, from: &initial,
            A.self)
        case .all?:
          return Self.pass1(problem, logits, before: .all, naive: naive, online: online, from: &initial, A.self)
        case nil:
          return Self.pass1(problem, logits, before: nil, naive: naive, online: online, from: &initial, A.self)
        }
      }
    }
    let (sigma, bestZ, best, m, d, k, mW) = (one.sigma, one.bestZ, one.best, one.m, one.d, one.k, one.mW)
    // Moved out of `one`, so that each is held once and pass 2 writes `resume` in place.
    var changed = Self.taken(&one.changed, keeping: .max)
    var scan = OverflowReport.Scan()
    swap(&scan, &one.scan)
    var resume = Self.taken(&one.resume, keeping: .max)
    let checkpoints = Self.taken(&one.checkpoints, keeping: .max)
    @inline(__always) func zW(_ x: Double) -> W { tauW == 1 ? W(rounding: x) : W(rounding: x) / tauW }
    let sigmaT = T(rounding: A.double(sigma))

    // Pass 2, in W: the compensated sums of e^{z_i − M}, with and without the argmax (for log-sum-exp). The terms
    // are recomputed where the logit changed, or all of them when M did.
    var allChanged = false
    if case .all? = before { allChanged = true }
    let sameMax = !allChanged && oldMax?.bitPattern == mW.bitPattern
    // With M the same, pass 2 resumes before the first changed term, or before the old or the new argmax if it moved
    // (the index left out of `rest`); otherwise every term is recomputed.
    let resumeAt = k == oldK ? firstChange : Swift.min(firstChange, k, oldK)
    let start2 = sameMax ? Swift.min(resumeAt, c - 1) / stride : 0
    // The previous sums at `start2`: kept in `resume` below pass 1's start, saved above for pass 1's own block.
    let block1 = initial.start / stride
    let sums = start2 == 0 ? nil : start2 < block1 ? resume[start2] : savedAtBlock?.resume
    let (sum, rest) = logits.withUnsafeBufferPointer { logits in
      terms.stable.withUnsafeMutableBufferPointer { stable in
        Self.pass2(
          logits, stable: stable, mW: mW, tauW: tauW, k: k, recompute: sameMax ? changed : nil, resume: &resume,
          from: start2, sums: sums)
      }
    }
    changed.removeAll(keepingCapacity: true)
    terms.changed = changed
    let logSum = W.log(onePlus: rest.high) + rest.low / (1 + rest.high)

    // The losses visit the classes with y_i ≠ 0 in index order (only T for a one-hot target).
    let spec = problem.targetSpec
    var oneHot: Int? = nil
    if case .index(let t, let eps) = spec, eps == 0 { oneHot = t }
    let shares: (T, W)? = {
      guard case .index(_, let eps) = spec, eps != 0 else { return nil }
      return (T(rounding: eps) / T(c), W(rounding: eps) / W(c))
    }()
    func yT(_ i: Int) -> T {
      switch spec {
      case .index(let t, let eps):
        guard let (share, _) = shares else { return i == t ? 1 : 0 }
        return i == t ? (1 - T(rounding: eps)) + share : share
      case .distribution(let q): return T(rounding: q[i])
      }
    }
    func yW(_ i: Int) -> W {
      switch spec {
      case .index(let t, let eps):
        guard let (_, share) = shares else { return i == t ? 1 : 0 }
        return i == t ? (1 - W(rounding: eps)) + share : share
      case .distribution(let q): return W(rounding: q[i])
      }
    }
    var gap = CompensatedSum<W>()
    var mass = CompensatedSum<W>()
    var cNaive: T = 0
    var cStable: T = 0
    let naiveTerms = V.stored(terms.naive)
    let stableTerms = terms.stable
    func visit(_ i: Int) {
      let y = yT(i)
      if y != 0 {
        // The kept e^{z_i} is T.exp(z_i) (A's exp is T's, or float16's own rounding of Float.exp), and the kept
        // e^{z_i − M} is the trusted path's.
        cNaive -= y * T.log(T(rounding: A.double(V.load(naiveTerms[i]))) / sigmaT)
        let sStable = T(converting: sum.divide(stableTerms[i]))
        cStable -= y * T.log(sStable)
      }
      let w = yW(i)
      if w != 0 {
        let (dW, err) = twoSum(mW, -zW(logits[i]))
        gap.add(w * dW)
        gap.add(w * err)
        mass.add(w)
      }
    }
    if let t = oneHot {
      visit(t)
    } else {
      for i in 0..<c { visit(i) }
    }
    let lossW = gap.high + (gap.low + mass.value * logSum)

    scan.sum = sigmaT.double
    scan.largest = (A.double(bestZ), T.exp(z(best)).double)
    overflow = OverflowReport(
      scan, count: c, z: { z($0).double }, precision: problem.precision,
      exactLogSum: problem.temperature == 1 ? mW + logSum : nil)
    naiveSum = sigmaT.double
    stableMax = T(converting: mW).double
    stableSum = T(converting: sum.value).double
    loss = T(converting: lossW).double
    lossNaive = cNaive.double
    lossFromStableSoftmax = cStable.double
    overflow.judgeAccuracy(naiveLoss: lossNaive, loss: loss)
    storage = .lean(
      Lean(
        naiveSum: sigmaT.double, max: mW, sumHigh: sum.high, sumLow: sum.low, onlineMax: A.double(m),
        onlineSum: A.double(d), checkpoints: checkpoints, resume: resume, k: k))
    self.terms = terms
    self.isUpdate = isUpdate
  }

  /// The array moved out of `storage` (left empty), cut back to its first `count` elements in place.
  private static func taken<E>(_ storage: inout [E], keeping count: Int) -> [E] {
    var array: [E] = []
    swap(&array, &storage)
    if count < array.count { array.removeSubrange(count...) }
    return array
  }

  /// Drops the entries from `start` on of an ascending list of indices, in place.
  private static func cut(_ indices: inout [Int], before start: Int) {
    if let k = indices.firstIndex(where: { $0 >= start }) { indices.removeSubrange(k...) }
  }

  /// Sets logit `i` of a lean column to `x` (validated in its precision, see ``Problem/validatedLogit(_:at:)``) and
  /// updates it as ``update(to:)`` does, in its own storage: nothing is allocated when nothing else holds the
  /// column. Returns false, having changed nothing, for a full column.
  public mutating func update(logit i: Int, to x: Double) -> Bool {
    guard case .lean(let lean) = storage, var taken = terms.take() else { return false }
    // The column's lists are moved out (the column keeps empty ones), so that each is held once.
    storage = .lean(.empty)
    let lists = OverflowReport.Scan(lists: &overflow)
    let old = problem.logits[i]
    problem.logits[i] = x
    var previous: Previous? = Previous(before: .one(index: i, value: old), lean: consume lean, lists: consume lists)
    self = PrecisionColumn(lean: problem, previous: &previous, terms: &taken)
    return true
  }

  /// Gives a lean column the target and knobs of `settings` (validated in this column's precision, with the same
  /// logits) and updates it in place. With the same temperature only the losses change, and both passes resume at
  /// their last saved state; a new temperature changes every `z`, and every term is computed again in the kept
  /// storage. Returns false, having changed nothing, for a full column or a different size.
  public mutating func update(settingsOf settings: Problem) -> Bool {
    guard case .lean(let lean) = storage, settings.classes == problem.classes, var taken = terms.take() else {
      return false
    }
    let sameTemperature = settings.temperature.bitPattern == problem.temperature.bitPattern
    storage = .lean(.empty)
    let lists = OverflowReport.Scan(lists: &overflow)
    var next = settings
    next.logits = problem.logits  // the column's own, unchanged
    problem = next
    let before: Previous.Before = sameTemperature ? .one(index: 0, value: problem.logits[0]) : .all
    var previous: Previous? = Previous(before: before, lean: consume lean, lists: consume lists)
    self = PrecisionColumn(lean: problem, previous: &previous, terms: &taken)
    return true
  }

  /// What pass 1 of a lean column finds.
  struct PassOne<V: BinaryFloatingPoint> {
    /// Where the pass starts (a multiple of `checkpointStride`), with the state below saved before that element.
    var start = 0
    var sigma: V = 0
    var scan = OverflowReport.Scan()
    var best = 0
    var bestZ = -V.infinity
    var m = -V.infinity
    var d: V = 0
    var checkpoints: [(max: Double, sum: Double)] = []
    var resume: [Resume] = []
    /// Indices whose logit changed (every index when there is no previous column).
    var changed: [Int] = []
    /// The argmax of z and `M` in `Double`, for the trusted path.
    var k = 0
    var mW = -Double.infinity
  }

  /// Pass 1 in A: the naive sum, the overflow scan, the argmax and the online recurrence with its checkpoints. An
  /// exponential is recomputed (and stored in `naive`/`online`) unless `before`, the previous logits, shows it is
  /// valid.
  private static func pass1<A: LeanArithmetic>(
    _ problem: Problem, _ logits: UnsafeBufferPointer<Double>, before: BeforeView?,
    naive: UnsafeMutableBufferPointer<A.Value.Stored>, online: UnsafeMutableBufferPointer<A.Value.Stored>,
    from initial: inout PassOne<A.Value>, _: A.Type
  ) -> PassOne<A.Value> {
    typealias V = A.Value
    let c = logits.count
    let tauA = A.round(problem.temperature)
    let tauW = Double(problem.temperature)
    let leastNormal = problem.precision.facts.leastNormal
    @inline(__always) func zA(_ x: Double) -> V {
      let r = A.round(x)
      return tauA == 1 ? r : A.round(r / tauA)
    }
    // Moved out of `initial`, so that its lists are held once and grow in place.
    var r = PassOne<A.Value>()
    swap(&r, &initial)
    let stride = Self.checkpointStride
    r.checkpoints.reserveCapacity(c / stride + 1)
    r.resume.reserveCapacity(c / stride + 1)
    var sigma = r.sigma
    var bestZ = r.bestZ
    var best = r.best
    var m = r.m
    var d = r.d
    // The previous problem's running maximum m_{i−1}, to tell which online terms are still valid (the same as m
    // up to `start`).
    var mOld = m
    var k = r.k
    var mW = r.mW
    for i in r.start..<c {
      // The state before element i (m_{i−1}, d_{i−1} for the recurrence), every `stride` elements.
      if i & (stride - 1) == 0 {
        r.checkpoints.append((A.double(m), A.double(d)))
        r.resume.append(Resume(sigma: A.double(sigma), best: best, k: k, mW: mW))
      }
      let zi = zA(logits[i])
      var fresh = true
      var ziOld = zi
      switch before {
      case .logits(let old)?:
        fresh = old[i].bitPattern != logits[i].bitPattern
        if fresh {
          r.changed.append(i)
          ziOld = zA(old[i])
        }
      case .one(let edited, let value)?:
        fresh = i == edited && value.bitPattern != logits[i].bitPattern
        if fresh {
          r.changed.append(i)
          ziOld = zA(value)
        }
      case .all?, nil: break
      }
      let e: V
      if fresh {
        e = A.exp(zi)
        naive[i] = V.store(e)
      } else {
        e = V.load(naive[i])
      }
      sigma = A.round(sigma + e)
      r.scan.add(index: i, z: A.double(zi), exp: A.double(e), leastNormal: leastNormal)
      if zi > bestZ {
        bestZ = zi
        best = i
      }
      // The online step of `Softmax.online`, operation by operation. Its exponential depends only on z_i and
      // m_{i−1} (which also decide the branch): when neither changed, the kept one is the one it would compute.
      let keep = !fresh && m == mOld
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
      // z_i in Double (`x/τ`, and `x/1` is `x`).
      let ziW = tauW == 1 ? logits[i] : logits[i] / tauW
      if ziW > mW {
        mW = ziW
        k = i
      }
    }
    r.sigma = sigma
    r.bestZ = bestZ
    r.best = best
    r.m = m
    r.d = d
    r.k = k
    r.mW = mW
    return r
  }

  /// Pass 2 in `Double`: the compensated sums of `e^{z_i − M}` with and without the argmax `k`, over `stable`
  /// after recomputing its terms at `recompute` (all of them when `nil`), from element `block·checkpointStride` on
  /// with the sums `saved` there; their states are saved in `resume`.
  private static func pass2(
    _ logits: UnsafeBufferPointer<Double>, stable: UnsafeMutableBufferPointer<Double>, mW: Double, tauW: Double,
    k: Int, recompute: [Int]?, resume: inout [Resume], from block: Int, sums saved: Resume?
  ) -> (sum: CompensatedSum<Double>, rest: CompensatedSum<Double>) {
    @inline(__always) func compute(_ i: Int) {
      let (dW, err) = twoSum(tauW == 1 ? logits[i] : logits[i] / tauW, -mW)
      stable[i] = expCompensated(dW, err)
    }
    if let recompute {
      for i in recompute { compute(i) }
    } else {
      for i in 0..<logits.count { compute(i) }
    }
    let stride = Self.checkpointStride
    // The sums before `block` (the previous column's: the terms and the excluded index are the same up to there).
    var sum = saved?.sum ?? CompensatedSum<Double>()
    var rest = saved?.rest ?? CompensatedSum<Double>()
    for i in (block * stride)..<logits.count {
      if i & (stride - 1) == 0 {
        resume[i / stride].sum = sum
        resume[i / stride].rest = rest
      }
      let e = stable[i]
      sum.add(e)
      if i != k { rest.add(e) }
    }
    return (sum, rest)
  }

  /// One step of the online recurrence exactly as ``Softmax/online(_:)`` takes it.
  @inline(__always)
  static func onlineStep<T: SoftmaxScalar>(_ zj: T, _ m: inout T, _ d: inout T) {
    if zj > m {
      d = (m == -T.infinity ? 0 : d * T.exp(m - zj)) + 1
      m = zj
    } else if zj != -T.infinity {
      d += T.exp(zj - m)
    }
  }

  // MARK: - Per-class values

  /// `z_i = x_i/τ`.
  public func scaled(_ i: Int) -> Double {
    if case .full(let e) = storage { return e.scaled[i] }
    return value(.scaled, i)
  }

  /// Naive `e^{z_i}`.
  public func naiveExp(_ i: Int) -> Double {
    if case .full(let e) = storage { return e.naive.exps[i] }
    return value(.naiveExp, i)
  }

  /// Naive `s_i = e^{z_i}/σ`.
  public func naiveProbability(_ i: Int) -> Double {
    if case .full(let e) = storage { return e.naive.probabilities[i] }
    return value(.naiveProbability, i)
  }

  /// `z_i − M`.
  public func shifted(_ i: Int) -> Double {
    if case .full(let e) = storage { return e.stable.shifted[i] }
    return value(.shifted, i)
  }

  /// `e^{z_i − M}` (for the exact difference).
  public func stableExp(_ i: Int) -> Double {
    if case .full(let e) = storage { return e.stable.exps[i] }
    return value(.stableExp, i)
  }

  /// Max-subtracted `s_i`.
  public func stableProbability(_ i: Int) -> Double {
    if case .full(let e) = storage { return e.stable.probabilities[i] }
    return value(.stableProbability, i)
  }

  /// Online `s_i = e^{z_i − m_C}/d_C`.
  public func onlineProbability(_ i: Int) -> Double {
    if case .full(let e) = storage { return e.online.probabilities[i] }
    return value(.onlineProbability, i)
  }

  /// Online `m_i` (the running maximum after element `i`).
  public func runningMax(_ i: Int) -> Double { running(i).max }

  /// Online `d_i` (the running sum after element `i`).
  public func runningSum(_ i: Int) -> Double { running(i).sum }

  /// `(m_i, d_i)` of the online recurrence: replayed from the nearest saved state in a lean column.
  public func running(_ i: Int) -> (max: Double, sum: Double) {
    switch storage {
    case .full(let e): return (e.online.runningMax[i], e.online.runningSum[i])
    case .lean(let l):
      struct Replay: PrecisionBody {
        let column: PrecisionColumn
        let i: Int
        let lean: Lean
        func callAsFunction<T: PrecisionScalar>(_: T.Type) -> (max: Double, sum: Double) {
          column.replay(i, lean, T.self)
        }
      }
      return problem.precision.open(Replay(column: self, i: i, lean: l))
    }
  }

  private func replay<T: SoftmaxScalar>(_ i: Int, _ l: Lean, _: T.Type) -> (max: Double, sum: Double) {
    let k = i / Self.checkpointStride
    var m = T(rounding: l.checkpoints[k].max)
    var d = T(rounding: l.checkpoints[k].sum)
    let tau = T(rounding: problem.temperature)
    for j in (k * Self.checkpointStride)...i {
      let x = T(rounding: problem.logits[j])
      Self.onlineStep(tau == 1 ? x : x / tau, &m, &d)
    }
    return (m.double, d.double)
  }

  private enum Value {
    case scaled, naiveExp, naiveProbability, shifted, stableExp, stableProbability, onlineProbability
  }

  private func value(_ kind: Value, _ i: Int) -> Double {
    guard case .lean(let l) = storage else { return .nan }
    struct PerClass: PrecisionBody {
      let column: PrecisionColumn
      let kind: Value
      let i: Int
      let lean: Lean
      func callAsFunction<T: PrecisionScalar>(_: T.Type) -> Double { column.value(kind, i, lean, T.self) }
    }
    return problem.precision.open(PerClass(column: self, kind: kind, i: i, lean: l))
  }

  /// One per-class value of a lean column, by the operations ``Evaluation`` uses for its arrays.
  private func value<T: SoftmaxScalar>(_ kind: Value, _ i: Int, _ l: Lean, _: T.Type) -> Double {
    let tau = T(rounding: problem.temperature)
    let x = T(rounding: problem.logits[i])
    let z = tau == 1 ? x : x / tau
    let zW = problem.logits[i] / problem.temperature
    switch kind {
    case .scaled: return z.double
    case .naiveExp: return T.exp(z).double
    case .naiveProbability: return (T.exp(z) / T(rounding: l.naiveSum)).double
    case .shifted: return T(rounding: twoSum(zW, -l.max).sum).double
    case .stableExp:
      let (d, err) = twoSum(zW, -l.max)
      return T(rounding: expCompensated(d, err)).double
    case .stableProbability:
      let (d, err) = twoSum(zW, -l.max)
      var sum = CompensatedSum<Double>()
      sum.high = l.sumHigh
      sum.low = l.sumLow
      return T(rounding: sum.divide(expCompensated(d, err))).double
    case .onlineProbability:
      return (T.exp(z - T(rounding: l.onlineMax)) / T(rounding: l.onlineSum)).double
    }
  }
}

/// The arithmetic of the lean pass: the precision's own type, or float16 carried in `Float`.
///
/// Operations are written `round(a op b)`. With ``NativeArithmetic`` `round` is the identity and `op` is the type's
/// own; with ``HalfInFloat`` `op` runs in `Float` and `round` rounds to the nearest float16 — which is exactly how
/// `Float16` arithmetic is carried out where the CPU has no half-precision instructions (widen, operate in `Float`,
/// round; `Float`'s 24 bits are enough for that double rounding to be harmless for `+ − × ÷`), but without two library
/// calls per operation. The tests check every value against the full ``Evaluation`` computed with `Float16` itself.
protocol LeanArithmetic {
  associatedtype Value: LeanStorable
  /// The precision's value nearest to `x`.
  static func round(_ x: Double) -> Value
  /// Rounds the result of an operation into the precision.
  static func round(_ x: Value) -> Value
  /// `e^x` as the precision computes it.
  static func exp(_ x: Value) -> Value
  static func double(_ x: Value) -> Double
}

enum NativeArithmetic<T: SoftmaxScalar & LeanStorable>: LeanArithmetic {
  @inline(__always) static func round(_ x: Double) -> T { T(rounding: x) }
  @inline(__always) static func round(_ x: T) -> T { x }
  @inline(__always) static func exp(_ x: T) -> T { T.exp(x) }
  @inline(__always) static func double(_ x: T) -> Double { x.double }
}

enum HalfInFloat: LeanArithmetic {
  @inline(__always) static func round(_ x: Double) -> Float {
    let f = Float(x)
    // Inputs are float16 values already (validated logits, τ); anything else takes the library conversion.
    return Double(f) == x ? round(f) : Float(Float16(x))
  }

  /// `Float(Float16(x))` with bit operations: ties to even, `+inf` from 65520 up, subnormals in steps of 2^−24.
  @inline(__always) static func round(_ x: Float) -> Float {
    let a = x.magnitude
    guard a < 65520 else { return a.isNaN ? x : (x < 0 ? -.infinity : .infinity) }
    if a < 0x1p-14 {
      // Float's ulp on [1/2, 1) is 2^−24, float16's subnormal step: the addition rounds `a` to it.
      let r = (a + 0.5) - 0.5
      return Float(bitPattern: r.bitPattern | (x.bitPattern & 0x8000_0000))
    }
    // Round the 23-bit significand to 10 bits, ties to even (a carry into the exponent is the right answer).
    let b = a.bitPattern
    let r = (b &+ 0xFFF &+ ((b >> 13) & 1)) & ~0x1FFF
    return Float(bitPattern: r | (x.bitPattern & 0x8000_0000))
  }

  @inline(__always) static func exp(_ x: Float) -> Float { round(Float.exp(x)) }
  @inline(__always) static func double(_ x: Float) -> Double { Double(x) }
}

/// The per-class exponentials a lean column keeps for its next update. Values of float16, bfloat16 and float32 are
/// kept in `Float` (exactly; half the memory of `Double`), float64's in `Double`.
struct LeanTerms: Sendable {
  /// Naive `e^{z_i}` in the precision.
  var naive = TermArray()
  /// The online recurrence's exponential at `i`: `e^{z_i − m_{i−1}}`, or `e^{m_{i−1} − z_i}` where `z_i` is a new
  /// running maximum (unset where the step takes none: a masked class, or the first finite `z`).
  var online = TermArray()
  /// The trusted path's compensated `e^{z_i − M}` in `Double`.
  var stable: [Double] = []
  /// The indices pass 1 found changed (kept for its storage).
  var changed: [Int] = []

  /// Sizes the arrays for `count` classes of a precision whose values `V` are kept; arrays of the right size (an
  /// update's) are left as they are, to be overwritten in place.
  mutating func prepare<V: LeanStorable>(count: Int, _: V.Type) {
    naive.prepare(count: count, V.self)
    online.prepare(count: count, V.self)
    if stable.count != count { stable = [Double](repeating: 0, count: count) }
  }

  /// Calls `body` with the naive and online terms' storage.
  mutating func withBuffers<V: LeanStorable, R>(
    _: V.Type, _ body: (UnsafeMutableBufferPointer<V.Stored>, UnsafeMutableBufferPointer<V.Stored>) -> R
  ) -> R {
    V.withStorage(&naive) { naive in
      V.withStorage(&online) { online in
        naive.withUnsafeMutableBufferPointer { naive in
          online.withUnsafeMutableBufferPointer { online in body(naive, online) }
        }
      }
    }
  }
}

/// One array of terms, in `Float` or in `Double` (the other stays empty).
struct TermArray: Sendable {
  var float: [Float] = []
  var double: [Double] = []

  mutating func prepare<V: LeanStorable>(count: Int, _: V.Type) {
    if V.stored(self).count != count {
      self = TermArray()
      V.withStorage(&self) { $0 = [V.Stored](repeating: 0, count: count) }
    }
  }
}

/// A value type of the lean pass and how a ``TermArray`` keeps it (exactly).
protocol LeanStorable: BinaryFloatingPoint {
  associatedtype Stored: BinaryFloatingPoint & Sendable
  /// The array of `terms` this type's values are kept in.
  static func stored(_ terms: TermArray) -> [Stored]
  /// Calls `body` with that array (in place).
  static func withStorage<R>(_ terms: inout TermArray, _ body: (inout [Stored]) -> R) -> R
  static func store(_ x: Self) -> Stored
  static func load(_ x: Stored) -> Self
}

extension Float: LeanStorable {
  static func stored(_ terms: TermArray) -> [Float] { terms.float }
  static func withStorage<R>(_ terms: inout TermArray, _ body: (inout [Float]) -> R) -> R { body(&terms.float) }
  @inline(__always) static func store(_ x: Float) -> Float { x }
  @inline(__always) static func load(_ x: Float) -> Float { x }
}

extension Double: LeanStorable {
  static func stored(_ terms: TermArray) -> [Double] { terms.double }
  static func withStorage<R>(_ terms: inout TermArray, _ body: (inout [Double]) -> R) -> R { body(&terms.double) }
  @inline(__always) static func store(_ x: Double) -> Double { x }
  @inline(__always) static func load(_ x: Double) -> Double { x }
}

extension BFloat16: LeanStorable {
  static func stored(_ terms: TermArray) -> [Float] { terms.float }
  static func withStorage<R>(_ terms: inout TermArray, _ body: (inout [Float]) -> R) -> R { body(&terms.float) }
  @inline(__always) static func store(_ x: BFloat16) -> Float { x.floatValue }
  @inline(__always) static func load(_ x: Float) -> BFloat16 { BFloat16(x) }
}
