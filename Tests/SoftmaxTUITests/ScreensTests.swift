import Foundation
import SoftmaxCore
import SoftmaxText
import Testing

@testable import SoftmaxTUI

/// An explorer on the Stability screen with preset `index` (0-based) applied.
func stabilityPreset(_ index: Int) -> Explorer {
  var e = Explorer(problem: Problem(logits: [1, 2, 3], target: 2))
  e.perform(.showScreen(.stability))
  for _ in 0...index { e.perform(.nextPreset) }
  return e
}

/// An explorer on a given screen for a validated problem.
func explorer(_ problem: Problem, screen: Screen) throws -> Explorer {
  var e = Explorer(problem: try problem.validated())
  e.perform(.showScreen(screen))
  return e
}

/// The body rows of a rendered screen (without the top bar and the status line, which `Frame` draws).
func bodyLines(_ buf: Buffer) -> [String] {
  guard buf.height > 2 else { return [] }
  return (1..<(buf.height - 1)).map { buf.line($0) }
}

/// The column range (in cells) of the word `header` on the row that contains it, widened to the left by `width − 1`
/// cells, i.e. the cells of a right-aligned column headed by `header`.
func column(_ header: String, width: Int, in buf: Buffer) -> (x: Range<Int>, y: Int)? {
  guard let p = find(header, in: buf) else { return nil }
  let end = p.x + header.unicodeScalars.count
  return (Swift.max(0, end - width)..<end, p.y)
}

/// The text of cells `x` on row `y`.
func cells(_ buf: Buffer, _ x: Range<Int>, _ y: Int) -> String {
  var s = String.UnicodeScalarView()
  for k in x { s.append(buf[k, y].scalar) }
  return String(s).trimmingCharacters(in: .whitespaces)
}

@Suite("Screens: snapshots")
struct ScreenSnapshotTests {
  @Test func derivation() throws {
    var e = try explorer(Problem(logits: [1, 2, 3], target: 2), screen: .derivation)
    e.perform(.setCursor(i: 0, n: 2))
    assertSnapshot(screen(e, 120, 40).text, named: "derivation-120x40")
    assertSnapshot(screen(e, 80, 24).text, named: "derivation-80x24")
    e.perform(.scroll(10))
    assertSnapshot(screen(e, 80, 24).text, named: "derivation-80x24-scrolled")
  }

  @Test func derivationOverflowAndTemperature() throws {
    var e = try explorer(
      Problem(logits: [1000, 1001, 1002], target: 2, temperature: 2), screen: .derivation)
    e.perform(.setCursor(i: 2, n: 2))
    assertSnapshot(screen(e, 120, 40).text, named: "derivation-overflow-tau-120x40")
  }

  @Test func stabilityOverflowPreset() {
    let e = stabilityPreset(0)
    assertSnapshot(screen(e, 120, 40).text, named: "stability-overflow-120x40")
    assertSnapshot(screen(e, 80, 24).text, named: "stability-overflow-80x24")
    assertSnapshot(
      screen(e, 80, 24, RenderContext(colorMode: .none, unicode: false)).text,
      named: "stability-overflow-80x24-ascii")
  }

  @Test func stabilityFloat16SumPreset() {
    var e = stabilityPreset(3)
    assertSnapshot(screen(e, 120, 40).text, named: "stability-float16-120x40")
    assertSnapshot(screen(e, 80, 24).text, named: "stability-float16-80x24")
    e.handle(.key(.character("v")))
    e.handle(.key(.character("v")))
    e.handle(.key(.character("v")))
    assertSnapshot(screen(e, 80, 24).text, named: "stability-float16-80x24-loss")
  }

  @Test func descent() throws {
    var e = try explorer(Problem(logits: [1, 2, 3], target: 0), screen: .descent)
    for _ in 0..<30 { e.perform(.descentStep) }
    assertSnapshot(screen(e, 120, 40).text, named: "descent-120x40")
    assertSnapshot(screen(e, 80, 24).text, named: "descent-80x24")
  }

