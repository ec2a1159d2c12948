import Foundation
import SoftmaxCore
import SoftmaxText
import Testing

@testable import SoftmaxTUI

/// The explorer on `[1, 2, 3]` with the edit line of logit 1 open (pre-filled `2`, selected).
private func editingLogit(_ logits: [Double] = [1, 2, 3]) throws -> Explorer {
  var e = try explorer(logits, target: 0)
  e.handle(.key(.down))
  e.handle(.key(.enter))
  return e
}

/// The explorer with an unselected edit line holding `text` and the cursor `fromEnd` characters before its end.
private func editing(_ text: String, fromEnd: Int = 0, field: EditField = .logit(1)) throws -> Explorer {
  var e = try explorer([1, 2, 3, 4, 5, 6], target: 0)
  e.perform(.beginEdit(field))
  e.handle(.key(.backspace))  // a selected pre-fill goes whole
  for ch in text { e.handle(.key(.character(ch))) }
  for _ in 0..<fromEnd { e.handle(.key(.left)) }
  return e
}

private func key(_ k: Key, _ e: inout Explorer) { e.handle(.key(k)) }

/// The edit line's text and the cursor as a column.
private func line(_ e: Explorer) -> (String, Int)? {
  e.state.edit.map { ($0.text.description, $0.cursorColumn) }
}

/// Renders as the terminal would after the last key (``screen`` sends a resize first, which clears the message).
private func render(_ e: Explorer, _ w: Int = 80, _ h: Int = 24) -> Buffer {
  var buf = Buffer(width: w, height: h)
  e.render(into: &buf, width: w, height: h, context: RenderContext())
  return buf
}

/// The status line as text.
/// The status line as text (a sign drawn as `−` read as `-`).
private func status(_ e: Explorer, _ w: Int = 80, _ h: Int = 24) -> String {
  render(e, w, h).line(h - 1).replacing("−", with: "-")
}

@Suite("Line editor: readline's keys on every edit line")
struct EditLineTests {
  @Test func thePreFilledValueIsSelectedAndTheFirstKeyReplacesIt() throws {
    var e = try editingLogit()
    #expect(e.state.edit?.selected == true)
    #expect(line(e)! == ("2", 1))
    // Drawn selected, with the cursor after it, on the status line and in the table's cell.
    let buf = screen(e, 80, 24)
    let y = 23
    #expect(buf.line(y).hasPrefix(" edit x_1 = 2 "))
    let x = " edit x_1 = ".count
    #expect(buf[x, y].scalar == "2" && buf[x, y].style == RenderContext().editSelection)
    #expect(buf[x + 1, y].style == RenderContext().editCursor)
    #expect(buf.cursorX == x + 1 && buf.cursorY == y)
    #expect(buf.line(y).contains("typing replaces it"))
    key(.character("5"), &e)
    #expect(line(e)! == ("5", 1))
    #expect(e.state.edit?.selected == false)
    key(.enter, &e)
    #expect(e.state.problem.logits == [1, 5, 3])
    #expect(e.state.undoStack.count == 1)
  }

  @Test func anArrowKeyStartsEditingThePreFill() throws {
    var e = try editingLogit([1, 2.5, 3])
    key(.left, &e)
    #expect(line(e)! == ("2.5", 2) && e.state.edit?.selected == false)
    key(.character("7"), &e)
    #expect(line(e)! == ("2.75", 3))
    var f = try editingLogit([1, 2.5, 3])
    key(.home, &f)
    #expect(line(f)! == ("2.5", 0))
    key(.character("-"), &f)
    #expect(line(f)! == ("-2.5", 1))
    key(.enter, &f)
    #expect(f.state.problem.logits == [1, -2.5, 3])
    var g = try editingLogit([1, 2.5, 3])
    key(.end, &g)
    #expect(line(g)! == ("2.5", 3) && g.state.edit?.selected == false)
    key(.character("1"), &g)
    #expect(line(g)! == ("2.51", 4))
  }

