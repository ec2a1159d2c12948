import SoftmaxCore
import Testing

@testable import SoftmaxTUI

@Suite("Update: keys change the state")
struct UpdateTests {
  @Test func selectionMovesAndClamps() throws {
    var e = try explorer([1, 2, 3], target: 0)
    #expect(e.state.selection == 0)
    type("jj", into: &e)
    #expect(e.state.selection == 2)
    type("j", into: &e)
    #expect(e.state.selection == 2)
    e.handle(.key(.up))
    #expect(e.state.selection == 1)
    type("kkk", into: &e)
    #expect(e.state.selection == 0)
  }

  @Test func editConfirmsAndCancels() throws {
    var e = try explorer([1, 2, 3], target: 0)
    type("j", into: &e)
    e.handle(.key(.enter))
    #expect(e.state.edit?.field == .logit(1))
    #expect(e.state.edit?.text == "2")
    e.handle(.key(.backspace))
    type("-0.5", into: &e)
    e.handle(.key(.enter))
    #expect(e.state.edit == nil)
    #expect(e.state.problem.logits == [1, -0.5, 3])
    #expect(e.evaluation.problem.logits == [1, -0.5, 3])
    // Esc leaves the value alone.
    type("e", into: &e)
    type("99", into: &e)
    e.handle(.key(.escape))
    #expect(e.state.problem.logits == [1, -0.5, 3])
  }

  @Test func badEditsAreRefusedAndStateKept() throws {
    var e = try explorer([1, 2, 3], target: 0, precision: .float16)
    let before = e.state.problem
    for bad in ["abc", "nan", "inf", "70000"] {
      type("e", into: &e)
      for _ in 0..<10 { e.handle(.key(.backspace)) }
      type(bad, into: &e)
      e.handle(.key(.enter))
      #expect(e.state.problem == before, "\(bad) changed the problem")
      #expect(e.state.message?.isError == true, "\(bad) gave no error")
      e.handle(.key(.escape))
    }
    type("e", into: &e)
    for _ in 0..<10 { e.handle(.key(.backspace)) }
    type("70000", into: &e)
    e.handle(.key(.enter))
    #expect(e.state.message?.text.description.contains("65504") == true)
  }

  @Test func nudgeStepSizeTargetAddRemove() throws {
    var e = try explorer([1, 2, 3], target: 0)
    type("+", into: &e)
    #expect(e.state.problem.logits[0] == 1.5)
    type("]", into: &e)
    type("-", into: &e)
    #expect(e.state.problem.logits[0] == 0.5)
    type("[[", into: &e)
    #expect(e.state.nudgeStep == 0.5 * 2 / 4)
    type("jjt", into: &e)
    #expect(e.state.problem.target == 2)
    type("a", into: &e)
    #expect(e.state.problem.logits == [0.5, 2, 3, 0])
    #expect(e.state.selection == 3)
    #expect(e.state.problem.target == 2)
    type("kx", into: &e)  // remove the target row (2)
    #expect(e.state.problem.logits == [0.5, 2, 0])
    #expect(e.state.problem.target == 2)
    type("xx", into: &e)
    #expect(e.state.problem.classes == 1)
    type("x", into: &e)
    #expect(e.state.problem.classes == 1)
    #expect(e.state.message?.isError == true)
  }

  @Test func stepUndoRedo() throws {
    var e = try explorer([1, 2, 3], target: 0)
    let start = e.state.problem
    let expected = e.evaluation.updatedLogits
    type("s", into: &e)
    #expect(e.state.problem.logits == expected)
    #expect(e.evaluation.loss < Evaluation(start).loss)
    type("u", into: &e)
    #expect(e.state.problem == start)
    e.handle(.key(.control("r")))
    #expect(e.state.problem.logits == expected)
  }

  @Test func precisionCyclesAndRefuses() throws {
    var e = try explorer([1, 2, 3], target: 0)
    type("p", into: &e)
    #expect(e.state.problem.precision == .float32)
    type("p", into: &e)
    #expect(e.state.problem.precision == .bfloat16)
    type("p", into: &e)
    #expect(e.state.problem.precision == .float16)
    type("p", into: &e)
    #expect(e.state.problem.precision == .float64)
    var big = try explorer([70000, 1], target: 0, precision: .float32)
    type("p", into: &big)  // float32 → bfloat16 works (bf16 has float32's range)
    #expect(big.state.problem.precision == .bfloat16)
    type("p", into: &big)  // float16 cannot hold 70000: skipped, saying why, on to float64
    #expect(big.state.problem.precision == .float64)
    #expect(big.state.problem.logits == [70000, 1])
    #expect(big.state.message?.text.description.contains("65504") == true)
  }

