import SoftmaxCore
import SoftmaxText

/// The explorer's transition function: a new state from the old one and an action. Pure: no I/O, no clock.
///
/// Every refused action (a bad number, a step that overflows, a precision that cannot hold a logit) leaves the problem
/// unchanged and says why in `message`.
public func update(_ state: AppState, _ action: Action) -> AppState {
  var s = state
  s.apply(action)
  return s
}

extension AppState {
  /// Applies an action in place (the body of `update`) and returns what it changed in the problem.
  ///
  /// `current`, when given, must be the evaluation of `problem`; actions that need it (a gradient step) use it
  /// instead of computing it again.
  @discardableResult
  public mutating func apply(_ action: Action, current: Evaluation? = nil) -> ProblemChange {
    switch action {
    case .quit: quitRequested = true
    case .toggleHelp:
      showHelp.toggle()
      helpPage = 0
    case .closeHelp:
      showHelp = false
      helpPage = 0
    case .helpPage(let d):
      helpPage = Swift.max(0, Swift.min(helpPage + d, Frame.helpPageCount(height: height) - 1))
    case .moveSelection(let d): select(selection + d)
    case .selectRow(let r): select(r)
    case .beginEdit(let field): beginEdit(field)
    case .editInsert(let c):
      guard edit != nil, c.unicodeScalars.count == 1, let scalar = c.unicodeScalars.first else { return .none }
      switch edit!.insert(scalar) {
      case .inserted: break
      case .refused: break  // a character no number has: ignored, as a text field ignores it
      case .full:
        message = StatusMessage("the line holds at most \(edit!.field.characterLimit) characters", isError: true)
      }
    case .editKey(let key): edit?.perform(key)
    case .editPaste(let text):
      guard edit != nil else { return .none }
      let (_, cut) = edit!.paste(text)
      if cut > 0 {
        var m: TextLine = "pasted text cut: the line holds at most \(edit!.field.characterLimit) characters"
        if edit!.field == .vector { m += " (for more classes: --logits-file, or # for a random vector)" }
        message = StatusMessage(m, isError: true)
      }
    case .editCancel:
      edit = nil
      message = StatusMessage("edit cancelled")
    case .editConfirm: return confirmEdit()
    case .nudge(let sign): return nudge(row: selection, by: sign * nudgeStep)
    case .nudgeRow(let row, let sign):
      select(row)
      return nudge(row: row, by: sign * nudgeStep)
    case .scaleNudgeStep(let f):
      let candidate = nudgeStep * f
      if candidate >= 0x1p-20 && candidate <= 0x1p20 {
        nudgeStep = candidate
        message = StatusMessage("step size \(DecimalFormat.compact(nudgeStep))")
      } else {
        message = StatusMessage(
          "step size stays \(DecimalFormat.compact(nudgeStep)) (limits 2^-20…2^20)", isError: true)
      }
    case .setTarget:
      if problem.softTarget != nil {
        message = StatusMessage("a soft target is set: the target index does not apply", isError: true)
      } else if selection != problem.target {
        var p = problem
        p.target = selection
        var e = entered
        e.target = selection
        return commit(p, "target is now class \(selection)", entered: e, change: .settings)
      }
    case .addClass: return addClass()
    case .removeClass: return removeClass()
    case .step: return takeStep(current)
    case .cyclePrecision: return cyclePrecision()
    case .undo: return step(undo: true)
    case .redo: return step(undo: false)
    case .showScreen(let v): screen = v
    case .nextScreen: screen = screen.next
    case .moveCursor(let di, let dn): setCursor(i: cursorI + di, n: cursorN + dn)
    case .setCursor(let i, let n): setCursor(i: i, n: n)
    case .toggleDigits:
      fullDigits.toggle()
      message = StatusMessage(fullDigits ? "full round-trip digits" : "4 significant digits")
    case .resize(let w, let h):
      width = Swift.max(0, w)
      height = Swift.max(0, h)
    case .tick:
      if screen == .descent && descent.running { descentStep() }
    case .scroll(let d): derivationScroll = Swift.max(0, derivationScroll + d)
    case .nextPreset: return applyPreset(offset: 1)
    case .previousPreset: return applyPreset(offset: -1)
    case .cycleStabilitySection:
      stabilitySection = stabilitySection.next
      message = StatusMessage("Stability lab: \(stabilitySection.title) first (v cycles)")
    case .descentStep: descentStep()
    case .descentToggleRun:
      if screen != .descent { screen = .descent }
      descent.running.toggle()
      message = StatusMessage(descent.running ? "descent running (space pauses)" : "descent paused")
    case .descentReset:
      let rate = descent.rate
      descent = DescentState(start: problem)
      descent.rate = rate
      message = StatusMessage("descent reset to the current logits")
    case .descentRate(let f):
      descent.rate = Swift.min(64, Swift.max(0.5, descent.rate * f))
      message = StatusMessage("descent rate \(DecimalFormat.compact(descent.rate)) steps/s")
    case .export: exportRequested = true
    case .save: saveRequested = true
    case .tourNext:
      if Tour.waiting(self), let k = tourStep, let name = lesson?.steps[k].pressName {
        message = StatusMessage("this step waits for you to press \(name)")
        return .none
      }
      return Tour.go(to: (tourStep ?? -1) + 1, in: &self)
    case .tourBack: return Tour.go(to: Swift.max(0, (tourStep ?? 0) - 1), in: &self)
    case .answerInsert, .answerBackspace, .answerConfirm:
      answer(action, current: current)
      if case .answerConfirm = action, let k = tourStep, let q = question, quizResults[k] == nil,
        q.answered || q.attempts > 0
      {
        quizResults[k] = q.answered && q.attempts == 0
      }
    }
    return .none
  }