  @Test func backspaceOrDeleteOnTheSelectedPreFillDeletesItAll() throws {
    for k in [Key.backspace, .delete, .control("d")] {
      var e = try editingLogit([1, 25, 3])
      key(k, &e)
      #expect(line(e)! == ("", 0), "\(k)")
      key(.character("4"), &e)
      #expect(line(e)! == ("4", 1))
    }
  }

  @Test func cursorMovesByCharacter() throws {
    var e = try editing("1.5e-3")
    key(.left, &e)
    #expect(line(e)! == ("1.5e-3", 5))
    key(.control("b"), &e)
    #expect(line(e)! == ("1.5e-3", 4))
    key(.right, &e)
    #expect(line(e)! == ("1.5e-3", 5))
    key(.control("f"), &e)
    key(.control("f"), &e)  // stops at the end
    #expect(line(e)! == ("1.5e-3", 6))
    key(.control("a"), &e)
    #expect(line(e)! == ("1.5e-3", 0))
    key(.left, &e)  // stops at the start
    #expect(line(e)! == ("1.5e-3", 0))
    key(.control("e"), &e)
    #expect(line(e)! == ("1.5e-3", 6))
    key(.home, &e)
    key(.end, &e)
    #expect(line(e)! == ("1.5e-3", 6))
  }

  @Test func insertInTheMiddle() throws {
    var e = try editing("12", fromEnd: 1)
    key(.character("5"), &e)
    #expect(line(e)! == ("152", 2))
    key(.character("."), &e)
    #expect(line(e)! == ("15.2", 3))
    key(.enter, &e)
    #expect(e.state.problem.logits[1] == 15.2)
  }

  @Test func deletingCharacters() throws {
    var e = try editing("12345", fromEnd: 2)
    key(.backspace, &e)
    #expect(line(e)! == ("1245", 2))
    key(.delete, &e)
    #expect(line(e)! == ("125", 2))
    key(.control("d"), &e)
    #expect(line(e)! == ("12", 2))
    key(.control("d"), &e)  // nothing under the cursor at the end
    #expect(line(e)! == ("12", 2))
    key(.home, &e)
    key(.backspace, &e)  // nothing before the cursor at the start
    #expect(line(e)! == ("12", 0))
  }

  @Test func killToTheStartAndToTheEnd() throws {
    var e = try editing("1234", fromEnd: 2)
    key(.control("u"), &e)
    #expect(line(e)! == ("34", 0))
    var f = try editing("1234", fromEnd: 2)
    key(.control("k"), &f)
    #expect(line(f)! == ("12", 2))
    // Ctrl-U on the selected pre-fill (cursor at its end) clears it.
    var g = try editingLogit([1, 25, 3])
    key(.control("u"), &g)
    #expect(line(g)! == ("", 0))
  }

  @Test func deleteTheWordBeforeTheCursor() throws {
    for k in [Key.control("w"), .altBackspace] {
      var e = try editing("1000, 1001, 1002", field: .vector)
      key(k, &e)
      #expect(line(e)! == ("1000, 1001, ", 12), "\(k)")
      key(k, &e)
      #expect(line(e)! == ("1000, ", 6))
      key(k, &e)
      #expect(line(e)! == ("", 0))
      key(k, &e)
      #expect(line(e)! == ("", 0))
    }
    // From the middle of a word: the part before the cursor goes.
    var f = try editing("10 2.5e-3", fromEnd: 2, field: .vector)
    key(.control("w"), &f)
    #expect(line(f)! == ("10 -3", 3))
  }

  @Test func escCancelsAndEnterConfirms() throws {
    var e = try editingLogit()
    key(.character("9"), &e)
    key(.escape, &e)
    #expect(e.state.edit == nil && e.state.problem.logits == [1, 2, 3] && e.state.undoStack.isEmpty)
    #expect(e.state.message?.text == "edit cancelled")
    for k in ["l", "T", "E", "g"] {
      var f = try explorer([1, 2, 3])
      type(k, into: &f)
      #expect(f.state.edit?.selected == true, "\(k)")
      type("0.25", into: &f)
      key(.enter, &f)
      #expect(f.state.edit == nil, "\(k)")
      let p = f.state.problem
      #expect([p.learningRate, p.temperature, p.labelSmoothing, p.upstream].contains(0.25), "\(k)")
    }
  }