  @Test func knobsEditAndValidate() throws {
    var e = try explorer([1, 2, 3], target: 0)
    type("T", into: &e)
    for _ in 0..<5 { e.handle(.key(.backspace)) }
    type("0", into: &e)
    e.handle(.key(.enter))
    #expect(e.state.problem.temperature == 1)
    #expect(e.state.message?.isError == true)
    for _ in 0..<5 { e.handle(.key(.backspace)) }
    type("2", into: &e)
    e.handle(.key(.enter))
    #expect(e.state.problem.temperature == 2)
    type("E", into: &e)
    e.handle(.key(.backspace))
    type("0.1", into: &e)
    e.handle(.key(.enter))
    #expect(e.state.problem.labelSmoothing == 0.1)
    type("l", into: &e)
    for _ in 0..<5 { e.handle(.key(.backspace)) }
    type("0.5", into: &e)
    e.handle(.key(.enter))
    #expect(e.state.problem.learningRate == 0.5)
  }

  @Test func screensHelpQuit() throws {
    var e = try explorer([1, 2, 3])
    e.handle(.key(.tab))
    #expect(e.state.screen == .derivation)
    type("4", into: &e)
    #expect(e.state.screen == .descent)
    type("1?", into: &e)
    #expect(e.state.showHelp)
    type("q", into: &e)  // any key closes help, without quitting
    #expect(!e.state.showHelp)
    #expect(!e.state.quitRequested)
    #expect(e.handle(.key(.control("c"))) == false)
    var f = try explorer([1, 2, 3])
    #expect(f.handle(.key(.character("q"))) == false)
  }

  @Test func jacobianCursor() throws {
    var e = try explorer([1, 2, 3], target: 2)
    #expect(e.state.cursorI == 2 && e.state.cursorN == 2)
    type("HH", into: &e)
    #expect(e.state.cursorN == 0)
    e.handle(.key(.shiftUp))
    #expect(e.state.cursorI == 1)
    type("JJJ", into: &e)
    #expect(e.state.cursorI == 2)
  }

  @Test func mouseSelectsRowsAndCells() throws {
    var e = try explorer([1, 2, 3], target: 0)
    e.handle(.resize(width: 120, height: 40))
    let buf = screen(e)
    let row2 = try #require(find("0.6652", in: buf))
    e.handle(.mouse(MouseEvent(kind: .press, x: row2.x, y: row2.y)))
    #expect(e.state.selection == 2)
    e.handle(.mouse(MouseEvent(kind: .wheelUp, x: row2.x, y: row2.y)))
    #expect(e.state.problem.logits[2] == 3.5)
    let cell = try #require(find("−0.163", in: buf))
    e.handle(.mouse(MouseEvent(kind: .press, x: cell.x, y: cell.y)))
    // -0.163 is ∂s_1/∂x_2 = ∂s_2/∂x_1; the first on screen is row i=1, column n=2.
    #expect(e.state.cursorI == 1 && e.state.cursorN == 2)
  }

  @Test func updateIsPure() throws {
    let s = AppState(problem: try Problem(logits: [1, 2, 3]).validated())
    let t = update(s, .nudge(1))
    #expect(s.problem.logits == [1, 2, 3])
    #expect(t.problem.logits == [1.5, 2, 3])
  }
}

@Suite("Explore rendering")
struct ExploreRenderTests {
  @Test func snapshot120x40() throws {
    let e = try explorer([1, 2, 3], target: 0)
    assertSnapshot(screen(e, 120, 40).text, named: "explore-120x40")
  }

  @Test func snapshot80x24() throws {
    let e = try explorer([1, 2, 3], target: 0)
    assertSnapshot(screen(e, 80, 24).text, named: "explore-80x24")
  }

  @Test func snapshotAsciiNoColor() throws {
    var e = try explorer([1000, 1001, 1002], target: 2)
    type("HK", into: &e)
    assertSnapshot(
      screen(e, 80, 24, RenderContext(colorMode: .none, unicode: false)).text, named: "explore-80x24-ascii")
  }

