import Foundation
import SoftmaxCore
import SoftmaxText
import Testing

/// The status line (the last row of the screen).
private func statusLine(_ screen: String) -> String {
  String(screen.split(separator: "\n", omittingEmptySubsequences: false).dropLast().last ?? "")
}

@Suite("The line editor in a real terminal (tmux)", .serialized)
struct EditorTmuxTests {
  /// Where tmux shows the terminal's cursor, and whether it is visible.
  private func cursor(_ t: TmuxSession) throws -> (x: Int, y: Int, visible: Bool) {
    let s = try t.tmux(["display-message", "-p", "-t", t.name, "#{cursor_x} #{cursor_y} #{cursor_flag}"])
      .trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ")
    return (Int(s[0]) ?? -1, Int(s[1]) ?? -1, s[2] == "1")
  }

  @Test func typeOverThePreFillCtrlUAndTheWholeVector() throws {
    let t = try TmuxSession(width: 100, height: 30)
    try t.launch("--logits 1,2,3 --target 0")
    try t.waitFor { s in ["0.09003", "0.2447", "0.6652"].allSatisfy { s.contains($0) } }
    #expect(try !cursor(t).visible)

    // Enter on x_1: the pre-filled 2, with the terminal's cursor after it.
    try t.keys("Down", "Enter")
    var screen = try t.waitFor(" edit x_1 = 2 ")
    var c = try cursor(t)
    #expect(c.visible && c.y == 29 && c.x == " edit x_1 = 2".count, "\(c)")
    // Typing replaces the selected value: 7, not 27.
    try t.type("7")
    screen = try t.waitFor(" edit x_1 = 7 ")
    #expect(!statusLine(screen).contains("27"))
    // More digits, a move left, an insert in the middle, then Ctrl-U clears what is before the cursor.
    try t.type("89")
    try t.keys("Left")
    try t.type("5")
    screen = try t.waitFor(" edit x_1 = 7859 ")
    c = try cursor(t)
    #expect(c.x == " edit x_1 = 785".count, "\(c)")
    try t.keys("C-u")
    screen = try t.waitFor(" edit x_1 = 9 ")
    try t.keys("C-a")
    try t.type("4.")
    screen = try t.waitFor(" edit x_1 = 4.9 ")
    try t.keys("Enter")
    var ev = Evaluation(try Problem(logits: [1, 4.9, 3], target: 0).validated())
    screen = try t.waitFor("x_1 = 4.9")
    screen = try t.waitFor("= \(four(ev.loss))")
    #expect(screen.contains(four(ev.softmax[1])))
    #expect(try !cursor(t).visible)

    // `=`: the whole vector, pre-filled as entered; typed over, Ctrl-W drops the last number, Enter confirms.
    try t.type("=")
    screen = try t.waitFor(" edit logits = 1, 4.9, 3 ")
    try t.type("1000, 1001, 1002, 7")
    try t.waitFor(" edit logits = 1000, 1001, 1002, 7 ")
    try t.keys("C-w")
    try t.waitFor { statusLine($0).hasPrefix(" edit logits = 1000, 1001, 1002, ") && !statusLine($0).contains(" 7") }
    try t.keys("M-BSpace")  // Alt-Backspace: the same, once more
    try t.waitFor { statusLine($0).hasPrefix(" edit logits = 1000, 1001, ") && !statusLine($0).contains("1002") }
    try t.type("1002")
    try t.keys("Enter")
    ev = Evaluation(try Problem(logits: [1000, 1001, 1002], target: 0).validated())
    screen = try t.waitFor("logits = 3 classes")
    screen = try t.waitFor("= \(four(ev.loss))")
    #expect(screen.contains("1000") && screen.contains("1002"))
    #expect(screen.contains(four(ev.softmax[2])))

    // A bad vector: one line naming it, and nothing changes.
    try t.type("=")
    try t.waitFor(" edit logits = 1000, 1001, 1002 ")
    try t.type("1, zz, 3")
    try t.keys("Enter")
    screen = try t.waitFor("logit 1: \"zz\" is not a number")
    try t.keys("Escape")
    screen = try t.waitFor("edit cancelled")
    #expect(screen.contains("= \(four(ev.loss))"))

    // Bracketed paste: tmux wraps the buffer in ESC[200~ … ESC[201~ because the explorer asked for it.
    try t.type("=")
    try t.waitFor(" edit logits = 1000, 1001, 1002 ")
    try t.tmux(["set-buffer", "-b", "vec", "5 6\n7"])
    try t.tmux(["paste-buffer", "-p", "-d", "-b", "vec", "-t", t.name])
    try t.waitFor(" edit logits = 5 6 7 ")
    try t.keys("Enter")
    ev = Evaluation(try Problem(logits: [5, 6, 7], target: 0).validated())
    screen = try t.waitFor("= \(four(ev.loss))")

    // One undo step per vector.
    try t.type("u")
    screen = try t.waitFor("undone")
    ev = Evaluation(try Problem(logits: [1000, 1001, 1002], target: 0).validated())
    #expect(screen.contains("= \(four(ev.loss))"))

    try t.type("q")
    #expect(try t.waitForFile("status") == "0")
    #expect(try t.waitForFile("stty.after") == t.read("stty.before"))
  }

  @Test func aSeededRandomVector() throws {
    let t = try TmuxSession(width: 100, height: 30)
    try t.launch("--logits 1,2,3 --target 0")
    try t.waitFor("0.6652")
    try t.type("#")
    try t.waitFor(" edit classes of a random vector = 3 ")
    try t.type("6")
    try t.keys("Enter")
    let screen = try t.waitFor("6 random logits: --random 6 --seed 1")
    #expect(screen.contains("C=6"))
    let ev = Evaluation(try Problem(logits: SeededRandom.logits(count: 6, seed: 1, scale: 1), target: 0).validated())
    #expect(screen.contains(four(ev.softmax[0])))
    try t.type("q")
    #expect(try t.waitForFile("status") == "0")
  }
}