  @Test func descentOvershoot() throws {
    var e = try explorer(
      Problem(logits: [1, 2, 3], target: 0, labelSmoothing: 0.1, learningRate: 50), screen: .descent
    )
    for _ in 0..<12 { e.perform(.descentStep) }
    assertSnapshot(screen(e, 80, 24).text, named: "descent-overshoot-80x24")
  }
}

@Suite("Derivation")
struct DerivationTests {
  static let problems: [Problem] = [
    Problem(logits: [1, 2, 3], target: 2),
    Problem(logits: [1, 2, 3], target: 0, temperature: 0.5),
    Problem(logits: [0.5, -1, 2, 0], target: 1, temperature: 3),
    Problem(logits: [1, 2, 3], target: 1, labelSmoothing: 0.1),
    Problem(
      logits: [2, -1, 0.25], target: 0, temperature: 0.7, labelSmoothing: 0.2, upstream: 2.5),
    Problem(logits: [1, 2, 3], softTarget: [0.2, 0.3, 0.5]),
    Problem(logits: [1000, 1001, 1002], target: 2),
    Problem(logits: [1, 2, 3], target: 2, precision: .float32),
    Problem(logits: [1, 2, 3], target: 2, precision: .float16),
  ]

  @Test(arguments: problems)
  func threeNumbersAgree(_ problem: Problem) throws {
    let ev = Evaluation(try problem.validated())
    for n in 0..<problem.classes {
      let check = DerivationView.Check(ev, n: n)
      #expect(
        check.agrees,
        "n = \(n): chain \(check.chain), closed \(check.closed), FD \(String(describing: check.finite))"
      )
      #expect(check.check.chainError <= check.check.chainTolerance)
      if let fd = check.finite { #expect(fd.error <= fd.tolerance) }
    }
  }

  @Test func verdictOnScreenAndResubstitution() throws {
    var e = try explorer(
      Problem(logits: [1, 2, 3], target: 1, labelSmoothing: 0.1), screen: .derivation)
    var text = screen(e, 120, 40).text
    #expect(text.contains("✓ all three agree"))
    #expect(text.contains("closed form s − y"))
    for _ in 0..<10 { e.handle(.key(.pageDown)) }
    text = screen(e, 120, 40).text
    #expect(text.contains("∂l/∂x_1 ="))
    e.handle(.key(.right))
    text = screen(e, 120, 40).text
    #expect(e.state.cursorN == 2)
    #expect(text.contains("∂c/∂x_2 = s_2 − y_2 = 0.6652 − 0.03333 = 0.6319"))
    #expect(text.contains("∂l/∂x_2 = 1 × 0.6319 = 0.6319"))
  }

  @Test func chainRuleFailsHonestlyWhenTargetUnderflows() throws {
    // s_0 = e^{-200} is 0 in float32: −1/s_T = −inf, so the chain-rule product is NaN; the closed form is fine.
    let ev = Evaluation(try Problem(logits: [0, 200], target: 0, precision: .float32).validated())
    let check = DerivationView.Check(ev, n: 1)
    #expect(!check.agrees)
    #expect(check.reason.description.contains("s_T rounds to 0"))
  }

  @Test func chainRuleFailsHonestlyOnScreen() throws {
    // The chain rule is NaN (s_T = 0 in float32): the screen says it cannot settle it, never "✓ all three agree".
    let e = try explorer(Problem(logits: [0, 200], target: 0, precision: .float32), screen: .derivation)
    let text = screen(e, 120, 40).text
    #expect(text.contains("? no contradiction, but float32 cannot settle it"))
    #expect(!text.contains("all three agree"))
  }

  @Test func overflowShowsStableForm() throws {
    let e = try explorer(Problem(logits: [1000, 1001, 1002], target: 2), screen: .derivation)
    let text = screen(e, 120, 40).text
    #expect(text.contains("e^{1002} overflows float64 above 709.78"))
    #expect(text.contains("Σ_j e^{z_j − M} = 0.1353 + 0.3679 + 1.000 = 1.503"))
  }