  @Test func numbersOnScreenMatchTheCore() throws {
    let e = try explorer([1, 2, 3], target: 0)
    let text = screen(e).text
    for v in ["0.09003", "0.2447", "0.6652", "2.408", "−0.9100"] { #expect(text.contains(v), "missing \(v)") }
    // The inspector substitutes the numbers for the diagonal cell at T.
    #expect(text.contains("= 0.09003 × (1 − 0.09003)"))
  }

  @Test func fullDigitsToggle() throws {
    var e = try explorer([1, 2, 3], target: 0)
    type("f", into: &e)
    let text = screen(e, 160, 40).text
    #expect(text.contains("0.6652409557748219"))
  }

  @Test func heatmapColoursAndTargetMark() throws {
    var e = try explorer([1, 2, 3], target: 2)
    type("HH", into: &e)  // cursor to (2, 0)
    let buf = screen(e)
    // The diagonal entry for i = n = 1 is positive (blue background); off-diagonal negative (red).
    let pos = try #require(find("+0.185", in: buf))
    let neg = try #require(find("−0.163", in: buf))
    let blues: Set<UInt8> = [17, 18, 19, 20, 21]
    let reds: Set<UInt8> = [52, 88, 124, 160, 196]
    if case .indexed(let b) = buf[pos.x, pos.y].style.background {
      #expect(blues.contains(b))
    } else {
      Issue.record("no background")
    }
    if case .indexed(let r) = buf[neg.x, neg.y].style.background {
      #expect(reds.contains(r))
    } else {
      Issue.record("no background")
    }
    // Stronger magnitude, more intense colour: +0.223 (diagonal at T) vs +0.0819.
    let strong = try #require(find("+0.223", in: buf))
    let weak = try #require(find("+0.0819", in: buf))
    if case .indexed(let a) = buf[strong.x, strong.y].style.background,
      case .indexed(let b) = buf[weak.x, weak.y].style.background
    {
      #expect(a > b)
    }
    // The cursor cell is reversed.
    var sized = e
    sized.handle(.resize(width: 120, height: 40))
    let layout = ExploreLayout(state: sized.state, body: Frame.body(width: 120, height: 40))
    let cx = layout.jacobianFirstX + (0 - layout.jacobianColumns.lowerBound) * layout.cellWidth
    let cy = layout.jacobianFirstY + (2 - layout.jacobianRows.lowerBound)
    #expect(buf.line(cy).contains("−0.0599"))
    #expect(buf[cx + 2, cy].style.attributes.contains(.reverse))
    // The target row is marked with T and the target style.
    let tRow = try #require(find("0.6652", in: buf))
    let lineText = buf.line(tRow.y)
    #expect(lineText.contains("T2"))
    #expect(buf[tRow.x, tRow.y].style.foreground == .yellow)
    // Without colour the signs still carry meaning.
    let plain = screen(e, 120, 40, RenderContext(colorMode: .none, unicode: true))
    #expect(plain.text.description.contains("+0.185") && plain.text.description.contains("−0.163"))
    #expect(plain.cells.allSatisfy { $0.style.foreground == .default && $0.style.background == .default })
  }

  @Test func naiveFailureIsReported() throws {
    let e = try explorer([1000, 1001, 1002], target: 2)
    let text = screen(e).text
    #expect(text.contains("overflow"))
    #expect(text.contains("709.78"))
  }

  @Test(arguments: [(0, 0), (1, 1), (20, 5), (63, 19), (64, 20), (300, 100), (2, 40), (200, 3)])
  func tinyAndOddSizesDoNotTrap(_ size: (Int, Int)) throws {
    for screenKey in ["1", "2", "3", "4"] {
      var e = try explorer([1, 2, 3, -.infinity], target: 1)
      type(screenKey, into: &e)
      let buf = screen(e, size.0, size.1)
      #expect(buf.width == size.0 && buf.height == size.1)
      type("?", into: &e)
      _ = screen(e, size.0, size.1)
    }
  }

  @Test func tooSmallSaysEnlarge() throws {
    let e = try explorer([1, 2, 3])
    let text = screen(e, 40, 10).text
    #expect(text.contains("enlarge to 64×20"))
    #expect(screen(e, 80, 24).text.description.contains("Jacobian"))
  }

  @Test func hugeVectorRendersAWindow() throws {
    let x = SeededRandom.logits(count: 131_072, seed: 7, scale: 2)
    var e = Explorer(problem: try Problem(logits: x, target: 5).validated())
    e.handle(.key(.end))
    let text = screen(e, 120, 40).text
    #expect(text.contains("131071"))
    #expect(text.contains("of 131072"))
  }
}

/// The caches updated in place stay the caches of the current problem.
@Suite("In-place updates keep the caches of the current problem")
struct InPlaceCacheTests {
  /// A reviewer's case: the problem changes off the lab (the evaluation is updated in place), then the lab is shown
  /// again with the problem it last showed. The lab's columns must be that problem's, not a mix of the two.
  @Test func theLabAfterAnEditElsewhere() throws {
    let a = try Problem(logits: [1000, 1001, 1002], target: 2).validated()
    let b = try Problem(logits: [1, 2, 3], target: 2).validated()
    var explorer = Explorer(problem: a)
    explorer.perform(.showScreen(.stability))
    var s = explorer.state
    s.screen = .explore
    s.problem = b
    explorer.setState(s)
    #expect(explorer.evaluation.problem == b)
    s.screen = .stability
    s.problem = a
    explorer.setState(s)
    #expect(explorer.evaluation.problem == a)
    let comparison = try #require(explorer.comparison)
    let fresh = PrecisionComparison.evaluate(a).1
    #expect(comparison.own?.problem == a)
    #expect(comparison.own?.overflow.outcome == .nan, "float64 overflows at 1002")
    for (x, y) in zip(comparison.columns, fresh.columns) {
      #expect((try? x.result.get())?.problem == (try? y.result.get())?.problem, "\(x.precision)")
      #expect((try? x.result.get())?.loss.bitPattern == (try? y.result.get())?.loss.bitPattern, "\(x.precision)")
    }
  }