  @Test func onlyWhatANumberHoldsIsTyped() throws {
    var e = try editing("1")
    for ch in "é😀,# " { key(.character(ch), &e) }
    #expect(line(e)! == ("1", 1))
    // The line is ASCII: − is typed as -, ∞ as inf.
    var f = try editing("−∞")
    #expect(line(f)! == ("-inf", 4))
    key(.enter, &f)
    #expect(f.state.problem.logits[1] == -.infinity)
    // A number holds at most 40 characters.
    var g = try editing(String(repeating: "1", count: 40))
    key(.character("2"), &g)
    #expect(line(g)! == (String(repeating: "1", count: 40), 40))
    #expect(g.state.message == StatusMessage("the line holds at most 40 characters", isError: true))
    #expect(status(g).contains("the line holds at most 40 characters"))
  }

  @Test func pasteInsertsWhatTheFieldTakes() throws {
    var e = try editingLogit()
    e.handle(.paste("12\n34,5"))
    #expect(line(e)! == ("12345", 5))  // replaced the selected 2; newline and comma dropped
    var f = try editing("19", fromEnd: 1)
    f.handle(.paste("0.5"))
    #expect(line(f)! == ("10.59", 4))
    var v = try editing("", field: .vector)
    v.handle(.paste("1\n2\t-inf\r\n3"))
    #expect(line(v)! == ("1 2 -inf  3", 11))
    key(.enter, &v)
    #expect(v.state.problem.logits == [1, 2, -.infinity, 3])
    var long = try editing("")
    long.handle(.paste(String(repeating: "7", count: 50)))
    #expect(line(long)! == (String(repeating: "7", count: 40), 40))
    #expect(long.state.message?.isError == true)
    #expect(long.state.message?.text.description.contains("at most 40 characters") == true)
    // Outside an edit line a paste does nothing.
    var none = try explorer([1, 2, 3])
    none.handle(.paste("5"))
    #expect(none.state.edit == nil && none.state.problem.logits == [1, 2, 3])
  }

  @Test func aLongLineScrollsWithTheCursor() throws {
    let text = (0..<20).map { "\($0 * 100)" }.joined(separator: ", ")  // 108 characters
    var e = try editing(text, field: .vector)
    let buf = screen(e, 80, 24)
    let row = buf.line(23)
    let x = " edit logits = ".count
    let field = 80 - x - "   Enter confirms · Esc cancels".count
    // The end is shown, the start is cut with an ellipsis; the cursor is after the last character.
    #expect(row.hasPrefix(" edit logits = …"))
    let window = e.state.edit!.window(width: field)
    #expect(window.first > 0 && window.first + window.cursor == text.count)
    let shown = String(Array(row)[(x + 1)..<(x + window.cursor)])
    #expect(text.hasSuffix(shown), "\(shown)")
    #expect(buf.cursorX == x + window.cursor)
    #expect(buf[x + window.cursor, 23].style == RenderContext().editCursor)
    // Home: the start is shown, the end cut.
    key(.home, &e)
    let home = screen(e, 80, 24)
    let homeRow = Array(home.line(23))
    #expect(String(homeRow[x..<(x + field - 1)]) == String(text.prefix(field - 1)))
    #expect(homeRow[x + field - 1] == "…")
    #expect(home.cursorX == x && home[x, 23].scalar == "0" && home[x, 23].style == RenderContext().editCursor)
    // The window stays put while the cursor moves inside it.
    let w0 = e.state.edit!.window(width: field)
    for _ in 0..<5 { key(.right, &e) }
    let w1 = e.state.edit!.window(width: field)
    #expect(w0.first == 0 && w1.first == 0 && w1.cursor == 5)
    for _ in 0..<12 { key(.right, &e) }
    let w2 = e.state.edit!.window(width: field)
    #expect(w2.first == 0 && w2.cursor == 17)
    for _ in 0..<17 { key(.right, &e) }
    let w3 = e.state.edit!.window(width: field)
    #expect(w3.first == 17 && w3.cursor == 17)
    // The window's arithmetic at a small width: half a width at a time.
    var small = EditLine(field: .vector, text: "0123456789012345678901234567890")
    #expect(small.window(width: 10) == (25, 6))
    small.cursor = 9
    #expect(small.window(width: 10) == (0, 9))
    small.cursor = 10
    #expect(small.window(width: 10) == (5, 5))
  }