  // MARK: - Helpers

  /// `p`: the next precision as a lens (see the comment inside), and what that changed.
  mutating func cyclePrecision() -> ProblemChange {
    // A lens: the entered values are rounded into the next precision for computing and display, and kept. Not an
    // edit, so the history is untouched (its entries hold entered values, which every precision reads). A precision
    // that cannot hold a value is skipped, saying why in one line, so that `p` always comes back to float64.
    var e = entered
    var candidate = problem.precision.next
    var skipped: (Precision, InputError)?
    while candidate != problem.precision {
      e.precision = candidate
      do {
        let v = try e.validated()
        let base = e
        problem = v
        lens = v == base ? nil : base
        clampIndices()
        var changed = 0
        for i in 0..<v.classes where v.logits[i] != base.logits[i] { changed += 1 }
        var text: TextLine = "precision \(v.precision.rawValue)"
        if let (name, error) = skipped {
          text = "precision \(v.precision.rawValue); \(name.rawValue) skipped: \(error.message)"
        } else if changed > 0 {
          text += ": \(changed) logit\(changed == 1 ? "" : "s") shown rounded; the values you entered are kept"
        }
        message = StatusMessage(text)
        return .problem
      } catch {
        if skipped == nil { skipped = (candidate, error) }
        candidate = candidate.next
      }
    }
    if let (name, error) = skipped {
      message = StatusMessage("\(name.rawValue) refused: \(error.message)", isError: true)
    }
    return .none
  }

  /// Undo (or redo): applies the top entry of the undo (redo) stack, which becomes the redo (undo) entry that reverses
  /// it.
  mutating func step(undo: Bool) -> ProblemChange {
    guard var entry = undo ? undoStack.popLast() : redoStack.popLast() else {
      message = StatusMessage(undo ? "nothing to undo" : "nothing to redo")
      return .none
    }
    guard restore(&entry) else {
      if undo { AppState.push(entry, onto: &undoStack) } else { AppState.push(entry, onto: &redoStack) }
      return .none
    }
    if undo { AppState.push(entry, onto: &redoStack) } else { AppState.push(entry, onto: &undoStack) }
    message = StatusMessage(undo ? "undone" : "redone")
    return entry.problemChange
  }

  mutating func select(_ row: Int) {
    selection = Swift.min(Swift.max(0, row), problem.classes - 1)
  }

  mutating func setCursor(i: Int, n: Int) {
    let last = problem.classes - 1
    cursorI = Swift.min(Swift.max(0, i), last)
    cursorN = Swift.min(Swift.max(0, n), last)
  }