  /// A soft target rounded into float16 no longer sums to 1 within 1e-6; validating the validated problem again (as
  /// a knob edit or a precision change does) must accept it, as a logit edit does.
  @Test func aRoundedSoftTargetStaysValid() throws {
    let p = try Problem(logits: [1, 2], precision: .float16, softTarget: [0.1, 0.9]).validated()
    #expect(try p.validated() == p)
    var explorer = Explorer(problem: p)
    explorer.perform(.nudge(1))
    #expect(explorer.state.message?.isError == false)
    explorer.perform(.beginEdit(.learningRate))
    explorer.perform(.editConfirm)
    #expect(explorer.state.message?.isError == false, "\(explorer.state.message?.text.description ?? "")")
  }
}

/// Issue 12 defect 7: the precision key is a lens. It rounds the entered values for computing and display only.
@Suite("Precision is a lens")
struct PrecisionLensTests {
  @Test func cyclingEveryPrecisionKeepsTheEnteredValues() throws {
    var e = try explorer([1000, 1001, 1002], target: 2)
    type("l", into: &e)
    for _ in 0..<8 { e.handle(.key(.backspace)) }
    type("0.1", into: &e)
    e.handle(.key(.enter))
    let history = e.state.undoStack
    var seen: [Precision: [Double]] = [:]
    for _ in 0..<4 {
      type("p", into: &e)
      seen[e.state.problem.precision] = e.state.problem.logits
      // What is computed and shown is the entered values rounded into the precision, and only that.
      let p = e.state.problem.precision
      #expect(e.state.problem.logits == [1000, 1001, 1002].map(p.round))
      #expect(e.state.problem.learningRate == p.round(0.1))
      #expect(e.state.undoStack == history, "cycling changed the history")
    }
    #expect(e.state.problem.precision == .float64)
    #expect(e.state.problem.logits == [1000, 1001, 1002])
    #expect(e.state.problem.learningRate == 0.1)
    #expect(seen[.bfloat16] == [1000, 1000, 1000])
    #expect(seen[.float16] == [1000, 1001, 1002])
    // The float16 screen shows float16's values, not the entered ones.
    while e.state.problem.precision != .bfloat16 { type("p", into: &e) }
    #expect(screen(e).text.contains("bfloat16"))
    #expect(!screen(e).text.contains(" 1001 "), "an entered value shown in bfloat16")
  }

  @Test func anEditThroughTheLensKeepsTheOtherValues() throws {
    var e = try explorer([1000, 1001, 1002], target: 2)
    type("pp", into: &e)  // bfloat16: 1000, 1000, 1000
    #expect(e.state.problem.precision == .bfloat16)
    e.perform(.selectRow(0))
    type("e", into: &e)
    for _ in 0..<8 { e.handle(.key(.backspace)) }
    type("5", into: &e)
    e.handle(.key(.enter))
    #expect(e.state.problem.logits == [5, 1000, 1000])
    type("pp", into: &e)  // float16, then float64
    #expect(e.state.problem.precision == .float64)
    #expect(e.state.problem.logits == [5, 1001, 1002])
    // Undo takes back the edit made through the lens, exactly.
    type("u", into: &e)
    #expect(e.state.problem.logits == [1000, 1001, 1002])
    e.perform(.redo)
    #expect(e.state.problem.logits == [5, 1001, 1002])
  }

