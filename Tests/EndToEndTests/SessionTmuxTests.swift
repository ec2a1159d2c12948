import Foundation
import SoftmaxCore
import SoftmaxLesson
import SoftmaxTUI
import Testing

/// Saving, quitting and resuming in a real terminal: the state comes back exactly.
@Suite("Sessions in a real terminal (tmux)", .serialized)
struct SessionTmuxTests {
  static func session(at path: String) throws -> Session {
    let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    return try SessionJSON.decode(bytes)
  }

  /// Runs the program again in the same pane (the files of the previous run removed first).
  static func relaunch(_ t: TmuxSession, _ arguments: String) throws {
    for name in ["status", "stty.before", "stty.after"] { try? FileManager.default.removeItem(atPath: t.path(name)) }
    try t.launch(arguments)
  }

  @Test func saveQuitAndResumeRestoreTheStateExactly() throws {
    let t = try TmuxSession(width: 120, height: 40)
    try t.launch("--logits 1000,1001,1002 --target 2")
    try t.waitFor("T=2")
    // x_1 ← 1001.5, bfloat16 (p twice), the Derivation screen, then W.
    try t.type("ke")
    for _ in 0..<6 { try t.keys("BSpace") }
    try t.type("1001.5")
    try t.keys("Enter")
    try t.waitFor("x_1 = 1001.5")
    try t.type("p")
    try t.waitFor("precision float32")
    try t.type("p")
    try t.waitFor("precision bfloat16")
    try t.type("2W")
    try t.waitFor("saved softmax-lab-session-1.json")
    try t.type("q")
    #expect(try t.waitForFile("status") == "0")

    let saved = try Self.session(at: t.path("softmax-lab-session-1.json"))
    let last = try Self.session(at: t.path(".local/state/softmax-lab/last.json"))
    #expect(saved == last)
    #expect(saved.logits == [1000, 1001.5, 1002])
    #expect(saved.precision == .bfloat16)
    #expect(saved.screen == .derivation)
    #expect(saved.selection == 1)

    // --resume starts from last.json: the same session, shown in bfloat16 on the Derivation screen.
    try Self.relaunch(t, "--resume")
    // What the explorer draws (not a line the shell shows before it starts).
    let screen = try t.waitFor { $0.contains("resumed last.json") && $0.contains("Derivation of") }
    #expect(screen.contains("bfloat16"))
    #expect(screen.contains("Derivation"))
    try t.type("q")
    #expect(try t.waitForFile("status") == "0")
    #expect(try Self.session(at: t.path(".local/state/softmax-lab/last.json")) == saved)

    // --load of the W file, then p twice more back to float64: the entered 1001.5 is there again.
    try Self.relaunch(t, "--load softmax-lab-session-1.json")
    try t.waitFor("bfloat16")
    try t.type("1pp")
    try t.waitFor("precision float64")
    try t.type("f")
    try t.waitFor("1001.5")
    try t.type("q")
    #expect(try t.waitForFile("status") == "0")
    var back = saved
    (back.precision, back.screen, back.fullDigits) = (.float64, .explore, true)
    #expect(try Self.session(at: t.path(".local/state/softmax-lab/last.json")) == back)
  }

  @Test func aCorruptLastSessionIsKeptAndTheExplorerStartsFresh() throws {
    let t = try TmuxSession(width: 160, height: 40)
    let dir = t.path(".local/state/softmax-lab")
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    try "{\"format\": \"softmax-lab-session\", \"version\": 1}".write(
      toFile: dir + "/last.json", atomically: true, encoding: .utf8)
    try t.launch("--resume")
    // The status line's form (the line on standard error, shown before the explorer starts, has the full paths).
    let screen = try t.waitFor("last.json: missing key 'logits'; kept as last.json.corrupt-1, starting fresh")
    #expect(screen.contains("0.6652"))
    try t.type("q")
    #expect(try t.waitForFile("status") == "0")
    #expect(
      try String(contentsOfFile: dir + "/last.json.corrupt-1", encoding: .utf8)
        == "{\"format\": \"softmax-lab-session\", \"version\": 1}")
    #expect(try Self.session(at: dir + "/last.json").logits == [1, 2, 3])
  }
}