  /// Replaces the problem with a validated one, recording the old entered values for undo, and returns `change`.
  /// `newEntered` is the edit in entered values (nil: the new problem's own values are what is now entered, as after a
  /// step); `change` says what differs (``ProblemChange/settings`` records only the old target and knobs; anything
  /// else, the old problem).
  mutating func commit(
    _ newProblem: Problem, _ text: TextLine, entered newEntered: Problem? = nil, change: ProblemChange = .problem
  ) -> ProblemChange {
    let before = entered
    let after = newEntered ?? newProblem
    guard newProblem != problem || after != before else { return .none }
    record(UndoEntry(undoing: change, before: before, selection: selection))
    problem = newProblem
    lens = after == newProblem ? nil : after
    clampIndices()
    message = StatusMessage(text)
    return change
  }

  /// Sets logit `row` to `value` (validated by ``Problem/validatedLogit(_:at:)``) in place, `raw` being the value as
  /// entered, and records only that logit for undo: an edit of one logit allocates nothing.
  mutating func commitLogit(_ row: Int, _ value: Double, _ text: TextLine, raw: Double? = nil) -> ProblemChange {
    let enteredValue = raw ?? value
    let old = lens?.logits[row] ?? problem.logits[row]
    guard problem.logits[row] != value || old.bitPattern != enteredValue.bitPattern else { return .none }
    record(UndoEntry(change: .logit(index: row, value: old), selection: selection))
    problem.logits[row] = value
    if lens != nil {
      lens?.logits[row] = enteredValue
    } else if enteredValue.bitPattern != value.bitPattern {
      // The entered value differs from its rounding (typed in a low precision): keep it (one copy, this once).
      var l = problem
      l.logits[row] = enteredValue
      lens = l
    }
    clampIndices()
    message = StatusMessage(text)
    return .logit(row)
  }

  /// Records an entry for undo (dropping the oldest past ``undoLimit``) and forgets what could be redone.
  mutating func record(_ entry: UndoEntry) {
    AppState.push(entry, onto: &undoStack)
    if undoStack.count > undoLimit { undoStack.removeFirst(undoStack.count - undoLimit) }
    redoStack.removeAll(keepingCapacity: true)
  }

  /// Appends to a history stack, whose storage is reserved for ``maxUndo`` entries at the first push (so later pushes
  /// do not allocate).
  static func push(_ entry: UndoEntry, onto stack: inout [UndoEntry]) {
    if stack.capacity <= stack.count { stack.reserveCapacity(Swift.max(AppState.maxUndo + 1, 2 * stack.count)) }
    stack.append(entry)
  }

  /// Applies an undo or redo entry (in entered values), which becomes the entry that reverses it; the problem is the
  /// result rounded into the current precision. A value the current precision cannot hold refuses the undo.
  mutating func restore(_ entry: inout UndoEntry) -> Bool {
    let selected = selection
    if case .logit(let i, _) = entry.change, i < problem.classes {
      // In place: one logit, no copy of the vector.
      var e = entry
      var value = problem.logits[i]
      if lens != nil {
        e.apply(toLogit: &lens!.logits[i])
      } else {
        value = problem.logits[i]
        e.apply(toLogit: &value)
      }
      let raw = lens?.logits[i] ?? value
      do {
        let rounded = try problem.validatedLogit(raw, at: i)
        if lens == nil && rounded.bitPattern != raw.bitPattern {
          var l = problem
          l.logits[i] = raw
          lens = l
        }
        problem.logits[i] = rounded
        entry = e
      } catch {
        if lens != nil { e.apply(toLogit: &lens!.logits[i]) }
        message = StatusMessage("cannot restore here: \(error.message)", isError: true)
        return false
      }
    } else {
      var e = entered
      var candidate = entry
      candidate.apply(to: &e)
      // A whole-problem entry (a preset, a step, a class added) brings back its precision too; the others keep the
      // current one.
      if case .problem = entry.change {} else { e.precision = problem.precision }
      do {
        let v = try e.validated()
        problem = v
        lens = v == e ? nil : e
        entry = candidate
      } catch {
        message = StatusMessage("cannot restore here: \(error.message)", isError: true)
        return false
      }
    }
    selection = entry.selection
    entry.selection = selected
    clampIndices()
    return true
  }