  /// A soft target rounded into bfloat16 sums to 1.0009765625; the lab's other columns still take it.
  @Test func aRoundedSoftTargetIsATargetInEveryColumn() throws {
    let p = try Problem(logits: [1, 2, 3], target: 0, precision: .bfloat16, softTarget: [0.2, 0.3, 0.5]).validated()
    let comparison = PrecisionComparison(p)
    for column in comparison.columns {
      if case .failure(let e) = column.result { Issue.record("\(column.precision) refused: \(e.message)") }
    }
    // A float64 user still gets the tight check.
    #expect(throws: InputError.self) {
      try Problem(logits: [1, 2, 3], softTarget: [0.2, 0.3, 0.5009765625]).validated()
    }
  }

  /// float16 cannot hold 1e5 (largest finite 65504): `p` skips it, says so in one line, and still comes back to
  /// float64 with the value as entered (it used to stay in bfloat16 for good, every press refused).
  @Test func aPrecisionThatCannotHoldALogitIsSkippedAndSaysSo() throws {
    var e = try explorer([1e5, 0], target: 0)
    type("pp", into: &e)  // float32, bfloat16 hold 1e5 (bfloat16 as 99840)
    #expect(e.state.problem.precision == .bfloat16)
    #expect(e.state.problem.logits == [99840, 0])
    let history = e.state.undoStack
    type("p", into: &e)
    #expect(e.state.problem.precision == .float64, "float16 cannot hold 1e5: p must move on, not stick")
    #expect(e.state.problem.logits == [100000, 0])
    let text = e.state.message?.text.description ?? ""
    #expect(text.hasPrefix("precision float64; float16 skipped: ") && text.contains("65504"), "\(text)")
    #expect(!text.contains("\n"))
    #expect(e.state.undoStack == history)
  }

  /// Every knob (τ, ε, g, η) and a soft target come back exactly after a full cycle; what the float16 screen shows
  /// is their float16 rounding (0.1 → 0.0999755859375, shown 0.09998), and float64 shows the entered 0.1 again.
  @Test func everyKnobSurvivesTheCycleAndFloat16ShowsItsRounding() throws {
    let entered = Problem(
      logits: [0.1, 1, 2], target: 0, temperature: 0.3, softTarget: [0.1, 0.3, 0.6], upstream: 0.7,
      learningRate: 0.1)
    var e = Explorer(problem: try entered.validated())
    #expect(!screen(e).text.contains("0.09998"))
    var seen: [Precision] = []
    for _ in 0..<4 {
      type("p", into: &e)
      let p = e.state.problem
      seen.append(p.precision)
      #expect(p.logits == entered.logits.map(p.precision.round))
      #expect(p.temperature == p.precision.round(0.3) && p.upstream == p.precision.round(0.7))
      #expect(p.learningRate == p.precision.round(0.1))
      #expect(p.softTarget == entered.softTarget?.map(p.precision.round))
      if p.precision == .float16 {
        #expect(p.logits[0] == 0.0999755859375)
        let text = screen(e).text
        #expect(text.contains("0.09998"), "the float16 logit 0.0999755859375 is not on screen:\n\(text)")
        // float16's 0.3 is 0.300048828125, its 0.7 is 0.7001953125.
        #expect(text.contains("τ=0.3000") && text.contains("η=0.09998") && text.contains("g=0.7002"), "\(text)")
      }
    }
    #expect(seen == [.float32, .bfloat16, .float16, .float64])
    var back = entered
    back.precision = .float64
    #expect(e.state.problem == back && e.state.lens == nil)
    let text = screen(e).text
    #expect(text.contains("τ=0.3") && text.contains("η=0.1 ") && text.contains("g=0.7"))
    #expect(!text.contains("0.09998"))
  }

  /// A gradient step taken in bfloat16 keeps the knobs as entered: back in float64, η is 0.1, not 0.10009765625.
  @Test func aStepThroughTheLensKeepsTheKnobs() throws {
    var e = try explorer([1, 2, 3], target: 0)
    type("pp", into: &e)
    #expect(e.state.problem.learningRate == 0.10009765625)
    let before = e.evaluation
    type("s", into: &e)
    let stepped = e.state.problem.logits
    #expect(stepped == before.stepped?.logits)
    type("pp", into: &e)
    #expect(e.state.problem.precision == .float64)
    #expect(e.state.problem.learningRate == 0.1, "the step lost the entered η")
    #expect(e.state.problem.logits == stepped)
    // Undo brings back the entered values before the step (the step's entry holds its precision too).
    type("u", into: &e)
    #expect(e.state.entered.logits == [1, 2, 3] && e.state.entered.learningRate == 0.1)
  }

}