  @Test func theCellInTheTableShowsTheLineWithItsCursor() throws {
    var e = try editing("12", fromEnd: 1)
    let buf = screen(e, 120, 40)
    guard let at = find("12", in: buf), at.y < 39 else {
      Issue.record("the edited value is not in the table")
      return
    }
    #expect(buf[at.x, at.y].style == RenderContext().editing)
    #expect(buf[at.x + 1, at.y].style == RenderContext().editCursor)
    key(.escape, &e)
    #expect(screen(e, 120, 40).cursorX == -1)
  }

  @Test func editingAllocatesNothingInTheLine() throws {
    // The text is inline: after any key the line's storage is the value itself (a size check, not a count).
    #expect(MemoryLayout<EditLine>.size < 1100)
  }
}

@Suite("Whole-vector entry (=) and a random vector (#)")
struct VectorEntryTests {
  @Test func theLineIsPreFilledWithTheVectorAsEntered() throws {
    var e = try explorer([1000, -.infinity, 0.5])
    type("=", into: &e)
    #expect(e.state.edit?.field == .vector)
    #expect(line(e)! == ("1000, -inf, 0.5", 15))
    #expect(e.state.edit?.selected == true)
    #expect(status(e).hasPrefix(" edit logits = 1000, -inf, 0.5"))
    // In float16 the values shown are the entered ones (the lens), not their rounding.
    var h = try explorer([0.1, 2])
    type("pppp", into: &h)
    type("p", into: &h)
    type("=", into: &h)
    #expect(line(h)?.0 == "0.1, 2")
  }

  @Test func aTypedVectorIsOneUndoStep() throws {
    var e = try explorer([1, 2, 3], target: 2)
    type("=", into: &e)
    type("1000, 1001, 1002", into: &e)
    e.handle(.key(.enter))
    #expect(e.state.edit == nil)
    #expect(e.state.problem.logits == [1000, 1001, 1002] && e.state.problem.target == 2)
    #expect(e.evaluation.problem.logits == [1000, 1001, 1002])
    #expect(e.state.message?.text == "logits = 3 classes")
    #expect(e.state.undoStack.count == 1)
    type("=", into: &e)
    type("0 -inf 2 5 1", into: &e)  // spaces, a mask, more classes
    e.handle(.key(.enter))
    #expect(e.state.problem.logits == [0, -.infinity, 2, 5, 1])
    #expect(e.state.undoStack.count == 2)
    type("u", into: &e)
    #expect(e.state.problem.logits == [1000, 1001, 1002])
    type("u", into: &e)
    #expect(e.state.problem.logits == [1, 2, 3])
    e.handle(.key(.control("r")))
    #expect(e.state.problem.logits == [1000, 1001, 1002])
  }

  @Test func fewerClassesMoveTheTarget() throws {
    var e = try explorer([1, 2, 3], target: 2)
    type("=", into: &e)
    type("5, 6", into: &e)
    e.handle(.key(.enter))
    #expect(e.state.problem.logits == [5, 6] && e.state.problem.target == 1)
    #expect(e.state.message?.text == "logits = 2 classes; the target moves to class 1")
    type("u", into: &e)
    #expect(e.state.problem.logits == [1, 2, 3] && e.state.problem.target == 2)
  }