  /// Step 1 writes σ's terms with `=` when every e^{z_j} is exact in float64, and with `→` when one overflows or
  /// underflows there (it is then not the exact value).
  @Test func normaliserTermsSayWhenTheyAreNotExact() throws {
    for (logits, exact) in [
      ([1.0, 2, 3], true), ([1000, 1001, 1002], false), ([-800, 0, 1], false), ([-700, 0], true),
    ] {
      let e = try explorer(Problem(logits: logits, target: 1), screen: .derivation)
      let text = screen(e, 120, 40).text
      guard let line = text.split(separator: "\n").first(where: { $0.contains("     = e^{") }) else {
        Issue.record("no σ line for \(logits)")
        continue
      }
      #expect(line.contains(" → ") != exact, "\(logits): \(line)")
    }
  }

  @Test func scrollIsClamped() throws {
    var e = try explorer(Problem(logits: [1, 2, 3], target: 2), screen: .derivation)
    for _ in 0..<20 { e.handle(.key(.pageDown)) }
    let text = screen(e, 80, 24).text
    #expect(text.contains("PgUp/PgDn"))
    #expect(text.contains("∂l/∂x_2 = 1 × (−0.3348) = −0.3348"))
  }
}

@Suite("Stability lab")
struct StabilityTests {
  @Test func float16SumOverflowPreset() throws {
    let e = stabilityPreset(3)
    #expect(e.state.problem.logits == [11, 11] && e.state.problem.precision == .float16)
    let comparison = try #require(e.comparison)
    let f16 = try comparison.columns[0].result.get()
    #expect(f16.overflow.sumOverflowsWithFiniteTerms)
    #expect(f16.overflow.outcome == .zeros)
    #expect((0..<2).allSatisfy { f16.naiveExp($0).isFinite })
    #expect((0..<2).map(f16.naiveProbability) == [0, 0])
    let buf = screen(e, 80, 24)
    let col = try #require(column("•float16", width: 14, in: buf))
    let s0 = try #require(find("s_0", in: buf))
    let s1 = try #require(find("s_1", in: buf))
    #expect(cells(buf, col.x, s0.y) == "0↓")
    #expect(cells(buf, col.x, s1.y) == "0↓")
    #expect(buf.text.description.contains("every e^{z_i} is finite (e^{11} = 59872) but σ overflows"))
    #expect(buf.text.description.contains("Preset 4/9 \"sum overflow\""))
  }

