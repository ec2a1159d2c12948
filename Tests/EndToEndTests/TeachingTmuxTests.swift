import Foundation
import SoftmaxCore
import Testing

@Suite("Teaching screens, tour and export in a real terminal (tmux)", .serialized)
struct TeachingTmuxTests {
  @Test func screensPresetDescentAndExport() throws {
    let t = try TmuxSession(width: 120, height: 40)
    try t.launch("--logits 1,2,3 --target 0")
    try t.waitFor("0.6652")

    try t.type("2")
    // Wait for the last box (a frame can be captured while the terminal is still drawing it).
    try t.waitFor("quotient rule")
    var screen = try t.waitFor("agree")
    #expect(screen.contains("s_i δ_in − s_i s_n"))

    try t.type("3")
    screen = try t.waitFor("bfloat16")
    #expect(screen.contains("float16") && screen.contains("float32") && screen.contains("float64"))
    try t.type("P")  // first preset: overflow [1000, 1001, 1002]
    screen = try t.waitFor("overflow")
    #expect(screen.contains("NaN"))
    #expect(screen.contains("709.78"))

    try t.type("4")
    try t.waitFor("Run: step 0")
    try t.type(" ")
    screen = try t.waitFor("running")
    usleep(600_000)
    try t.type(" ")
    screen = try t.waitFor("paused")
    let step = screen.range(of: #"Run: step (\d+)"#, options: .regularExpression).map { String(screen[$0]) } ?? ""
    let steps = Int(step.split(separator: " ").last ?? "") ?? 0
    #expect(steps > 0, "descent took no steps: \(step)")

    // Export the worked example of the current problem (the overflow preset).
    try t.type("w")
    screen = try t.waitFor("wrote")
    let file = t.path("softmax-lab-example-1.md")
    let markdown = try String(contentsOfFile: file, encoding: .utf8)
    #expect(markdown.contains("1000") && markdown.contains("1002"))
    #expect(markdown.contains("overflow"))
    #expect(markdown.contains("$$"))
    // No temporary file is left behind.
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: t.dir.path).filter { $0.contains(".tmp-") }
    #expect(leftovers.isEmpty)
    // The same content as `eval --format markdown` for that problem.
    let bin = try softmaxLabBinary()
    let (status, out, _) = try run(
      bin, ["eval", "--logits", "1000,1001,1002", "--target", "2", "--format", "markdown"])
    #expect(status == 0)
    #expect(out == markdown)

    try t.type("q")
    #expect(try t.waitForFile("status") == "0")
    #expect(try t.waitForFile("stty.after") == t.read("stty.before"))
  }

  @Test func tourAdvancesAndGoesBack() throws {
    let t = try TmuxSession(width: 120, height: 40)
    try t.launch("tour")
    var screen = try t.waitFor("Tour 1/")
    #expect(screen.contains("What softmax does"))
    try t.type("N")
    screen = try t.waitFor("Tour 2/")
    #expect(screen.contains("The loss"))
    // Lesson 2 waits for its key: N only reminds, t (the lesson's key) lets it go on.
    try t.type("N")
    try t.waitFor("this step waits for you to press t")
    try t.type("t")
    try t.waitFor("✓ pressed t")
    try t.type("NN")
    try t.waitFor("Tour 4/")
    try t.type("B")
    try t.waitFor("Tour 3/")
    try t.type("q")
    #expect(try t.waitForFile("status") == "0")
    #expect(try t.waitForFile("stty.after") == t.read("stty.before"))
  }
}