  @Test func aBadVectorNamesWhatIsWrongAndChangesNothing() throws {
    let cases: [(String, Precision, String)] = [
      ("1, abc, 3", .float64, "logit 1: \"abc\" is not a number"),
      ("1,,3", .float64, "logit 1"),
      ("1, nan", .float64, "NaN"),
      ("1, 70000", .float16, "65504"),
      ("-inf, -inf", .float64, "masked"),
      ("", .float64, "no numbers given"),
    ]
    for (typed, precision, needle) in cases {
      var e = try explorer([1, 2, 3], target: 0, precision: precision)
      let before = e.state
      type("=", into: &e)
      e.handle(.key(.backspace))
      type(typed, into: &e)
      e.handle(.key(.enter))
      #expect(e.state.problem == before.problem, "\(typed)")
      #expect(e.state.undoStack.isEmpty, "\(typed)")
      #expect(e.state.message?.isError == true, "\(typed)")
      let m = e.state.message?.text.description ?? ""
      #expect(m.contains(needle), "\(typed): \(m)")
      #expect(!m.contains("\n"))
      // The line stays open to fix the text, and the error is on screen.
      #expect(line(e)?.0 == typed)
      #expect(status(e, 120, 40).contains(String(m.prefix(30))), "\(typed)")
      e.handle(.key(.escape))
      #expect(e.state.problem == before.problem && e.state.edit == nil)
    }
  }

  @Test func theVectorLineHoldsAStatedNumberOfCharacters() throws {
    var e = try explorer([1, 2, 3])
    type("=", into: &e)
    e.handle(.paste(String(repeating: "1, ", count: 400)))
    #expect(e.state.edit?.text.utf8Count == TextLine.capacity)
    let m = e.state.message?.text.description ?? ""
    #expect(m.contains("at most 1024 characters") && m.contains("--logits-file"), "\(m)")
    // A vector too long for the line opens it empty, saying why.
    var big = try explorer(SeededRandom.logits(count: 300, seed: 1, scale: 1))
    type("=", into: &big)
    #expect(line(big)! == ("", 0))
    #expect(big.state.message?.text.description.contains("the 300 logits do not fit the line") == true)
  }

  @Test func aSeededRandomVector() throws {
    var e = try explorer([1, 2, 3], target: 2)
    type("#", into: &e)
    #expect(e.state.edit?.field == .classCount && line(e)! == ("3", 1) && e.state.edit?.selected == true)
    type("10", into: &e)
    e.handle(.key(.enter))
    #expect(e.state.problem.logits == SeededRandom.logits(count: 10, seed: 1, scale: 1))
    #expect(e.state.problem.target == 2)
    #expect(e.state.message?.text == "10 random logits: --random 10 --seed 1")
    #expect(e.state.undoStack.count == 1)
    type("#", into: &e)
    type("5", into: &e)
    e.handle(.key(.enter))
    #expect(e.state.problem.logits == SeededRandom.logits(count: 5, seed: 2, scale: 1))
    type("u", into: &e)
    #expect(e.state.problem.logits == SeededRandom.logits(count: 10, seed: 1, scale: 1))
    type("u", into: &e)
    #expect(e.state.problem.logits == [1, 2, 3])
    // Only digits are typed; 0 and too many are refused with the range.
    for bad in ["0", "2000000"] {
      var f = try explorer([1, 2, 3])
      type("#", into: &f)
      type("x-" + bad, into: &f)
      #expect(line(f)?.0 == bad)
      f.handle(.key(.enter))
      #expect(f.state.problem.logits == [1, 2, 3] && f.state.message?.isError == true)
      #expect(f.state.message?.text.description.contains("must be in 1…1048576") == true)
    }
  }

  @Test func aSoftTargetKeepsTheNumberOfClasses() throws {
    var p = Problem(logits: [1, 2, 3], target: 0)
    p.softTarget = [0.2, 0.3, 0.5]
    var e = Explorer(problem: try p.validated())
    type("=", into: &e)
    type("1, 2", into: &e)
    e.handle(.key(.enter))
    #expect(e.state.problem.logits == [1, 2, 3] && e.state.message?.isError == true)
    #expect(e.state.message?.text.description.contains("soft target fixes the number of classes at 3") == true)
  }
}