  @Test func overflowPresetShowsNaNInFloat64NaiveColumn() throws {
    let e = stabilityPreset(0)
    let f64 = try #require(e.comparison).columns[3].result.get()
    #expect((0..<f64.problem.classes).allSatisfy { f64.naiveProbability($0).isNaN })
    let buf = screen(e, 80, 24)
    let col = try #require(column("•float64", width: 14, in: buf))
    for label in ["s_0", "s_1", "T s_2"] {
      let row = try #require(find(label, in: buf))
      #expect(cells(buf, col.x, row.y) == "NaN✗", "row \(label)")
    }
    let e0 = try #require(find("e^{x_0}", in: buf))
    #expect(cells(buf, col.x, e0.y) == "inf↑")
    #expect(
      screen(e, 120, 40).text.description.contains(
        "e^{1002} overflows float64 above 709.78: σ = inf, so inf/inf = NaN"))
  }

  @Test func overflowMarksUseTheErrorStyle() throws {
    let e = stabilityPreset(0)
    for ctx in [
      RenderContext(colorMode: .extended), RenderContext(colorMode: .basic),
      RenderContext(colorMode: .none),
    ] {
      let buf = screen(e, 80, 24, ctx)
      let col = try #require(column("•float64", width: 14, in: buf))
      let row = try #require(find("e^{x_0}", in: buf))
      let x = try #require(col.x.first { buf[$0, row.y].scalar == "i" })
      #expect(buf[x, row.y].style == ctx.error)
      #expect(buf[x + 3, row.y].scalar == "↑")
    }
    // Without colour the error style still differs from plain text (bold + reverse), and ASCII keeps a mark.
    let ascii = screen(e, 80, 24, RenderContext(colorMode: .none, unicode: false))
    #expect(ascii.text.description.contains("inf^"))
    #expect(ascii.text.description.contains("NaNX"))
  }

  @Test func lossSectionMeasuresUlps() throws {
    let e = stabilityPreset(4)  // [0, 200] in float32, T = 0: s_0 underflows; the preset opens on the loss
    #expect(e.state.stabilitySection == .loss)
    let buf = screen(e, 120, 40)
    let text = buf.text
    #expect(text.contains("exact (Float80)"))
    let col = try #require(column("•float32", width: 20, in: buf))
    let stable = try #require(find("−log stable s_T", in: buf))
    #expect(cells(buf, col.x, stable.y) == "inf↑")
    #expect(cells(buf, col.x, stable.y + 1) == "inf✗")
    let lse = try #require(find("log-sum-exp form", in: buf))
    #expect(cells(buf, col.x, lse.y) == "200.0")
    #expect(cells(buf, col.x, lse.y + 1) == "0 ulp")
  }

  @Test func ulpsHelper() {
    #expect(StabilityView.ulps(1, exact: 1, precision: .float32) == 0)
    #expect(StabilityView.ulps(1 + 0x1p-23, exact: 1, precision: .float32) == 1)
    #expect(StabilityView.ulps(.infinity, exact: 1, precision: .float64) == .infinity)
    #expect(StabilityView.ulps(.nan, exact: 1, precision: .float64).isNaN)
  }

  @Test func inputErrorColumn() throws {
    // 1e5 is beyond float16 (and bfloat16 keeps it): the float16 column shows why instead of numbers.
    let e = try explorer(Problem(logits: [1e5, 0], target: 0), screen: .stability)
    let text = screen(e, 120, 40).text
    #expect(text.contains("cannot hold the input"))
    #expect(
      text.contains("float16:  cannot hold the input: logit 0 = 100000 is not finite in float16"))
  }

  @Test func largeVectorIsWindowedAroundTheSelection() throws {
    let e = stabilityPreset(8)  // GPT-2 vocabulary, target 464
    let text = screen(e, 80, 24).text
    #expect(text.contains("of 50257"))
    #expect(text.contains("e^{x_464}"))
  }

  @Test func sectionKeyCyclesAndIsDocumented() throws {
    var e = stabilityPreset(0)
    var seen: [StabilitySection] = []
    for _ in 0..<5 {
      seen.append(e.state.stabilitySection)
      e.handle(.key(.character("v")))
    }
    #expect(seen == StabilitySection.allCases)
    #expect(e.state.stabilitySection == .naive)
    #expect(KeyMap.help.contains { $0.keys == "v" })
    var d = try explorer(Problem(logits: [1, 2], target: 0), screen: .derivation)
    d.handle(.key(.character("v")))
    #expect(d.state.stabilitySection == .naive)
  }

  @Test func thresholdsAreComputed() {
    var e = stabilityPreset(2)
    for _ in 0..<4 { e.handle(.key(.character("v"))) }
    #expect(e.state.stabilitySection == .limits)
    let text = screen(e, 80, 24).text
    #expect(text.contains("e^x = inf above"))
    #expect(text.contains(DecimalFormat.significant(Precision.float16.facts.expOverflow)))
    // Unicode mode draws a negative number with the minus sign.
    #expect(
      text.contains(DecimalFormat.significant(Precision.float64.facts.expZero).replacingOccurrences(of: "-", with: "−"))
    )
  }
}