  mutating func clampIndices() {
    select(selection)
    setCursor(i: cursorI, n: cursorN)
  }

  mutating func beginEdit(_ field: EditField) {
    let current: Double
    switch field {
    case .logit(let i): current = problem.logits[i]
    case .learningRate: current = problem.learningRate
    case .temperature: current = problem.temperature
    case .labelSmoothing: current = problem.labelSmoothing
    case .upstream: current = problem.upstream
    case .vector:
      if let text = vectorText() {
        edit = EditLine(field: field, text: text, selected: true)
      } else {
        edit = EditLine(field: field, text: TextLine())
        message = StatusMessage(
          "the \(problem.classes) logits do not fit the line (\(TextLine.capacity) characters): type a new vector")
      }
      return
    case .classCount:
      var text = TextLine()
      text.append(problem.classes)
      edit = EditLine(field: field, text: text, selected: true)
      return
    }
    // The pre-filled value is selected: the first character typed replaces it, an arrow key starts editing it.
    edit = EditLine(field: field, text: TextLine(compact: current), selected: true)
  }

  mutating func confirmEdit() -> ProblemChange {
    guard let e = edit else { return .none }
    if e.field == .vector { return confirmVector(e) }
    if e.field == .classCount { return confirmRandom(e) }
    let what: String
    switch e.field {
    case .logit: what = "logit"
    case .learningRate: what = "learning rate"
    case .temperature: what = "temperature"
    case .labelSmoothing: what = "label smoothing"
    case .upstream: what = "upstream gradient"
    case .vector, .classCount: return .none
    }
    let parsed = e.text.withBytes { bytes in
      Result { () throws(InputError) in try NumberListParser.parseValue(utf8: bytes, what: what, index: nil) }
    }
    let value: Double
    switch parsed {
    case .success(let v): value = v
    case .failure(let error):
      message = StatusMessage("\(error.message)", isError: true)
      return .none  // keep the edit line open so the text can be fixed
    }
    let style = NumberStyle(precision: problem.precision, full: true)
    // Only the edited value is checked: a logit on its own, a knob with the others (a temperature checks every x/τ).
    do {
      if case .logit(let i) = e.field {
        let v = try problem.validatedLogit(value, at: i)
        edit = nil
        if v == problem.logits[i] && value.bitPattern == (lens?.logits[i] ?? v).bitPattern {
          message = StatusMessage("unchanged")
          return .none
        }
        return commitLogit(i, v, "\(e.field.label) = \(style(v))", raw: value)
      }
      // The knob as entered, the others as entered; the problem is that rounded into the precision.
      var typed = entered
      switch e.field {
      case .logit: break
      case .learningRate: typed.learningRate = value
      case .temperature: typed.temperature = value
      case .labelSmoothing: typed.labelSmoothing = value
      case .upstream: typed.upstream = value
      case .vector, .classCount: break
      }
      var p = problem
      UndoEntry.Settings(typed).apply(to: &p)
      try p.validateSettings()
      edit = nil
      if p == problem && typed == entered {
        message = StatusMessage("unchanged")
        return .none
      }
      return commit(p, "\(e.field.label) = \(style(valueOf(e.field, in: p)))", entered: typed, change: .settings)
    } catch {
      message = StatusMessage("\(error.message)", isError: true)
      return .none
    }
  }

  func valueOf(_ field: EditField, in p: Problem) -> Double {
    switch field {
    case .logit(let i): p.logits[i]
    case .learningRate: p.learningRate
    case .temperature: p.temperature
    case .labelSmoothing: p.labelSmoothing
    case .upstream: p.upstream
    case .vector, .classCount: 0
    }
  }

  /// Confirms the `=` line: the vector is parsed by the parser of `--logits` and validated as the command line
  /// validates it, then replaces the logits as one undo step. A bad vector leaves the line open and the state as it
  /// was, with one line naming what is wrong.
  mutating func confirmVector(_ e: EditLine) -> ProblemChange {
    let values: [Double]
    do {
      values = try NumberListParser.parseList(e.text.description, what: "logit")
    } catch {
      message = StatusMessage("\(error.message)", isError: true)
      return .none
    }
    return replaceLogits(values, "logits = \(values.count == 1 ? "1 class" : "\(values.count) classes")") ?? .none
  }

