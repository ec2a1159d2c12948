import Foundation
import SoftmaxCore
import SoftmaxText
import Testing

/// 4 significant digits, as the explorer shows numbers by default.
func four(_ x: Double) -> String { DecimalFormat.significant(x, digits: 4) }

@Suite("The explorer in a real terminal (tmux)", .serialized)
struct ExplorerTmuxTests {
  @Test func editTargetStepUndoPrecisionQuit() throws {
    let t = try TmuxSession(width: 120, height: 40)
    try t.launch("--logits 1,2,3 --target 0")
    // Wait for the whole first frame (a capture can land while ncurses is still drawing it).
    let first = ["0.09003", "0.2447", "0.6652", "2.408"]
    var screen = try t.waitFor { s in first.allSatisfy { s.contains($0) } }
    for v in first { #expect(screen.contains(v), "missing \(v)") }
    let (alt, cursor) = try t.paneFlags()
    #expect(alt && !cursor)

    // Edit x_0 to 5: the screen shows the core's softmax and loss for [5, 2, 3].
    try t.type("e")
    for _ in 0..<4 { try t.keys("BSpace") }
    try t.type("5")
    try t.keys("Enter")
    var p = try Problem(logits: [5, 2, 3], target: 0).validated()
    var ev = Evaluation(p)
    screen = try t.waitFor("= \(four(ev.loss))")
    #expect(screen.contains(four(ev.softmax[0])))
    #expect(screen.contains(four(ev.softmax[1])))

    // Make row 1 the target.
    try t.type("jt")
    p.target = 1
    ev = Evaluation(p)
    screen = try t.waitFor("−log \(four(ev.softmax[1])) = \(four(ev.loss))")
    #expect(screen.contains("T=1"))

    // One step: the loss after the step is the core's updated loss.
    let afterStep = ev.updatedLoss
    try t.type("s")
    screen = try t.waitFor("stepped")
    #expect(screen.contains("= \(four(afterStep))"))

    // Undo brings the loss back.
    try t.type("u")
    screen = try t.waitFor("undone")
    #expect(screen.contains("−log \(four(ev.softmax[1])) = \(four(ev.loss))"))

    // Precision cycles to float32.
    try t.type("p")
    screen = try t.waitFor("float32")

    try t.type("q")
    #expect(try t.waitForFile("status") == "0")
    #expect(try t.waitForFile("stty.after") == t.read("stty.before"))
    let flags = try t.paneFlags()
    #expect(!flags.alternate)
  }

  @Test(arguments: [("TERM", 15), ("INT", 2), ("HUP", 1)])
  func terminalIsRestoredAfterSignal(_ signal: (String, Int32)) throws {
    let t = try TmuxSession(width: 100, height: 30)
    try t.launch("--logits 1,2,3")
    try t.waitFor("0.6652")
    let pid = try t.programPID()
    kill(pid, signal.1)
    let status = try t.waitForFile("status")
    #expect(status == String(128 + signal.1))
    // The shell writes the status first and `stty -g` after it: wait for that file too.
    #expect(try t.waitForFile("stty.after") == t.read("stty.before"), "stty changed after SIG\(signal.0)")
    let flags = try t.paneFlags()
    #expect(!flags.alternate, "alternate screen still on after SIG\(signal.0)")
    #expect(flags.cursorVisible, "cursor hidden after SIG\(signal.0)")
  }

  @Test func ctrlCQuitsWithStatusZero() throws {
    let t = try TmuxSession(width: 100, height: 30)
    try t.launch("--logits 1,2,3")
    try t.waitFor("0.6652")
    try t.keys("C-c")
    #expect(try t.waitForFile("status") == "0")
    #expect(try t.waitForFile("stty.after") == t.read("stty.before"))
  }

  @Test func suspendAndResume() throws {
    let t = try TmuxSession(width: 100, height: 30)
    try t.type("cd \(t.dir.path); stty -g > stty.before; \(t.binary) --logits 1,2,3")
    try t.keys("Enter")
    try t.waitFor("0.6652")
    try t.keys("C-z")
    try t.waitFor("Stopped")
    try t.type("stty -g > stty.suspended; fg")
    try t.keys("Enter")
    try t.waitFor("0.6652")
    #expect(t.read("stty.suspended") == t.read("stty.before"))
    try t.type("q")
    try t.waitFor(timeout: 10) { !$0.contains("0.6652") }
    try t.type("stty -g > stty.after")
    try t.keys("Enter")
    _ = try t.waitForFile("stty.after")
    #expect(try t.waitForFile("stty.after") == t.read("stty.before"))
  }

  @Test func resizeStormAndTinyStart() throws {
    let t = try TmuxSession(width: 10, height: 4)
    try t.launch("--logits 1,2,3")
    try t.waitFor("enlarge")
    try t.tmux(["resize-window", "-t", t.name, "-x", "120", "-y", "40"])
    try t.waitFor("0.6652")
    for k in 0..<30 {
      let w = 30 + (k * 37) % 170
      let h = 8 + (k * 13) % 50
      try t.tmux(["resize-window", "-t", t.name, "-x", String(w), "-y", String(h)])
      try t.type(k % 2 == 0 ? "j" : "k")
    }
    try t.tmux(["resize-window", "-t", t.name, "-x", "120", "-y", "40"])
    // The last frames of the storm may still be on their way: wait for the settled 120×40 screen.
    let values = ["0.09003", "0.2447", "0.6652"]
    let screen = try t.waitFor { s in s.contains("Jacobian") && values.allSatisfy { s.contains($0) } }
    for v in values { #expect(screen.contains(v)) }
    try t.type("q")
    #expect(try t.waitForFile("status") == "0")
  }

  @Test func notATerminal() throws {
    let bin = try softmaxLabBinary()
    let (status, out, err) = try run(bin, ["--logits", "1,2,3"])
    #expect(status != 0)
    #expect(out.isEmpty)
    #expect(err.contains("terminal") && err.contains("eval"))
    #expect(err.split(separator: "\n").count == 1)
  }
}