@Suite("One key table: help overlay and README")
struct KeyTableTests {
  /// Every entry of a page of the help overlay, by its keys column.
  private func helpPage(_ e: Explorer, _ w: Int, _ h: Int) -> (title: String, keys: [String]) {
    let buf = screen(e, w, h)
    let text = (0..<h).map { buf.line($0).replacing("−", with: "-") }
    let title = text.first { $0.contains("Keys") } ?? ""
    let keys = KeyMap.help.map(\.keys).filter { k in
      text.contains {
        $0.contains(" " + k + "  ") && $0.contains(KeyMap.help.first { $0.keys == k }!.action.replacing("−", with: "-"))
      }
    }
    return (title, keys)
  }

  @Test func theHelpOverlayPagesAt80x24AndListsEveryKey() throws {
    var e = try explorer([1, 2, 3])
    e.handle(.resize(width: 80, height: 24))
    type("?", into: &e)
    let first = helpPage(e, 80, 24)
    #expect(first.title.contains("Keys 1/2 — PgDn more, any other key closes"))
    e.handle(.key(.pageDown))
    #expect(e.state.showHelp && e.state.helpPage == 1)
    let second = helpPage(e, 80, 24)
    #expect(second.title.contains("Keys 2/2 — PgUp back, any other key closes"))
    #expect(Set(first.keys).isDisjoint(with: second.keys))
    #expect(first.keys + second.keys == KeyMap.help.map(\.keys), "\(first.keys + second.keys)")
    e.handle(.key(.pageDown))  // the last page stays
    #expect(e.state.helpPage == 1)
    e.handle(.key(.pageUp))
    #expect(e.state.helpPage == 0)
    e.handle(.key(.character("x")))  // not a page key: closes, and does nothing else
    #expect(!e.state.showHelp && e.state.problem.classes == 3)
    type("?", into: &e)
    #expect(e.state.helpPage == 0)
    // In a taller terminal it is one page.
    var tall = try explorer([1, 2, 3])
    tall.handle(.resize(width: 120, height: 40))
    type("?", into: &tall)
    let one = helpPage(tall, 120, 40)
    #expect(one.title.contains("Keys — any key closes"))
    #expect(one.keys == KeyMap.help.map(\.keys))
  }

  @Test func theReadmeKeyTableIsKeyMapHelp() throws {
    let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("README.md")
    let text = try String(contentsOf: readme, encoding: .utf8)
    let begin = "<!-- key table: generated from KeyMap.help (EditLineTests) -->\n"
    let end = "\n<!-- end of key table -->"
    guard let a = text.range(of: begin), let b = text.range(of: end, range: a.upperBound..<text.endIndex) else {
      Issue.record(
        "README.md has no key table between the markers; put this there:\n\(begin)\(KeyMap.markdownTable)\(end)")
      return
    }
    let table = String(text[a.upperBound..<b.lowerBound])
    #expect(
      table == KeyMap.markdownTable,
      "README.md's key table differs from KeyMap.help; it should be:\n\(KeyMap.markdownTable)")
  }

  @Test func everyEntryFitsThe80ColumnOverlay() {
    // The overlay's box is 78 wide: a frame and margin of 4, the keys column and two spaces, the action.
    let keys = KeyMap.help.map { $0.keys.unicodeScalars.count }.max() ?? 0
    for e in KeyMap.help {
      #expect(keys + 2 + e.action.unicodeScalars.count + 4 <= 78, "\(e.keys): \(e.action)")
    }
  }

  @Test func theMarkdownTableQuotesEachAlternative() {
    let lines = KeyMap.markdownTable.split(separator: "\n")
    #expect(lines.count == KeyMap.help.count + 2)
    #expect(lines[2] == "| `q`, `Ctrl-C` | quit |")
    #expect(lines.contains("| `=` | type the whole vector (1, 2, 3; -inf masks) |"))
    #expect(lines.contains("| `Ctrl-W`, `Alt-Backspace` | edit line: delete the word before the cursor |"))
  }
}