  /// Confirms the `#` line: a vector of that many seeded random logits (`SeededRandom.logits`, scale 1, as
  /// `--random C --seed S` makes), as one undo step; the message names the seed that reproduces it.
  mutating func confirmRandom(_ e: EditLine) -> ProblemChange {
    let limit = NumberListParser.maximumCount
    let digits = e.text.description
    guard let count = Int(digits), (1...limit).contains(count) else {
      message = StatusMessage(
        digits.isEmpty
          ? "type a number of classes (1…\(limit))"
          : "\(digits) classes: the number of classes must be in 1…\(limit) (2^20)",
        isError: true)
      return .none
    }
    let seed = nextRandomSeed
    let values = SeededRandom.logits(count: count, seed: seed, scale: 1)
    guard let change = replaceLogits(values, "\(count) random logits: --random \(count) --seed \(Int(seed))") else {
      return .none
    }
    nextRandomSeed &+= 1
    return change
  }

  /// Replaces the logits with `values` (as entered; the problem holds them rounded into the precision) as one undo
  /// step. The target stays when it is a class of the new vector, else it becomes the last class; a soft target
  /// fixes the number of classes. Returns what changed, or nil when refused (the reason in `message`, the edit line
  /// left open).
  mutating func replaceLogits(_ values: [Double], _ text: TextLine) -> ProblemChange? {
    guard edit != nil else { return nil }
    var typed = entered
    var note = text
    if let soft = typed.softTarget, soft.count != values.count {
      message = StatusMessage(
        "\(values.count) logits given, but the soft target fixes the number of classes at \(soft.count)", isError: true)
      return nil
    }
    let sameShape = values.count == typed.classes
    typed.logits = values
    if typed.target >= values.count {
      typed.target = values.count - 1
      note += "; the target moves to class \(typed.target)"
    }
    do {
      let v = try typed.validated()
      edit = nil
      if v == problem && typed == entered {
        message = StatusMessage("unchanged")
        return ProblemChange.none
      }
      // The same number of classes: only the logits change (the target stays); else the whole problem.
      return commit(v, note, entered: typed, change: sameShape ? .logits : .problem)
    } catch {
      message = StatusMessage("\(error.message)", isError: true)
      return nil
    }
  }

  mutating func nudge(row: Int, by delta: Double) -> ProblemChange {
    guard problem.logits.indices.contains(row) else { return .none }
    let old = problem.logits[row]
    if old == -.infinity {
      message = StatusMessage("x_\(row) is masked (-inf); edit it to unmask", isError: true)
      return .none
    }
    do {
      let v = try problem.validatedLogit(old + delta, at: row)
      let style = NumberStyle(precision: problem.precision, full: true)
      if v == old {
        message = StatusMessage(
          "x_\(row) + \(TextLine(compact: delta)) rounds back to \(style(old)) in "
            + "\(problem.precision.rawValue); enlarge the step with ]",
          isError: true)
        return .none
      }
      return commitLogit(row, v, "x_\(row) = \(style(v))")
    } catch {
      message = StatusMessage("\(error.message)", isError: true)
      return .none
    }
  }

  mutating func addClass() -> ProblemChange {
    if problem.softTarget != nil {
      message = StatusMessage("a soft target fixes the number of classes; cannot add", isError: true)
      return .none
    }
    if problem.classes >= NumberListParser.maximumCount {
      message = StatusMessage("at most \(NumberListParser.maximumCount) classes", isError: true)
      return .none
    }
    var p = problem
    p.logits.insert(0, at: selection + 1)
    if p.target > selection { p.target += 1 }
    var e = entered
    e.logits.insert(0, at: selection + 1)
    e.target = p.target
    do {
      let v = try p.validated()
      let change = commit(v, "added class \(selection + 1) with x = 0", entered: e)
      select(selection + 1)
      return change
    } catch {
      message = StatusMessage("\(error.message)", isError: true)
      return .none
    }
  }