@Suite("Descent")
struct DescentTests {
  @Test func smallStepsDecreaseTheLossAndKeepTheSum() throws {
    for problem in [
      Problem(logits: [1, 2, 3], target: 0),
      Problem(logits: [0.5, -2, 4, 1], target: 1, learningRate: 0.5),
      Problem(logits: [1, 2, 3], target: 0, precision: .float32),
    ] {
      var e = try explorer(problem, screen: .descent)
      for _ in 0..<60 { e.perform(.descentStep) }
      let h = e.state.descent.history
      #expect(h.count == 61)
      for k in 1..<h.count { #expect(h[k].loss < h[k - 1].loss, "step \(h[k].step)") }
      #expect(h.last!.targetProbability > h.first!.targetProbability)
      let eps = problem.precision.facts.ulpOfOne
      for r in h { #expect(abs(r.logitSum - h[0].logitSum) <= 64 * eps * 8) }
      #expect(!screen(e, 80, 24).text.description.contains("▲"))
      #expect(screen(e, 80, 24).text.description.contains("✓ c fell at every step"))
    }
  }

  /// Each point is evaluated once (the next step starts from the cached evaluation): the history must be what
  /// stepping by hand from fresh evaluations gives, bit for bit.
  @Test func stepsMatchFreshEvaluations() throws {
    for problem in [
      Problem(logits: [1, 2, 3], target: 0, learningRate: 0.7),
      Problem(logits: [0.5, -2, 4, 1], target: 1, precision: .bfloat16, temperature: 0.5, labelSmoothing: 0.1),
    ] {
      var e = try explorer(problem, screen: .descent)
      for _ in 0..<15 { e.perform(.descentStep) }
      var p = try problem.validated()
      for record in e.state.descent.history {
        let ev = Evaluation(p)
        #expect(record.logits == p.logits)
        #expect(record.loss.bitPattern == ev.loss.bitPattern)
        #expect(record.targetProbability.bitPattern == ev.softmax[p.target].bitPattern)
        p = try #require(ev.stepped)
      }
    }
  }

  @Test func sumStaysConstantWithSmoothingToo() throws {
    var e = try explorer(
      Problem(logits: [1, 2, 3], target: 0, labelSmoothing: 0.2, learningRate: 1), screen: .descent)
    for _ in 0..<40 { e.perform(.descentStep) }
    let h = e.state.descent.history
    for r in h { #expect(abs(r.logitSum - 6) <= 1e-13) }
    #expect(screen(e, 120, 40).text.description.contains("Σ∇ = g(Σs − Σy)/τ = 0: smoothed/soft"))
  }

  /// With a one-hot target, x − η(s − e_T) raises every margin x_T − x_j, so the loss falls for any η: overshoot needs
  /// a target the softmax cannot reach exactly, such as a smoothed one.
  @Test func largeStepOvershootIsMarked() throws {
    var oneHot = try explorer(
      Problem(logits: [1, 2, 3], target: 0, learningRate: 50), screen: .descent)
    for _ in 0..<12 { oneHot.perform(.descentStep) }
    let h1 = oneHot.state.descent.history
    #expect((1..<h1.count).allSatisfy { h1[$0].loss <= h1[$0 - 1].loss })

    var e = try explorer(
      Problem(logits: [1, 2, 3], target: 0, labelSmoothing: 0.1, learningRate: 50), screen: .descent
    )
    for _ in 0..<12 { e.perform(.descentStep) }
    let h = e.state.descent.history
    let rose = (1..<h.count).filter { h[$0].loss > h[$0 - 1].loss }
    #expect(!rose.isEmpty)
    let buf = screen(e, 80, 24)
    #expect(buf.text.description.contains("▲"))
    #expect(buf.text.description.contains("c rose at \(rose.count) of \(h.count - 1) steps"))
    // The loss of a step that rose is drawn in the error style in the table.
    let row = try #require(find("▲", in: buf))
    #expect(buf[row.x, row.y].style == RenderContext().error)
  }

  @Test func runKeepsRunningAndResetKeepsTheRate() throws {
    var e = try explorer(Problem(logits: [1, 2, 3], target: 0), screen: .descent)
    e.handle(.key(.character(">")))
    e.handle(.key(.character(" ")))
    #expect(e.state.descent.running)
    for _ in 0..<5 { e.handle(.tick) }
    #expect(e.state.descent.running)
    #expect(e.state.descent.steps == 5)
    #expect(e.state.descent.rate == 16)
    e.handle(.key(.character("r")))
    #expect(
      e.state.descent.history.isEmpty && e.state.descent.rate == 16 && !e.state.descent.running)
  }

  @Test func changingTheProblemRestartsTheRun() throws {
    var e = try explorer(Problem(logits: [1, 2, 3], target: 0), screen: .descent)
    for _ in 0..<5 { e.perform(.descentStep) }
    e.perform(.beginEdit(.learningRate))
    e.perform(.editKey(.backspace))
    e.perform(.editKey(.backspace))
    e.perform(.editKey(.backspace))
    for ch in "0.5" { e.perform(.editInsert(ch)) }
    e.perform(.editConfirm)
    #expect(e.state.problem.learningRate == 0.5)
    #expect(screen(e, 80, 24).text.description.contains("Run: step 0 · ready"))
    e.perform(.descentStep)
    #expect(e.state.descent.history.count == 2 && e.state.descent.start.learningRate == 0.5)
  }
}

@Suite("Screens: robustness")
struct ScreenRobustnessTests {
  static let contexts = [
    RenderContext(), RenderContext(colorMode: .basic),
    RenderContext(colorMode: .none, unicode: false),
  ]

  func explorers() throws -> [Explorer] {
    var list: [Explorer] = []
    for screen in [Screen.derivation, .stability, .descent] {
      for problem in [
        Problem(logits: [1, 2, 3], target: 2),
        Problem(logits: [5], target: 0),
        Problem(logits: [0, -.infinity, 3], target: 0, temperature: 0.25),
        Problem(logits: [-1000, -1001, -1002], target: 0, softTarget: nil),
        Problem(logits: [1, 2, 3], softTarget: [0.2, 0.3, 0.5]),
      ] {
        var e = try explorer(problem, screen: screen)
        if screen == .descent { for _ in 0..<3 { e.perform(.descentStep) } }
        list.append(e)
      }
    }
    return list
  }

  @Test func tinyAndOddSizesDoNotTrap() throws {
    for e in try explorers() {
      for ctx in Self.contexts {
        for (w, h) in [(0, 0), (1, 1), (20, 5), (64, 20), (200, 60)] { _ = screen(e, w, h, ctx) }
        // The views themselves, in any body rectangle, drawing only inside it.
        let ev = e.evaluation
        let comparison = PrecisionComparison(e.state.problem)
        for (w, h) in [
          (0, 0), (1, 1), (2, 2), (3, 3), (5, 3), (8, 4), (12, 9), (20, 5), (30, 8), (40, 14),
          (64, 18),
        ] {
          var buf = Buffer(width: w + 4, height: h + 4)
          let body = Rect(x: 2, y: 2, width: w, height: h)
          switch e.state.screen {
          case .derivation: DerivationView.render(e.state, ev, into: &buf, body: body, context: ctx)
          case .stability:
            StabilityView.render(e.state, comparison: comparison, into: &buf, body: body, context: ctx)
          default: DescentView.render(e.state, ev, into: &buf, body: body, context: ctx)
          }
          for y in 0..<buf.height {
            for x in 0..<buf.width where !body.contains(x: x, y: y) {
              #expect(
                buf[x, y] == .blank, "\(e.state.screen) drew outside \(w)×\(h) at (\(x), \(y))")
            }
          }
        }
      }
    }
  }

  @Test func asciiModeIsPureASCII() throws {
    for e in try explorers() {
      let buf = screen(e, 100, 30, RenderContext(colorMode: .none, unicode: false))
      for line in bodyLines(buf) {
        #expect(line.unicodeScalars.allSatisfy { $0.isASCII }, "\(e.state.screen): \(line)")
      }
    }
  }

  @Test func hugeVectorRendersQuickly() throws {
    let problem = Problem(
      logits: SeededRandom.logits(count: 131_072, seed: 7, scale: 3), target: 1000)
    var e = try explorer(problem, screen: .stability)
    e.perform(.selectRow(1000))
    let clock = ContinuousClock()
    var buf = Buffer(width: 0, height: 0)
    let elapsed = clock.measure {
      for screen in [Screen.stability, .derivation, .descent] {
        var s = e.state
        s.screen = screen
        s.stabilitySection = .naive
        Frame.render(
          s, e.evaluation, comparison: e.comparison, into: &buf, width: 120, height: 40,
          context: RenderContext())
      }
    }
    #expect(buf.text.description.contains("Loss c per step"))
    #expect(elapsed < .seconds(5), "three frames at C = 131072 took \(elapsed)")
  }
}