  mutating func removeClass() -> ProblemChange {
    if problem.classes == 1 {
      message = StatusMessage("cannot remove the last class: softmax needs at least one", isError: true)
      return .none
    }
    if problem.softTarget != nil {
      message = StatusMessage("a soft target fixes the number of classes; cannot remove", isError: true)
      return .none
    }
    var p = problem
    let r = selection
    p.logits.remove(at: r)
    var note: TextLine = "removed class \(r)"
    if p.target > r {
      p.target -= 1
    } else if p.target == r {
      p.target = Swift.min(r, p.classes - 1)
      note += "; the target moves to class \(p.target)"
    }
    var e = entered
    e.logits.remove(at: r)
    e.target = p.target
    do {
      let v = try p.validated()
      return commit(v, note, entered: e)
    } catch {
      message = StatusMessage("\(error.message)", isError: true)
      return .none
    }
  }

  mutating func takeStep(_ current: Evaluation?) -> ProblemChange {
    let ev = current.flatMap { $0.problem == problem ? $0 : nil } ?? Evaluation(problem)
    guard let next = ev.stepped else {
      message = StatusMessage("step refused: \(ev.stepRefusal ?? "not finite")", isError: true)
      return .none
    }
    if next.logits == problem.logits {
      message = StatusMessage("the step changes nothing at this precision (∇ rounds to 0 or η·∇ below half an ulp)")
      return .none
    }
    // The step's logits are what is now entered; the knobs stay as entered (a step in bfloat16 keeps η = 0.1).
    var e = entered
    e.logits = next.logits
    return commit(
      next, "stepped: loss \(DecimalFormat.significant(ev.loss)) → \(DecimalFormat.significant(ev.updatedLoss))",
      entered: e, change: .logits)
  }

  mutating func applyPreset(offset: Int) -> ProblemChange {
    let presets = Preset.all
    let index: Int
    if let i = presetIndex {
      index = ((i + offset) % presets.count + presets.count) % presets.count
    } else {
      index = offset >= 0 ? 0 : presets.count - 1
    }
    let preset = presets[index]
    do {
      let v = try preset.problem.validated()
      presetIndex = index
      let change = commit(v, "preset \(index + 1)/\(presets.count): \(preset.name)", entered: preset.problem)
      selection = v.target
      cursorI = v.target
      cursorN = v.target
      if screen == .explore { screen = .stability }
      stabilitySection = preset.section
      return change
    } catch {
      message = StatusMessage("preset \(preset.name) failed: \(error.message)", isError: true)
      return .none
    }
  }

  mutating func descentStep() {
    if descent.history.isEmpty || descent.start != problem {
      let (rate, running) = (descent.rate, descent.running)
      descent = DescentState(start: problem)
      descent.rate = rate
      descent.running = running
      let first = Evaluation(problem)
      descent.last.evaluation = first
      descent.history = [DescentRecord(first, step: 0)]
    }
    guard let last = descent.history.last else { return }
    var p = descent.start
    p.logits = last.logits
    var ev = descent.last.take(of: p)
    guard let next = ev.stepped else {
      descent.running = false
      message = StatusMessage("descent stopped: \(ev.stepRefusal ?? "step not finite")", isError: true)
      descent.last.evaluation = ev
      return
    }
    if next.logits == p.logits {
      descent.running = false
      message = StatusMessage("descent stopped: the step no longer changes the logits at this precision")
      descent.last.evaluation = ev
      return
    }
    descent.steps += 1
    // The next point is evaluated in the last point's arrays (at 131,072 classes each evaluation is ~14 MB, and a
    // second one alongside would be the run's peak).
    if !ev.update(to: next) { ev = Evaluation(next) }
    descent.last.evaluation = ev
    descent.history.append(DescentRecord(ev, step: descent.steps))
    if descent.history.count > DescentState.historyLimit(classes: p.classes) { descent.history.removeFirst() }
  }
}

extension DescentState {
  /// Points kept for the plot and table (fewer for huge vectors).
  static func historyLimit(classes: Int) -> Int { Swift.max(8, Swift.min(400, (1 << 20) / Swift.max(1, classes))) }
}

extension DescentRecord {
  init(_ ev: Evaluation, step: Int) {
    let t = ev.problem.target
    self.init(
      step: step, loss: ev.loss, targetProbability: ev.softmax[t],
      logitSum: ev.problem.logits.reduce(0) { $1.isFinite ? $0 + $1 : $0 }, logits: ev.problem.logits)
  }
}
